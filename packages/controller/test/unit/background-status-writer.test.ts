import { describe, expect, it } from 'vitest';
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
});
