import { describe, expect, it } from 'vitest';
import type { ConsulClient, SessionInfo } from '../../../src/arbiter/consul-client.js';
import { NodeSession } from '../../../src/arbiter/sessions.js';

/** Just the session calls NodeSession makes; renewals answer when the test says so. */
function fakeClient() {
  const renewals: { resolve: (ok: boolean) => void }[] = [];
  let renewCalled: () => void = () => {};
  const client = {
    nodeSessions: async (): Promise<SessionInfo[]> => [],
    sessionCreate: async () => 'session-1',
    sessionDestroy: async () => {},
    sessionRenew: (_id: string) =>
      new Promise<boolean>((resolve) => {
        renewals.push({ resolve });
        renewCalled();
      }),
  } as unknown as ConsulClient;
  const nextRenewal = () =>
    new Promise<void>((resolve) => {
      renewCalled = resolve;
    });
  return { client, renewals, nextRenewal };
}

/**
 * A session whose clock the test sets (`t.now`) and whose announcements it counts (`t.changes`).
 * Confirmation window: 2/3 of the lock-delay = 666 ms; ticks every 250 ms (real time).
 */
function sessionUnderTest() {
  const { client, renewals, nextRenewal } = fakeClient();
  const state = { now: 0, changes: 0 };
  const session = new NodeSession(
    client,
    'consul-node',
    'vm1',
    { ttlMs: 10_000, lockDelayMs: 1_000, renewIntervalMs: 250 },
    () => {
      state.changes++;
    },
    () => {},
    () => state.now,
  );
  return Object.assign(state, { session, renewals, nextRenewal });
}

describe('NodeSession confirmation', () => {
  it('announces a lapse a lock view saw, even when a late renewal answer confirms again before any tick', async () => {
    const t = sessionUnderTest();
    const { session, renewals, nextRenewal } = t;
    const renewing = nextRenewal();
    await session.start();
    expect(session.confirmed()).toBe(true);
    t.now = 400; // the first tick sends a renewal at 400 ms...
    await renewing;
    const announced = t.changes;
    t.now = 700; // ...whose answer is late: a lock view built now sees the confirmation lapsed...
    expect(session.confirmed()).toBe(false);
    t.now = 750; // ...then the answer comes, confirming as of 400 ms: confirmed again.
    renewals[0]?.resolve(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(session.confirmed()).toBe(true);
    // The views built during the lapse are rebuilt: onChange was called.
    expect(t.changes).toBeGreaterThan(announced);
    session.stop();
  });

  it('announces nothing while nobody saw a change', async () => {
    const t = sessionUnderTest();
    const { session, renewals, nextRenewal } = t;
    const renewing = nextRenewal();
    await session.start();
    t.now = 400;
    await renewing;
    const announced = t.changes;
    t.now = 500;
    renewals[0]?.resolve(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(session.confirmed()).toBe(true);
    expect(t.changes).toBe(announced);
    session.stop();
  });
});
