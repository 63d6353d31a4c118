/**
 * Whether resourceVersion `a` is newer than `b`. Kubernetes calls them opaque, but etcd-backed API
 * servers hand out the etcd revision as a decimal number; anything else is taken as newer, so an
 * unknown format falls back to trusting the latest event as before.
 */
export function isNewerResourceVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return false;
  if (a === undefined || b === undefined) return true;
  if (!/^\d{1,20}$/.test(a) || !/^\d{1,20}$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}
