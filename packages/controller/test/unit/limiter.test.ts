import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/queue/limiter.js';

describe('Limiter', () => {
  it('never runs more than its limit at once, and runs every call', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat(3), { maxLength: 30 }),
        async (limit, delays) => {
          const limiter = new Limiter(limit);
          let running = 0;
          let peak = 0;
          const results = await Promise.all(
            delays.map((delay, i) =>
              limiter.run(async () => {
                running++;
                peak = Math.max(peak, running);
                await new Promise((r) => setTimeout(r, delay));
                running--;
                return i;
              }),
            ),
          );
          expect(results).toEqual(delays.map((_, i) => i));
          expect(peak).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('frees its slot when a call fails', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run(async () => 'next')).resolves.toBe('next');
  });

  it.each([0, -1, 1.5])('refuses a limit of %s naming the field', (limit) => {
    expect(() => new Limiter(limit)).toThrow(/^limit: /);
  });
});
