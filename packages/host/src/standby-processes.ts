import { execa, type ResultPromise } from 'execa';

/** A started command, waiting for the script it will run on its stdin. */
export type StartedCommand = ResultPromise<{ reject: false; stripFinalNewline: false }>;

type StreamLike = { ref?: () => void; unref?: () => void } | null | undefined;

/**
 * Commands that read their whole script from stdin (`iptables-restore`, `nft -f -`, `ip -batch -`)
 * act only once stdin closes, so one can be started before it is needed. Starting a process costs
 * ~10 ms on a small VM (more under load), paid up to four times in series by a failover (close,
 * unbind; bind, open). This keeps one started process per command line, learned from use: a
 * failover's write then costs only the kernel's work.
 *
 * A waiting process holds no lock (iptables-restore takes the xtables lock when it reads COMMIT)
 * and does nothing if its stdin closes empty, so an agent that dies leaves nothing behind: the
 * standbys read EOF and exit 0.
 */
export class StandbyProcesses {
  readonly #waiting = new Map<string, StartedCommand>();
  readonly #due = new Map<string, readonly string[]>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #hits = 0;

  /**
   * @param delayMs how long after a use its replacement starts. Starting a process blocks the
   *   event loop for as long as fork and exec take (~10 ms here), so it must not fall between the
   *   steps of a flip (close, unbind, release; or bind, open).
   */
  constructor(
    private readonly env: Record<string, string>,
    private readonly delayMs = 250,
  ) {}

  /** A process for `argv`: the standby if one is waiting (and alive), else a fresh one. */
  take(argv: readonly string[]): { child: StartedCommand; standby: boolean } {
    const key = argv.join('\0');
    const standby = this.#waiting.get(key);
    this.#waiting.delete(key);
    const node = standby?.nodeChildProcess;
    if (standby && node?.exitCode === null && node.signalCode === null) {
      setRef(standby, true);
      this.#hits++;
      return { child: standby, standby: true };
    }
    return { child: this.start(argv), standby: false };
  }

  /** Starts the next standby for `argv` once the commands of this moment are done (see delayMs). */
  replenishSoon(argv: readonly string[]): void {
    if (this.#closed) return;
    this.#due.set(argv.join('\0'), argv);
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(() => this.startDue(), this.delayMs).unref();
  }

  private startDue(): void {
    this.#timer = undefined;
    const due = [...this.#due.values()];
    this.#due.clear();
    for (const argv of due) this.replenish(argv);
  }

  /** Starts the next standby for `argv` now, unless one is waiting. */
  replenish(argv: readonly string[]): void {
    const key = argv.join('\0');
    if (this.#closed || this.#waiting.has(key)) return;
    const standby = this.start(argv);
    // A standby must not keep a short-lived CLI alive, nor outlive this runner's caller.
    setRef(standby, false);
    this.#waiting.set(key, standby);
    void standby.then(() => {
      if (this.#waiting.get(key) === standby) this.#waiting.delete(key);
    });
  }

  /** Number of processes waiting. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Commands served by a process started ahead. */
  get hits(): number {
    return this.#hits;
  }

  /** Lets every standby read EOF (a no-op for each command) and waits for them to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#due.clear();
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const standby of waiting) {
      // Referenced again: a caller awaiting close() must not see its process exit first.
      setRef(standby, true);
      standby.stdin?.end();
    }
    await Promise.all(waiting);
  }

  private start(argv: readonly string[]): StartedCommand {
    const [file, ...args] = argv;
    return execa(file ?? '', args, { reject: false, stripFinalNewline: false, env: this.env, stdin: 'pipe' });
  }
}

function setRef(child: StartedCommand, ref: boolean): void {
  const node = child.nodeChildProcess;
  const streams: StreamLike[] = [node, node.stdin, node.stdout, node.stderr] as StreamLike[];
  for (const s of streams) (ref ? s?.ref : s?.unref)?.call(s);
}
