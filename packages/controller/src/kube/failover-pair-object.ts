import { type FailoverPairStatus, validateFailoverPairSpec } from '@probegate/core';
import { type InvalidPair, type PairObject, pairKey, requestsFromAnnotations } from '../reconcile/pair.js';

import {
  FAILOVER_PAIR_GROUP as GROUP,
  FAILOVER_PAIR_KIND as KIND,
  FAILOVER_PAIR_PLURAL as PLURAL,
  FAILOVER_PAIR_VERSION as VERSION,
} from './crd.js';

export { GROUP, KIND, PLURAL, VERSION };
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A FailoverPair as it comes off the wire (manifest, API server, pairs file). */
export interface FailoverPairManifest {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: Date;
    resourceVersion?: string;
  };
  spec?: unknown;
  status?: FailoverPairStatus;
}

/**
 * Drops metadata.managedFields from a manifest the agent keeps (in place; returns it). Nothing in
 * the agent reads them, and with three field managers per node they were most of each cached
 * object: a third of the heap the pairs took at 1,000 pairs.
 */
export function withoutManagedFields<T extends FailoverPairManifest>(manifest: T): T {
  const metadata = manifest.metadata as { managedFields?: unknown } | undefined;
  if (metadata && 'managedFields' in metadata) delete metadata.managedFields;
  return manifest;
}

const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Turns a manifest into what the reconciler uses, or into a report naming every problem with
 * its field path and value. The same rules as the CRD (core's single schema) apply to both
 * Kubernetes objects and pairs-file entries.
 */
export function toPairObject(
  manifest: FailoverPairManifest,
  defaultNamespace = 'default',
  location?: string,
  previous?: PairObject,
): PairObject | InvalidPair {
  const meta = manifest.metadata ?? {};
  const namespace = meta.namespace || defaultNamespace;
  const name = meta.name ?? '';
  const key = pairKey(namespace, name || '<unnamed>');
  const generation = meta.generation ?? 0;
  const problems = [];
  if (manifest.kind !== undefined && manifest.kind !== KIND) {
    problems.push({ path: 'kind', value: manifest.kind, message: `must be ${KIND}` });
  }
  if (manifest.apiVersion !== undefined && manifest.apiVersion !== API_VERSION) {
    problems.push({ path: 'apiVersion', value: manifest.apiVersion, message: `must be ${API_VERSION}` });
  }
  if (!name || name.length > 253 || !DNS_1123_SUBDOMAIN.test(name)) {
    problems.push({ path: 'metadata.name', value: meta.name, message: 'must be a DNS-1123 subdomain' });
  }
  if (!DNS_1123_SUBDOMAIN.test(namespace) || namespace.length > 63) {
    problems.push({ path: 'metadata.namespace', value: namespace, message: 'must be a DNS-1123 label' });
  }
  const result = sameSpecAs(previous, key, generation) ?? validateFailoverPairSpec(manifest.spec);
  if (!result.ok)
    problems.push(...result.problems.map((p) => ({ ...p, path: `spec${p.path ? `.${p.path}` : ''}` })));
  if (problems.length > 0 || !result.ok) {
    return location ? { key, generation, problems, location } : { key, generation, problems };
  }
  return {
    key,
    namespace,
    name,
    generation,
    ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
    spec: result.value,
    requests: requestsFromAnnotations(meta.annotations),
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    finalizers: meta.finalizers ?? [],
    status: manifest.status,
  };
}

/**
 * The API server bumps metadata.generation on every change of the spec (the status subresource
 * and metadata leave it alone), so a pair seen before at the same generation has the spec already
 * validated. Every status write of either node comes back as a watch event to both: at 1,000
 * pairs, validating those again cost seconds of CPU in the middle of a mass failover.
 * Generation 0 (a pairs file, which has none) never matches: always validated.
 */
function sameSpecAs(previous: PairObject | undefined, key: string, generation: number) {
  if (!previous || generation <= 0 || previous.key !== key || previous.generation !== generation)
    return undefined;
  return { ok: true as const, value: previous.spec };
}

export const isInvalid = (p: PairObject | InvalidPair): p is InvalidPair => 'problems' in p;

/** "spec.probe.ports[0]: must be <= 65535 (got 70000)" lines for logs and events. */
export function describeProblems(invalid: InvalidPair): string {
  return invalid.problems
    .map((p) => `${p.path || '(root)'}: ${p.message} (got ${JSON.stringify(p.value)})`)
    .join('; ');
}
