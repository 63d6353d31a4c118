import type {
  FailoverPairSpec,
  FailoverPairStatus,
  OperatorRequests,
  ValidationProblem,
} from '@probegate/core';

/** Annotations an operator sets to steer a pair (`probegate switchover` writes the first). */
export const SWITCHOVER_ANNOTATION = 'probegate.io/switchover-to';
export const MAINTENANCE_ANNOTATION = 'probegate.io/maintenance';

/** A FailoverPair as every source (Kubernetes, pairs file) hands it to the reconciler. */
export interface PairObject {
  /** "namespace/name". */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** Kubernetes resourceVersion of the object as read (guards pair-level status writes). */
  readonly resourceVersion?: string;
  /** Validated, defaults applied. */
  readonly spec: FailoverPairSpec;
  readonly requests: OperatorRequests;
  /** Deletion requested: clean up this node, then let go (finalizer). */
  readonly deleting: boolean;
  readonly finalizers: readonly string[];
  /** Status as last read (Kubernetes) or undefined (pairs file). */
  readonly status: FailoverPairStatus | undefined;
}

/** A pair that failed validation: skipped, reported, never fatal for the others. */
export interface InvalidPair {
  readonly key: string;
  readonly generation: number;
  readonly problems: readonly ValidationProblem[];
  /** Where it came from, e.g. "pairs.yaml:12". */
  readonly location?: string;
}

export const pairKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export function splitPairKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) {
    throw new Error(`pair key '${key}' is not of the form namespace/name`);
  }
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export const namesNode = (spec: FailoverPairSpec, node: string): boolean =>
  spec.primary.node === node || spec.secondary.node === node;

/** Operator requests from annotations; unknown or empty values mean no request. */
export function requestsFromAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): OperatorRequests {
  const switchoverTo = annotations?.[SWITCHOVER_ANNOTATION]?.trim() || undefined;
  const maintenance = (annotations?.[MAINTENANCE_ANNOTATION] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { switchoverTo, maintenance: maintenance.length ? maintenance : undefined };
}

/**
 * This node's finalizer on a pair. Finalizer names are qualified names (the part after the
 * slash at most 63 characters), so long node names are shortened with a stable hash.
 */
export function nodeFinalizer(node: string): string {
  const name = `node.${node}`;
  if (name.length <= 63 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) return `probegate.io/${name}`;
  let hash = 2166136261;
  for (let i = 0; i < node.length; i++) hash = Math.imul(hash ^ node.charCodeAt(i), 16777619) >>> 0;
  const safe = node
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 48)
    .replace(/[-.]+$/, '');
  return `probegate.io/node.${safe}-${hash.toString(16)}`;
}
