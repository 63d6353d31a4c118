import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../src/agent/node-flags.js';

const repo = resolve(import.meta.dirname, '../../../..');
const read = (path: string) => readFileSync(resolve(repo, path), 'utf8');

describe('the agent runs with its Node flags wherever it is started', () => {
  it.each([
    {
      where: 'Dockerfile ENTRYPOINT',
      line: () =>
        read('Dockerfile')
          .split('\n')
          .find((l) => l.startsWith('ENTRYPOINT')),
    },
    {
      where: 'systemd unit ExecStart',
      line: () =>
        read('packaging/vm/probegate.service')
          .split('\n')
          .find((l) => l.startsWith('ExecStart=')),
    },
    {
      where: 'probegate bin shebang',
      line: () => read('packages/controller/src/cli/main.ts').split('\n')[0],
    },
  ])('$where', ({ line }) => {
    const text = line() ?? '';
    for (const flag of AGENT_NODE_FLAGS) expect(text).toContain(flag);
    // The flags go to node, before the script.
    expect(text.indexOf(AGENT_NODE_FLAGS[0])).toBeLessThan(
      text.includes('probegate.mjs') ? text.indexOf('probegate.mjs') : Number.POSITIVE_INFINITY,
    );
  });

  it('are flags V8 knows (a typo would stop node from starting)', async () => {
    const { execa } = await import('execa');
    const result = await execa(process.execPath, [...AGENT_NODE_FLAGS, '-e', 'process.exit(0)'], {
      reject: false,
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it.each([
    { where: 'Dockerfile', line: (name: string, value: string) => `ENV ${name}=${value}` },
    {
      where: 'packaging/vm/probegate.service',
      line: (name: string, value: string) => `Environment=${name}=${value}`,
    },
  ])('with its environment: $where', ({ where, line }) => {
    const lines = read(where).split('\n');
    for (const [name, value] of Object.entries(AGENT_ENV)) expect(lines).toContain(line(name, value));
  });
});
