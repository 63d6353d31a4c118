import type { ServiceInstance } from './consul-client.js';
import type { HealthStatus, PairHealthView, PairMember, PairMembers } from './types.js';

const severity: Record<string, number> = { passing: 0, warning: 1, critical: 2 };

/** Worst of an instance's checks (node checks such as serfHealth included); no checks means passing. */
export function instanceStatus(instance: ServiceInstance): Exclude<HealthStatus, 'missing'> {
  let worst = 0;
  // Unknown states (e.g. maintenance or future ones) count as critical: never promote on a guess.
  for (const check of instance.checks) worst = Math.max(worst, severity[check.status] ?? 2);
  return worst === 0 ? 'passing' : worst === 1 ? 'warning' : 'critical';
}

/** Instances belonging to a member: by explicit Consul node name, else by service or node address. */
export function instancesOf(member: PairMember, instances: readonly ServiceInstance[]): ServiceInstance[] {
  if (member.consulNode !== undefined) return instances.filter((i) => i.consulNode === member.consulNode);
  return instances.filter(
    (i) => (i.serviceAddress || i.nodeAddress) === member.address || i.nodeAddress === member.address,
  );
}

/** A member with several instances is as healthy as its best one; with none it is missing. */
export function memberStatus(member: PairMember, instances: readonly ServiceInstance[]): HealthStatus {
  const statuses = instancesOf(member, instances).map(instanceStatus);
  if (statuses.length === 0) return 'missing';
  return statuses.reduce((a, b) => ((severity[a] ?? 2) <= (severity[b] ?? 2) ? a : b));
}

/** Both members' health; `liveness` (is the node's probegate agent alive? undefined: unknown) adds agentAlive. */
export function healthView(
  members: PairMembers,
  instances: readonly ServiceInstance[],
  index: bigint,
  readAt: number,
  liveness?: (node: string) => boolean | undefined,
): PairHealthView {
  const at = { index: Number(index), readAt };
  const alive = (member: PairMember) => {
    const agentAlive = liveness?.(member.node);
    return agentAlive === undefined ? {} : { agentAlive };
  };
  return {
    primary: { status: memberStatus(members.primary, instances), ...at, ...alive(members.primary) },
    secondary: { status: memberStatus(members.secondary, instances), ...at, ...alive(members.secondary) },
  };
}

export const sameStatuses = (a: PairHealthView | undefined, b: PairHealthView): boolean =>
  a !== undefined &&
  a.primary.status === b.primary.status &&
  a.secondary.status === b.secondary.status &&
  a.primary.agentAlive === b.primary.agentAlive &&
  a.secondary.agentAlive === b.secondary.agentAlive;
