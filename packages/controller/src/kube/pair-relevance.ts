import type { PairObject } from '../reconcile/pair.js';
import { sameJson } from '../reconcile/status.js';

/**
 * Everything a reconcile of `node` reads from a pair object: spec (by generation), deletion,
 * finalizers, operator requests, this node's own member entry and the pair-level status fields.
 * The peer's member entry is not in it: decisions come from Consul, and this node's status
 * fragment never looks at the peer's entry. In a mass failover each peer entry write reached the
 * other node as a watch event and cost it one reconcile per pair for nothing.
 */
export function decisionView(pair: PairObject, node: string): unknown[] {
  const status = pair.status;
  return [
    pair.generation,
    pair.deleting,
    pair.finalizers,
    pair.requests,
    status?.members?.find((m) => m.node === node),
    status?.activeNode,
    status?.transitions,
    status?.observedGeneration,
    status?.lastTransition,
    status?.conditions,
  ];
}

/** Whether a newer copy of a pair can change what a reconcile of `node` does (key order aside). */
export const changesDecision = (before: PairObject | undefined, after: PairObject, node: string): boolean =>
  before === undefined || !sameJson(decisionView(before, node), decisionView(after, node));
