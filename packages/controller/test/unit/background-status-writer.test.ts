import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundStatusWriter } from '../../src/agent/background-status-writer.js';
import type { PairObject } from '../../src/reconcile/pair.js';
import type { StatusFragment, StatusSink } from '../../src/reconcile/ports.js';

const pair = (name: string) => ({ key: `default/${name}`, namespace: 'default', name }) as PairObject;
const fragment = (since: string): StatusFragment =>
  ({ member: { node: 'vm1', since } }) as unknown as StatusFragment;
const both = { member: true, pair: false };

/** A sink whose writes finish only when the test says so. */
function controlledSink() {
  const calls: { key: string; since: string; finish: (error?: unknown) => void }[] = [];
  const removed: string[] = [];
  const sink: StatusSink = {
    writeStatus: (p, f) =>
      new Promise<void>((resolve, reject) => {
        calls.push({
          key: p.key,
          since: (f.member as { since: string }).since,
          finish: (error) => (error ? reject(error) : resolve()),
        });
      }),
    addFinalizer: async () => {},
    removeFinalizer: async (p) => {
      removed.push(p.key);
    },
  };
  return { sink, calls, removed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('BackgroundStatusWriter', () => {
  it('returns at once, keeps one write per pair in flight and only the latest status waiting', async () => {
    const { sink, calls } = controlledSink();
    const writer = new BackgroundStatusWriter(sink, { onFailure: () => {} });
    await writer.writeStatus(pair('a'), fragment('1'), both);
    await writer.writeStatus(pair('a'), fragment('2'), both);
    await writer.writeStatus(pair('a'), fragment('3'), both);
    expect(calls.map((c) => c.since)).toEqual(['1']);
    calls[0]?.finish();
    await tick();
    // '2' was replaced by '3' while '1' was in flight.
    expect(calls.map((c) => c.since)).toEqual(['1', '3']);
    calls[1]?.finish();
    await writer.drain();
    expect(writer.backlog).toBe(0);
  });

  it('never has more writes in flight than its concurrency', async () => {
    const { sink, calls } = controlledSink();
    const writer = new BackgroundStatusWriter(sink, { concurrency: 2, onFailure: () => {} });
    for (const name of ['a', 'b', 'c', 'd']) await writer.writeStatus(pair(name), fragment(name), both);
    expect(calls.map((c) => c.key)).toEqual(['default/a', 'default/b']);
    calls[1]?.finish();
    await tick();
    expect(calls.map((c) => c.key)).toEqual(['default/a', 'default/b', 'default/c']);
  });

  it('sends a pair whose write failed back with growing delays, and forgets them after a success', async () => {
    const { sink, calls } = controlledSink();
    const failures: { key: string; retryInMs: number }[] = [];
    const writer = new BackgroundStatusWriter(sink, {
      baseDelayMs: 100,
      onFailure: (key, _error, retryInMs) => failures.push({ key, retryInMs }),
    });
    const conflict = Object.assign(new Error('conflict'), { code: 409 });
    for (const outcome of [conflict, conflict, undefined, conflict]) {
      await writer.writeStatus(pair('a'), fragment('x'), both);
      calls.at(-1)?.finish(outcome);
      await writer.drain();
    }
    expect(failures).toEqual([
      { key: 'default/a', retryInMs: 100 },
      { key: 'default/a', retryInMs: 200 },
      { key: 'default/a', retryInMs: 100 },
    ]);
  });

  it('drops a write for an object that is gone (404) without sending the pair back', async () => {
    const { sink, calls } = controlledSink();
    const failures: string[] = [];
    const writer = new BackgroundStatusWriter(sink, { onFailure: (key) => failures.push(key) });
    await writer.writeStatus(pair('a'), fragment('x'), both);
    calls[0]?.finish(Object.assign(new Error('gone'), { code: 404 }));
    await writer.drain();
    expect(failures).toEqual([]);
  });

  it('forgets a waiting status when the pair is let go (finalizer removed)', async () => {
    const { sink, calls, removed } = controlledSink();
    const writer = new BackgroundStatusWriter(sink, { onFailure: () => {} });
    await writer.writeStatus(pair('a'), fragment('1'), both);
    await writer.writeStatus(pair('a'), fragment('2'), both);
    await writer.removeFinalizer(pair('a'));
    calls[0]?.finish();
    await writer.drain();
    expect(calls.map((c) => c.since)).toEqual(['1']);
    expect(removed).toEqual(['default/a']);
  });

  describe('holding a status until it settles (quietMs, maxHoldMs)', () => {
    /** A writer on vitest's fake clock: its hold timers fire as the test moves time. */
    function heldWriter(quietMs: number, maxHoldMs?: number) {
      const { sink, calls } = controlledSink();
      vi.useFakeTimers({ now: 1_000 });
      const writer = new BackgroundStatusWriter(sink, {
        onFailure: () => {},
        quietMs,
        ...(maxHoldMs === undefined ? {} : { maxHoldMs }),
      });
      const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
      return { writer, calls, advance };
    }
    afterEach(() => {
      vi.useRealTimers();
    });

    it.each([
      {
        what: 'a status that settles is written once, quietMs after its last change',
        changes: [0, 30, 60],
        quietMs: 100,
        maxHoldMs: 1_000,
        writtenAfter: 160,
      },
      {
        what: 'a status that keeps changing is written at the latest maxHoldMs after its first change',
        changes: [0, 80, 160, 240, 320],
        quietMs: 100,
        maxHoldMs: 300,
        writtenAfter: 300,
      },
    ])('$what', async ({ changes, quietMs, maxHoldMs, writtenAfter }) => {
      const { writer, calls, advance } = heldWriter(quietMs, maxHoldMs);
      let at = 0;
      const written: number[] = [];
      const note = () => {
        if (calls.length > written.length) written.push(at);
      };
      for (let t = 0; t <= writtenAfter + 50; t += 10) {
        if (changes.includes(t)) await writer.writeStatus(pair('a'), fragment(String(t)), both);
        note();
        await advance(10);
        at = t + 10;
        note();
      }
      // One write, at the expected moment (to the 10 ms step), carrying the latest status.
      expect(written).toHaveLength(1);
      expect(written[0]).toBeGreaterThanOrEqual(writtenAfter);
      expect(written[0]).toBeLessThanOrEqual(writtenAfter + 10);
      const latest = changes.filter((c) => c < (written[0] ?? 0)).at(-1);
      expect(calls[0]?.since).toBe(String(latest));
    });

    it('drain() writes what is held at once', async () => {
      const { writer, calls } = heldWriter(60_000);
      await writer.writeStatus(pair('a'), fragment('1'), both);
      await writer.writeStatus(pair('b'), fragment('1'), both);
      expect(calls).toHaveLength(0);
      const drained = writer.drain();
      expect(calls.map((c) => c.key)).toEqual(['default/a', 'default/b']);
      for (const c of calls) c.finish();
      await drained;
      expect(writer.backlog).toBe(0);
    });

    it('a status written while held and changed again starts a new hold after its write', async () => {
      const { writer, calls, advance } = heldWriter(100, 1_000);
      await writer.writeStatus(pair('a'), fragment('1'), both);
      await advance(100);
      expect(calls.map((c) => c.since)).toEqual(['1']);
      calls[0]?.finish();
      await advance(0);
      await writer.writeStatus(pair('a'), fragment('2'), both);
      await advance(50);
      expect(calls.map((c) => c.since)).toEqual(['1']);
      await advance(50);
      expect(calls.map((c) => c.since)).toEqual(['1', '2']);
    });
  });
});
