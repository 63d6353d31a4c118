import type { FailoverPairStatus } from '@probegate/core';
import type { FailoverPairManifest } from './failover-pair-object.js';
import { isNewerResourceVersion } from './resource-version.js';

interface Seen {
  resourceVersion: string;
  generation: number | undefined;
  /** Kept as is: compared (serialized) only for a pair-level write, not for every watch event. */
  status: FailoverPairStatus | undefined;
}

/** The pair-level status fields, as one comparable string (the API server orders keys stably). */
export function pairFieldsOf(status: FailoverPairStatus | undefined): string {
  return JSON.stringify([
    status?.activeNode ?? '',
    status?.transitions ?? 0,
    status?.observedGeneration,
    status?.lastTransition,
    status?.conditions,
  ]);
}

const keyOf = (m: FailoverPairManifest) => `${m.metadata?.namespace ?? 'default'}/${m.metadata?.name ?? ''}`;

/**
 * The newest resourceVersion seen per pair (watch events and our own writes), with what the
 * pair-level status was at that version. A pair-level write is guarded by the version its
 * fields were computed from; when only member entries or finalizers changed since, the newer
 * version is an equally valid guard, and using it avoids a needless 409 and retry.
 */
export class PairVersions {
  private readonly seen = new Map<string, Seen>();

  note(manifest: FailoverPairManifest): void {
    const resourceVersion = manifest.metadata?.resourceVersion;
    if (!resourceVersion) return;
    const key = keyOf(manifest);
    const known = this.seen.get(key);
    if (known && !isNewerResourceVersion(resourceVersion, known.resourceVersion)) return;
    this.seen.set(key, {
      resourceVersion,
      generation: manifest.metadata?.generation,
      status: manifest.status,
    });
  }

  /** The newest resourceVersion seen for the pair. */
  newest(key: string): string | undefined {
    return this.seen.get(key)?.resourceVersion;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }

  /**
   * The version to guard a pair-level write with: the newest one seen if the pair's generation
   * and pair-level fields there are those the write was computed from, else `basedOn`.
   */
  guardFor(
    key: string,
    basedOn: string | undefined,
    generation: number,
    status: FailoverPairStatus | undefined,
  ): string | undefined {
    const newest = this.seen.get(key);
    if (!newest || basedOn === undefined) return basedOn;
    if (!isNewerResourceVersion(newest.resourceVersion, basedOn)) return basedOn;
    if (newest.generation !== generation || pairFieldsOf(newest.status) !== pairFieldsOf(status))
      return basedOn;
    return newest.resourceVersion;
  }
}
