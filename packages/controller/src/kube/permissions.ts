/**
 * Every Kubernetes API call the agent makes, as (apiGroup, resource, verb). The Helm chart's
 * ClusterRole grants exactly these, and a test fails when a call is not granted or a grant is
 * unused: the kube adapters name the permission of each call through `permission()`.
 */
export const AGENT_PERMISSIONS = [
  // Informer: list + watch; reads of one pair during reconcile come from its cache.
  { apiGroup: 'probegate.io', resource: 'failoverpairs', verb: 'list' },
  { apiGroup: 'probegate.io', resource: 'failoverpairs', verb: 'watch' },
  // Server-side apply of this node's finalizer on the pair.
  { apiGroup: 'probegate.io', resource: 'failoverpairs', verb: 'patch' },
  // Server-side apply of this node's member entry (and, when active, the pair-level fields).
  { apiGroup: 'probegate.io', resource: 'failoverpairs/status', verb: 'patch' },
  // Transition and error events (core/v1); tolerated when the API server lacks them.
  { apiGroup: '', resource: 'events', verb: 'create' },
] as const;

export type AgentPermission = (typeof AGENT_PERMISSIONS)[number];
type ResourceOf<P> = P extends { resource: infer R } ? R : never;
type VerbOf<P, R> = P extends { resource: R; verb: infer V } ? V : never;

const used = new Set<string>();

/** Names the permission a call needs; it must be in AGENT_PERMISSIONS (checked by the type). */
export function permission<R extends ResourceOf<AgentPermission>>(
  resource: R,
  verb: VerbOf<AgentPermission, R>,
): AgentPermission {
  const found = AGENT_PERMISSIONS.find((p) => p.resource === resource && p.verb === verb);
  if (!found) throw new Error(`no agent permission ${verb} on ${resource}`);
  used.add(`${resource}:${verb}`);
  return found;
}

/** Permissions named by calls made so far in this process (for the RBAC test). */
export function permissionsUsed(): string[] {
  return [...used].sort();
}
