import { afterEach, describe, expect, it } from 'vitest';
import { BlockingWatch, type BlockingWatchTiming } from '../../../src/arbiter/blocking-watch.js';
import type { Blocking, BlockingQuery } from '../../../src/arbiter/consul-client.js';
import { ArbiterError } from '../../../src/arbiter/errors.js';

const timing: BlockingWatchTiming = {
  wait: '1s',
  minIntervalMs: 20,
  backoff: { baseMs: 40, maxMs: 160, jitter: 0 },
};
const watches: BlockingWatch<unknown>[] = [];
afterEach(async () => {
  await Promise.all(watches.splice(0).map((w) => w.stop()));
});

/** A scripted fake Consul endpoint: each call takes the next answer (a value, an error or a hang). */
function scripted(answers: (Blocking<string> | Error | 'hang')[]) {
  const queries: { index: bigint | undefined; at: number }[] = [];
  const fetch = (query: BlockingQuery): Promise<Blocking<string>> => {
    queries.push({ index: query.index, at: Date.now() });
    const answer = answers.shift() ?? 'hang';
    if (answer === 'hang') {
      return new Promise((_resolve, reject) =>
        query.signal?.addEventListener('abort', () => reject(new ArbiterError('cancelled', 'x', 'stop'))),
      );
    }
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { fetch, queries };
}

const until = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

function start<T>(fetch: (q: BlockingQuery) => Promise<Blocking<T>>) {
  const values: [T, bigint][] = [];
  const errors: ArbiterError[] = [];
  const watch = new BlockingWatch<T>(
    fetch,
    (v, i) => values.push([v, i]),
    (e) => errors.push(e),
    timing,
  );
  watches.push(watch as BlockingWatch<unknown>);
  watch.start();
  return { values, errors, watch };
}

describe('BlockingWatch', () => {
  it('sends back the last index and emits only when the index moved', async () => {
    const s = scripted([
      { value: 'a', index: 5n },
      { value: 'a', index: 5n },
      { value: 'b', index: 9n },
    ]);
    const w = start(s.fetch);
    await until(() => s.queries.length === 4);
    expect(s.queries.map((q) => q.index)).toEqual([undefined, 5n, 5n, 9n]);
    expect(w.values).toEqual([
      ['a', 5n],
      ['b', 9n],
    ]);
  });

  it('resets to index 1 when the index goes backwards, and never sends 0', async () => {
    const s = scripted([
      { value: 'a', index: 50n },
      { value: 'b', index: 3n },
      { value: 'c', index: 0n },
    ]);
    const w = start(s.fetch);
    await until(() => s.queries.length === 4);
    expect(s.queries.map((q) => q.index)).toEqual([undefined, 50n, 1n, 1n]);
    expect(w.values.map(([v]) => v)).toEqual(['a', 'b', 'c']);
  });

  it('keeps successive calls at least minIntervalMs apart even when answers come at once', async () => {
    let i = 0n;
    const queries: number[] = [];
    start(async () => {
      queries.push(Date.now());
      i += 1n;
      return { value: 'x', index: i };
    });
    await until(() => queries.length >= 6);
    const gaps = queries.slice(1).map((t, k) => t - (queries[k] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(timing.minIntervalMs - 2);
  });

  it('backs off exponentially on errors, reports each one, and recovers', async () => {
    const fail = () => new ArbiterError('unreachable', 'health.service', 'ECONNREFUSED');
    const s = scripted([fail(), fail(), fail(), { value: 'ok', index: 2n }]);
    const w = start(s.fetch);
    await until(() => w.values.length === 1);
    expect(w.errors.map((e) => e.kind)).toEqual(['unreachable', 'unreachable', 'unreachable']);
    const gaps = s.queries.slice(1, 4).map((q, k) => q.at - (s.queries[k]?.at ?? 0));
    // 40, 80, 160 ms without jitter (timer slack allowed upwards only).
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
  });

  it('a listener that throws does not end the watch; the error is reported, not thrown', async () => {
    const s = scripted([
      { value: 'a', index: 1n },
      { value: 'b', index: 2n },
    ]);
    let calls = 0;
    const reported: unknown[] = [];
    const watch = new BlockingWatch<string>(
      s.fetch,
      () => {
        calls += 1;
        throw new Error('listener bug');
      },
      () => undefined,
      timing,
      (error) => reported.push(error),
    );
    watches.push(watch as BlockingWatch<unknown>);
    watch.start();
    await until(() => calls === 2);
    expect(reported.map((e) => (e as Error).message)).toEqual(['listener bug', 'listener bug']);
    expect(s.queries.length).toBeGreaterThanOrEqual(2);
  });

  it('stop() cancels the call in flight and ends the loop', async () => {
    const s = scripted(['hang']);
    const w = start(s.fetch);
    await until(() => s.queries.length === 1);
    await w.watch.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(s.queries).toHaveLength(1);
    expect(w.errors).toEqual([]);
  });
});
