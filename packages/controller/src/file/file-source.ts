import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { AgentMetrics } from '../observability/metrics.js';
import { type InvalidPair, namesNode, type PairObject } from '../reconcile/pair.js';
import type { PairSource } from '../reconcile/ports.js';
import { describeInvalid, parsePairsFile } from './pairs-file.js';

/**
 * Pairs from a YAML file (VM mode). Reloaded on SIGHUP and when the file changes; a reload that
 * cannot read the file keeps the pairs already running.
 */
export class FilePairSource implements PairSource {
  private pairs = new Map<string, PairObject>();
  private invalidPairs: InvalidPair[] = [];
  private readonly listeners: ((key: string) => void)[] = [];
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private loaded = false;
  private readonly onHup = () => void this.reload('SIGHUP');

  constructor(
    private readonly path: string,
    private readonly node: string,
    private readonly log: Logger,
    private readonly metrics?: AgentMetrics,
  ) {}

  get healthy(): boolean {
    return this.loaded;
  }

  get(key: string): PairObject | undefined {
    return this.pairs.get(key);
  }

  keys(): string[] {
    return [...this.pairs.keys()];
  }

  invalid(): InvalidPair[] {
    return this.invalidPairs;
  }

  onChange(listener: (key: string) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.reload('start');
    if (!this.loaded) throw new Error(`cannot read pairs file ${this.path}`);
    process.on('SIGHUP', this.onHup);
    // Editors replace files; watching the directory entry by name survives that poorly, so
    // re-arm the watch after every change.
    this.arm();
  }

  async stop(): Promise<void> {
    process.off('SIGHUP', this.onHup);
    clearTimeout(this.debounce);
    this.watcher?.close();
  }

  private arm(): void {
    this.watcher?.close();
    try {
      this.watcher = watch(this.path, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          void this.reload('file changed').then(() => this.arm());
        }, 200);
      });
    } catch (error) {
      this.log.warn({ err: error, file: this.path }, 'cannot watch pairs file; reload with SIGHUP');
    }
  }

  /** Reads the file and tells listeners about every pair that appeared, changed or vanished. */
  async reload(why: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      this.log.error(
        { err: error, file: this.path, why },
        'cannot read pairs file; keeping the current pairs',
      );
      return;
    }
    const parsed = parsePairsFile(text, basename(this.path));
    for (const bad of parsed.invalid)
      this.log.error({ node: this.node, pair: bad.key }, `invalid pair skipped: ${describeInvalid(bad)}`);
    const next = new Map<string, PairObject>();
    for (const pair of parsed.pairs) if (namesNode(pair.spec, this.node)) next.set(pair.key, pair);
    const changed: string[] = [];
    for (const [key, pair] of next) {
      const old = this.pairs.get(key);
      if (
        !old ||
        JSON.stringify(old.spec) !== JSON.stringify(pair.spec) ||
        JSON.stringify(old.requests) !== JSON.stringify(pair.requests)
      ) {
        changed.push(key);
      }
    }
    for (const key of this.pairs.keys()) if (!next.has(key)) changed.push(key);
    // An invalid entry keeps the last valid version of that pair running rather than tearing it down.
    for (const bad of parsed.invalid) {
      const old = this.pairs.get(bad.key);
      if (old && !next.has(bad.key)) {
        next.set(bad.key, old);
        changed.splice(changed.indexOf(bad.key), 1);
      }
    }
    this.pairs = next;
    this.invalidPairs = parsed.invalid;
    this.loaded = true;
    this.metrics?.pairs.set({ validity: 'valid' }, next.size);
    this.metrics?.pairs.set({ validity: 'invalid' }, parsed.invalid.length);
    this.log.info(
      { file: this.path, why, pairs: next.size, invalid: parsed.invalid.length },
      'pairs file loaded',
    );
    for (const key of changed) for (const listener of this.listeners) listener(key);
  }
}
