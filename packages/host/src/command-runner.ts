import { execa } from 'execa';
import { StandbyProcesses, type StartedCommand } from './standby-processes.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  /** Written to the command's stdin (iptables-restore, nft -f -). */
  input?: string;
}

/** Port through which every kernel command runs: argument arrays only, never a shell. */
export interface CommandRunner {
  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Starts a process for a stdin-fed command line ahead of its first use (when the runner can). */
  prepare?(argv: readonly string[]): void;
  /** Number of commands run so far (tests assert that a no-op apply writes nothing). */
  readonly spawned: number;
  /** The most recent argv run, oldest first (bounded). */
  readonly history: readonly (readonly string[])[];
}

/** A command that exited non-zero or could not start. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${exitCode}): ${argv.join(' ')}: ${stderr.trim() || '(no stderr)'}`);
    this.name = 'CommandError';
  }
}

const HISTORY_LIMIT = 1000;
const ENV = { TZ: 'UTC', LC_ALL: 'C' };

/** One command as it ran: for logs and metrics (the kernel's latency is the failover's). */
export interface CommandTiming {
  argv: readonly string[];
  durationMs: number;
  exitCode: number;
  /** Served by a process started ahead (see StandbyProcesses). */
  standby: boolean;
}

export interface ExecaRunnerOptions {
  /**
   * Keep a started process waiting for each stdin-fed command line (default true), so a write
   * does not pay the process start. close() lets them go.
   */
  standby?: boolean;
  /** Called after every command. */
  onCommand?: (timing: CommandTiming) => void;
}

/**
 * Runs commands with execa. `prefix` (e.g. ['ip', 'netns', 'exec', ns]) lets the same
 * actuator drive a network namespace in tests and the host in production.
 * TZ=UTC: nft prints `meta time` in local time; UTC makes it parseable.
 */
export class ExecaCommandRunner implements CommandRunner {
  #spawned = 0;
  readonly #history: (readonly string[])[] = [];
  readonly #standbys: StandbyProcesses | undefined;
  readonly #onCommand: ((timing: CommandTiming) => void) | undefined;

  constructor(
    private readonly prefix: readonly string[] = [],
    options: ExecaRunnerOptions = {},
  ) {
    this.#standbys = options.standby === false ? undefined : new StandbyProcesses(ENV);
    this.#onCommand = options.onCommand;
  }

  get spawned(): number {
    return this.#spawned;
  }

  get history(): readonly (readonly string[])[] {
    return this.#history;
  }

  /** Processes started ahead and waiting for a script. */
  get standbyCount(): number {
    return this.#standbys?.size ?? 0;
  }

  /** Commands served by a process started ahead (the rest paid a process start). */
  get standbyHits(): number {
    return this.#standbys?.hits ?? 0;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const full = [...this.prefix, ...argv];
    const [file, ...args] = full;
    if (file === undefined) throw new CommandError(full, -1, 'empty command');
    this.#spawned++;
    this.#history.push(argv);
    if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
    const started = performance.now();
    let standby = false;
    let result: Awaited<StartedCommand>;
    if (opts.input !== undefined && this.#standbys) {
      const taken = this.#standbys.take(full);
      const child = taken.child;
      standby = taken.standby;
      child.stdin?.end(opts.input);
      result = await child;
      if (result.exitCode !== undefined) this.#standbys.replenishSoon(full);
    } else {
      result = await execa(file, args, {
        reject: false,
        input: opts.input ?? '',
        env: ENV,
        stripFinalNewline: false,
      });
    }
    const exitCode = result.exitCode ?? -1;
    this.#onCommand?.({
      argv,
      durationMs: performance.now() - started,
      exitCode,
      standby,
    });
    const stdout = String(result.stdout ?? '');
    // A command that could not start (e.g. binary missing) has no exit code: report why.
    const stderr =
      String(result.stderr ?? '') || (exitCode === -1 ? (result.message ?? 'could not start') : '');
    if (exitCode !== 0) throw new CommandError(full, exitCode, stderr);
    return { stdout, stderr, exitCode };
  }

  prepare(argv: readonly string[]): void {
    this.#standbys?.replenish([...this.prefix, ...argv]);
  }

  /** Lets the standby processes exit (each reads EOF, which runs nothing). */
  async close(): Promise<void> {
    await this.#standbys?.close();
  }
}
