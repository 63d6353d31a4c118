// From a validated spec to what decide() needs: member identities and the policy in ms.
import type { FailoverPairSpec } from '../schema/failover-pair-spec.js';
import type { DecisionPolicy, MemberIdentity, MemberRole } from './types.js';

export function policyFromSpec(spec: FailoverPairSpec): DecisionPolicy {
  const { timing } = spec;
  return Object.freeze({
    primaryNode: spec.primary.node,
    secondaryNode: spec.secondary.node,
    failback: spec.failback,
    arbitration: spec.arbitration,
    holdDownMs: timing.holdDownSeconds * 1000,
    failbackDelayMs: timing.failbackDelaySeconds * 1000,
    arbiterGraceMs: timing.arbiterGraceSeconds * 1000,
    arbiterUnreachable: timing.arbiterUnreachable,
    gateLeaseMs: timing.gateLeaseSeconds * 1000,
    warningIsHealthy: spec.warningIsHealthy,
    hasVip: spec.vip !== undefined,
  });
}

export function memberIdentity(spec: FailoverPairSpec, role: MemberRole): MemberIdentity {
  const member = spec[role];
  return member.consulNode === undefined
    ? { role, node: member.node, address: member.address }
    : { role, node: member.node, address: member.address, consulNode: member.consulNode };
}

/** The role a node plays in the pair, if it is a member. */
export function roleOfNode(
  policy: Pick<DecisionPolicy, 'primaryNode' | 'secondaryNode'>,
  node: string | undefined,
): MemberRole | undefined {
  if (node === undefined) return undefined;
  if (node === policy.primaryNode) return 'primary';
  if (node === policy.secondaryNode) return 'secondary';
  return undefined;
}

export function nodeOfRole(
  policy: Pick<DecisionPolicy, 'primaryNode' | 'secondaryNode'>,
  role: MemberRole,
): string {
  return role === 'primary' ? policy.primaryNode : policy.secondaryNode;
}

export function peerOf(role: MemberRole): MemberRole {
  return role === 'primary' ? 'secondary' : 'primary';
}
