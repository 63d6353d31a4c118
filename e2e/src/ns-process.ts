import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';

/** A long-running process inside a network namespace, killed for sure when the test process ends. */
export interface NsProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: boolean;
  /** Resolves when the process has exited. */
  readonly done: Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** A signal without waiting (kill -9 scenarios). */
  kill(signal?: NodeJS.Signals): void;
  tail(lines?: number): string;
}

const running = new Set<ResultPromise>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    // Logs are for failure messages (tails are quoted in errors); keep them only on request.
    if (logDir && !process.env.PROBEGATE_E2E_KEEP_LOGS) rmSync(logDir, { recursive: true, force: true });
  });
}

let logDir: string | undefined;
const logs = () => {
  logDir ??= mkdtempSync(join(tmpdir(), 'probegate-e2e-'));
  return logDir;
};

/**
 * Runs argv inside `ns` (`ip netns exec` execs it, so the pid is the process itself). stderr
 * (and stdout, unless onLine takes it line by line) goes to a log file.
 */
export function startInNamespace(
  name: string,
  ns: string,
  argv: readonly string[],
  options: { onLine?: (line: string) => void; env?: Record<string, string>; cwd?: string } = {},
): NsProcess {
  hookExit();
  const logFile = join(logs(), `${name}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  const child = execa('ip', ['netns', 'exec', ns, ...argv], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    cleanup: true,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${argv.join(' ')}`);
  running.add(child);
  child.stderr?.pipe(log);
  const onLine = options.onLine;
  if (onLine && child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => onLine(line));
  } else {
    child.stdout?.pipe(log);
  }
  let exited = false;
  const done = child.then(() => {
    exited = true;
    running.delete(child);
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
