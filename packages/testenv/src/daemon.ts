import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
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
  /** Resolves when the process has exited (never rejects). */
  readonly done: Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal without waiting (kill -9 scenarios). */
  kill(signal?: NodeJS.Signals): void;
  /** The last lines of its output, for error messages. */
  tail(lines?: number): string;
}

export interface DaemonOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Where the log file goes; default: one folder per test process, removed when it exits. */
  logDir?: string;
  /** Runs argv inside this network namespace (`ip netns exec` execs it: the pid is argv's process). */
  netns?: string;
  /** Takes stdout line by line instead of the log file (stderr still goes to the log). */
  onLine?: (line: string) => void;
}

const running = new Set<ResultPromise>();
let hooked = false;
let defaultLogDir: string | undefined;
let logSequence = 0;

function sharedLogDir(): string {
  defaultLogDir ??= scratchDir('logs');
  return defaultLogDir;
}

// Logs are for failure messages (tails are quoted in errors); kept only on request.
const keepLogs = (): boolean =>
  Boolean(process.env.PROBEGATE_KEEP_LOGS || process.env.PROBEGATE_E2E_KEEP_LOGS);

// A test run that dies or is interrupted must not leave daemons (or their logs) behind.
function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    if (defaultLogDir && !keepLogs()) rmSync(defaultLogDir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export const scratchDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `probegate-${prefix}-`));

/**
 * Starts argv (optionally inside a network namespace) with stdout and stderr going to a log
 * file. Each start gets its own log file, so a restarted daemon keeps the previous run's log.
 */
export function startDaemon(name: string, argv: readonly string[], options: DaemonOptions = {}): Daemon {
  hookProcessExit();
  const [file, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...argv] : argv;
  if (!file || argv.length === 0) throw new Error(`startDaemon(${name}): empty argv`);
  const dir = options.logDir ?? sharedLogDir();
  logSequence += 1;
  const logFile = join(dir, `${name}-${logSequence}.log`);
  const log = createWriteStream(logFile);
  // A log that cannot be written must not crash the test run; tail() then says less.
  log.on('error', () => {});
  const child = execa(file, args, {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    // Output goes to the log (or onLine), not into memory: daemons run for a whole test file.
    buffer: false,
    reject: false,
    cleanup: true,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (child.pid === undefined) {
    log.end();
    throw new Error(`could not start ${name}: ${argv.join(' ')}`);
  }
  running.add(child);
  // Both streams share the log: neither may end it while the other still writes.
  child.stderr?.pipe(log, { end: false });
  const onLine = options.onLine;
  if (onLine && child.stdout) createInterface({ input: child.stdout }).on('line', (line) => onLine(line));
  else child.stdout?.pipe(log, { end: false });
  let exited = false;
  let exitCode: number | undefined;
  const done = child.then(async (result) => {
    exited = true;
    exitCode = result.exitCode;
    running.delete(child);
    // Resolve once the log is on disk: a caller reads tail() right after.
    log.end();
    await finished(log).catch(() => undefined);
  });
  const pid = child.pid;
  return {
    name,
    pid,
    logFile,
    done,
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
    },
    tail(lines = 30) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}
