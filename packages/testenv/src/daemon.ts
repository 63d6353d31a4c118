import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** A long-running process started for a test, killed for sure when the test process ends. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Exit code once exited (undefined while running or when killed by a signal). */
  readonly exitCode: number | undefined;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal without waiting (kill -9 scenarios). */
  kill(signal?: NodeJS.Signals): void;
  /** The last lines of its output, for error messages. */
  tail(lines?: number): string;
}

const running = new Set<ResultPromise>();
let hooked = false;

// A test run that dies or is interrupted must not leave daemons behind.
function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export const scratchDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `probegate-${prefix}-`));

export function startDaemon(
  name: string,
  argv: readonly string[],
  options: { env?: Record<string, string>; logDir?: string } = {},
): Daemon {
  hookProcessExit();
  const [file, ...args] = argv;
  if (!file) throw new Error(`startDaemon(${name}): empty argv`);
  const logFile = join(options.logDir ?? scratchDir(name), `${name}.log`);
  const log = createWriteStream(logFile);
  const child = execa(file, args, {
    env: options.env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    cleanup: true,
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  running.add(child);
  let exited = false;
  let exitCode: number | undefined;
  const done = child.then((result) => {
    exited = true;
    exitCode = result.exitCode;
    running.delete(child);
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${file})`);
  const pid = child.pid;
  return {
    name,
    pid,
    logFile,
    get exited() {
      return exited;
    },
    get exitCode() {
      return exitCode;
    },
    kill(signal = 'SIGKILL') {
      child.kill(signal);
    },
    async stop(graceMs = 5_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
      log.end();
    },
    tail(lines = 20) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}
