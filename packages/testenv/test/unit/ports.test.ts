import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/ports.js';

describe('freePort', () => {
  it('never hands out the same port twice, even when the OS offers a released one again', async () => {
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(200);
    expect(ports.every((p) => p > 0 && p < 65_536)).toBe(true);
  });
});
