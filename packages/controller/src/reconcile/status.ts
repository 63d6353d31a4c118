import {
  type Condition,
  type Decision,
  type FailoverPairStatus,
  type HealthStatus,
  type MemberRole,
  type MemberStatus,
  REASON_TEXT,
} from '@probegate/core';
import type { LocalObservation } from './host-batcher.js';
import type { PairObject } from './pair.js';
import type { PairLevelStatus, StatusFragment } from './ports.js';

export interface StatusInput {
  pair: PairObject;
  node: string;
  self: MemberRole;
  ownHealth: HealthStatus | 'unknown';
  decision: Decision;
  observed: LocalObservation;
  arbiterReachable: boolean;
  peerHealthy: boolean;
  now: number;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The status this node should publish. It always carries this node's member entry. Pair-level
 * fields come from the node that serves; a node that no longer serves but is still named active
 * (or the primary, when the rules say nobody serves) publishes "nobody" instead. Timestamps are
 * kept unless what they date changed, so an unchanged situation yields an identical fragment.
 */
export function statusFragment(input: StatusInput): StatusFragment {
  const { pair, node, self, decision, observed, now } = input;
  const current = pair.status;
  const previous = current?.members?.find((m) => m.node === node);
  const state = decision.desired.role;
  const member: MemberStatus = {
    node,
    role: self === 'primary' ? 'Primary' : 'Secondary',
    consulHealth: input.ownHealth,
    state,
    gate: observed.gate,
    vip: observed.vip,
    since: previous && previous.state === state ? previous.since : iso(now),
    reason: decision.reason,
    message: REASON_TEXT[decision.reason],
  };
  const before = current?.activeNode ?? '';
  const serving = state === 'Active';
  const staleClaim = !serving && before === node;
  const nobodyServes = decision.target === undefined && self === 'primary';
  if (!serving && !staleClaim && !nobodyServes) return { member };

  const activeNode = serving ? node : '';
  const changed = activeNode !== before;
  // After a handover through "nobody active", `from` still names the node that served last.
  const from = before || (activeNode ? current?.lastTransition?.from : undefined);
  const lastTransition = changed
    ? {
        ...(from ? { from } : {}),
        ...(activeNode ? { to: activeNode } : {}),
        reason: decision.reason,
        time: iso(now),
      }
    : current?.lastTransition;
  const condition = (type: string, ok: boolean, reason: string, message: string): Condition => {
    const status = ok ? 'True' : 'False';
    const old = current?.conditions?.find((c) => c.type === type);
    return {
      type,
      status,
      observedGeneration: pair.generation,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : iso(now),
      reason,
      message,
    };
  };
  const fields: PairLevelStatus = {
    activeNode,
    transitions: (current?.transitions ?? 0) + (changed ? 1 : 0),
    ...(lastTransition ? { lastTransition } : {}),
    observedGeneration: pair.generation,
    conditions: [
      condition(
        'Ready',
        activeNode !== '',
        activeNode ? 'MemberActive' : 'NoActiveMember',
        activeNode ? `${activeNode} serves` : REASON_TEXT[decision.reason],
      ),
      condition(
        'ArbiterReachable',
        input.arbiterReachable,
        input.arbiterReachable ? 'ConsulAnswers' : 'ConsulUnreachable',
        input.arbiterReachable
          ? 'Consul answers'
          : 'Consul cannot be reached; acting on the last known views',
      ),
      condition(
        'Degraded',
        !input.peerHealthy || !input.arbiterReachable,
        input.peerHealthy
          ? input.arbiterReachable
            ? 'Redundant'
            : 'ArbiterUnreachable'
          : 'NoStandbyAvailable',
        input.peerHealthy ? 'both members can serve' : 'only one member (or none) can serve',
      ),
    ],
  };
  return { member, pair: { fields, basedOnResourceVersion: pair.resourceVersion } };
}

/** Which parts of `fragment` would change something in `current`. */
export function statusChanges(
  current: FailoverPairStatus | undefined,
  fragment: StatusFragment,
): { member: boolean; pair: boolean } {
  const theirs = current?.members?.find((m) => m.node === fragment.member.node);
  const fields = fragment.pair?.fields;
  return {
    member: !sameJson(fragment.member, theirs),
    pair:
      fields !== undefined &&
      (fields.activeNode !== (current?.activeNode ?? '') ||
        fields.transitions !== (current?.transitions ?? 0) ||
        fields.observedGeneration !== current?.observedGeneration ||
        !sameJson(fields.lastTransition, current?.lastTransition) ||
        !sameJson(fields.conditions, current?.conditions)),
  };
}

/**
 * Equal as JSON would see them (undefined members ignored, key order irrelevant), without
 * serializing: every pair on every resync compares its status, so this runs thousands of times.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const key in x) {
    if (x[key] === undefined) continue;
    defined++;
    if (!sameJson(x[key], y[key])) return false;
  }
  for (const key in y) if (y[key] !== undefined) defined--;
  return defined === 0;
}
