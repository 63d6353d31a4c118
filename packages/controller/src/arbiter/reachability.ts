import type { ArbiterError } from './errors.js';
import type { Reachability, Unsubscribe } from './types.js';

/** Turns call outcomes into reachable/unreachable, after `failuresBeforeUnreachable` failures in a row. */
export class ReachabilityTracker {
  private state: Reachability = { reachable: true };
  private consecutiveFailures = 0;
  private readonly listeners = new Set<(state: Reachability) => void>();

  constructor(
    private readonly failuresBeforeUnreachable = 2,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(failuresBeforeUnreachable) || failuresBeforeUnreachable < 1) {
      throw new Error(`failuresBeforeUnreachable must be an integer >= 1, got ${failuresBeforeUnreachable}`);
    }
  }

  get current(): Reachability {
    return this.state;
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    const changed = !this.state.reachable;
    this.state = { ...this.state, reachable: true, lastContactAt: this.now() };
    if (changed) this.notify();
  }

  failed(error: ArbiterError): void {
    if (error.kind === 'cancelled') return;
    this.consecutiveFailures += 1;
    const lastError = { kind: error.kind, message: error.message, at: this.now() };
    const goesDown = this.state.reachable && this.consecutiveFailures >= this.failuresBeforeUnreachable;
    this.state = { ...this.state, reachable: this.state.reachable && !goesDown, lastError };
    if (goesDown) this.notify();
  }

  onChange(listener: (state: Reachability) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.state);
  }
}
