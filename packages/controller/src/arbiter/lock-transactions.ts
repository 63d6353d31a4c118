import type { ConsulClient, LockOp } from './consul-client.js';
import { ArbiterError } from './errors.js';

/** Consul accepts at most 64 operations per transaction. */
export const MAX_TXN_OPS = 64;

interface Pending {
  op: LockOp;
  settle: (held: boolean) => void;
  fail: (error: unknown) => void;
}

/**
 * Gathers the lock and unlock calls made in the same turn of the event loop into Consul transactions
 * of up to 64 operations: a mass failover of 1,000 pairs is 16 Raft writes per node instead of 1,000.
 * A transaction is all or nothing, so the operations Consul refuses (a lock another session holds)
 * answer false and the rest go again in a new transaction.
 */
export class LockTransactions {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly client: ConsulClient) {}

  /** True when the operation took effect (lock: now held by the session; unlock: released by it). */
  submit(op: LockOp): Promise<boolean> {
    return new Promise((settle, fail) => {
      this.queue.push({ op, settle, fail });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MAX_TXN_OPS) void this.run(all.slice(i, i + MAX_TXN_OPS));
  }

  private async run(batch: Pending[]): Promise<void> {
    let rest = batch;
    // Each round settles at least one operation, so this ends.
    while (rest.length > 0) {
      let answer: Awaited<ReturnType<ConsulClient['kvLockTxn']>>;
      try {
        answer = await this.client.kvLockTxn(rest.map((p) => p.op));
      } catch (error) {
        for (const p of rest) p.fail(error);
        return;
      }
      if (answer.ok) {
        for (const p of rest) p.settle(true);
        return;
      }
      const refused = new Map(answer.failed.map((f) => [f.index, f.what]));
      if (![...refused.keys()].some((i) => i >= 0 && i < rest.length)) {
        const error = new ArbiterError('malformed-response', 'kv.txn', 'rollback names no operation of ours');
        for (const p of rest) p.fail(error);
        return;
      }
      const again: Pending[] = [];
      rest.forEach((p, i) => {
        const what = refused.get(i);
        if (what === undefined) again.push(p);
        // The session died: the caller makes a new one, as after a refused single acquire.
        else if (/invalid session|session .* not found/i.test(what))
          p.fail(new ArbiterError('rejected', `kv.txn ${p.op.verb}`, what, 409));
        else p.settle(false);
      });
      rest = again;
    }
  }
}
