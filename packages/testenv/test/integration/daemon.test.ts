import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createNamespace, destroyAllNamespaces, requireRoot, startDaemon } from '../../src/index.js';

afterAll(destroyAllNamespaces);

// A killed orphan may stay a zombie when nothing reaps it (e.g. a container's init): that is dead too.
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

async function orphanDaemon(mode: 'exit' | 'term'): Promise<{ pid: number; logFile: string }> {
  const script = fileURLToPath(new URL('./daemon-orphan.fixture.ts', import.meta.url));
  const child = execa(
    process.execPath,
    ['--conditions', 'probegate-source', '--import', 'tsx', script, mode],
    {
      reject: false,
      env: { PROBEGATE_KEEP_LOGS: '', PROBEGATE_E2E_KEEP_LOGS: '' },
    },
  );
  const started = await new Promise<{ pid: number; logFile: string }>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
    void child.then((r) => reject(new Error(`fixture exited early: ${r.stderr}`)));
  });
  expect(alive(started.pid)).toBe(true);
  if (mode === 'term') child.kill('SIGTERM');
  await child;
  return started;
}

describe('daemons started for tests', () => {
  it('runs inside a network namespace, hands stdout line by line and reports the exit code', async () => {
    requireRoot();
    const ns = await createNamespace('pgd');
    const lines: string[] = [];
    const daemon = startDaemon(
      'links',
      ['bash', '-c', 'ip -o link show | cut -d: -f2; echo to-stderr >&2; exit 3'],
      { netns: ns, onLine: (line) => lines.push(line.trim()) },
    );
    await daemon.done;
    expect(daemon.exited).toBe(true);
    expect(daemon.exitCode).toBe(3);
    // A fresh namespace has only its loopback.
    expect(lines).toEqual(['lo']);
    expect(daemon.tail()).toBe('to-stderr');
  });

  it('keeps stdout and stderr in its log, one log per start', async () => {
    const first = startDaemon('twice', ['bash', '-c', 'echo out; echo err >&2']);
    await first.done;
    const second = startDaemon('twice', ['bash', '-c', 'echo again']);
    await second.done;
    expect(first.exitCode).toBe(0);
    expect(first.tail().split('\n').sort()).toEqual(['err', 'out']);
    expect(second.logFile).not.toBe(first.logFile);
    expect(second.tail()).toBe('again');
  });

  it('kill sends SIGKILL; stop escalates to SIGKILL when SIGTERM is ignored', async () => {
    const killed = startDaemon('killed', ['sleep', '300']);
    killed.kill();
    await killed.done;
    expect(killed.exited).toBe(true);
    expect(killed.exitCode).toBeUndefined();
    expect(alive(killed.pid)).toBe(false);

    const stubborn = startDaemon('stubborn', [
      'bash',
      '-c',
      'trap "" TERM; echo ready; while :; do sleep 0.05; done',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = Date.now();
    await stubborn.stop(300);
    expect(Date.now() - before).toBeGreaterThanOrEqual(250);
    expect(stubborn.exited).toBe(true);
    expect(alive(stubborn.pid)).toBe(false);
  });

  it('refuses an empty command, naming the daemon', () => {
    expect(() => startDaemon('nothing', [])).toThrow(/startDaemon\(nothing\): empty argv/);
    expect(() => startDaemon('nothing', [], { netns: 'x' })).toThrow(/empty argv/);
  });

  it.each(['exit', 'term'] as const)(
    'kills its daemons and removes their logs when the test process ends (%s)',
    async (mode) => {
      const { pid, logFile } = await orphanDaemon(mode);
      // SIGKILL is sent from the exit hook; it dies right after.
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(alive(pid)).toBe(false);
      expect(existsSync(dirname(logFile))).toBe(false);
    },
  );
});
