import { describe, expect, it } from 'vitest';
import { ArbiterError } from '../../../src/arbiter/errors.js';
import { ReachabilityTracker } from '../../../src/arbiter/reachability.js';

const down = new ArbiterError('unreachable', 'kv.get', 'ECONNREFUSED');

describe('ReachabilityTracker', () => {
  it('goes unreachable after N failures in a row and back on the first success, notifying each change', () => {
    let now = 1_000;
    const tracker = new ReachabilityTracker(2, () => now);
    const seen: boolean[] = [];
    tracker.onChange((s) => seen.push(s.reachable));
    tracker.failed(down);
    expect(tracker.current.reachable).toBe(true);
    now = 2_000;
    tracker.failed(down);
    expect(tracker.current).toMatchObject({
      reachable: false,
      lastError: { kind: 'unreachable', at: 2_000 },
    });
    tracker.failed(down);
    now = 3_000;
    tracker.succeeded();
    expect(tracker.current).toMatchObject({ reachable: true, lastContactAt: 3_000 });
    expect(seen).toEqual([false, true]);
  });

  it('a success in between resets the count', () => {
    const tracker = new ReachabilityTracker(2);
    tracker.failed(down);
    tracker.succeeded();
    tracker.failed(down);
    expect(tracker.current.reachable).toBe(true);
  });

  it('ignores cancelled calls', () => {
    const tracker = new ReachabilityTracker(1);
    tracker.failed(new ArbiterError('cancelled', 'kv.get', 'stop'));
    expect(tracker.current.reachable).toBe(true);
  });

  it('rejects a bad threshold', () => {
    expect(() => new ReachabilityTracker(0)).toThrow(
      'failuresBeforeUnreachable must be an integer >= 1, got 0',
    );
  });
});
