import type { Logger } from 'pino';
import { nodeFinalizer, type PairObject } from '../reconcile/pair.js';
import type { EventSink, StatusFragment, StatusSink } from '../reconcile/ports.js';
import type { FailoverPairApi } from './failover-pair-api.js';

/** The pair-level status changed since the version a write was computed from: decide again. */
export class StatusConflictError extends Error {
  readonly code = 409;

  constructor(key: string, guard: string | undefined, newestSeen: string | undefined) {
    super(
      `${key}: pair-level status changed since resourceVersion ${guard ?? '(none)'} it was computed from` +
        ` (newest seen here: ${newestSeen ?? 'none'}); retrying with a fresh view`,
    );
    this.name = 'StatusConflictError';
  }
}

/** Status and finalizers through server-side apply, one field manager per node. */
export class KubernetesStatusSink implements StatusSink {
  constructor(
    private readonly api: FailoverPairApi,
    private readonly node: string,
  ) {}

  async writeStatus(
    pair: PairObject,
    fragment: StatusFragment,
    what: { member: boolean; pair: boolean },
  ): Promise<void> {
    // The guarded pair-level write goes first: the member write changes the resourceVersion.
    if (what.pair && fragment.pair) {
      const { fields, basedOnResourceVersion } = fragment.pair;
      const guard = this.api.versions.guardFor(
        pair.key,
        basedOnResourceVersion,
        pair.generation,
        pair.status,
      );
      try {
        await this.api.applyPairStatus(pair.namespace, pair.name, fields, guard);
      } catch (error) {
        if ((error as { code?: number })?.code !== 409) throw error;
        throw new StatusConflictError(pair.key, guard, this.api.versions.newest(pair.key));
      }
    }
    if (what.member) await this.api.applyMemberStatus(pair.namespace, pair.name, fragment.member);
  }

  async addFinalizer(pair: PairObject): Promise<void> {
    await this.api.applyFinalizers(pair.namespace, pair.name, [nodeFinalizer(this.node)]);
  }

  async removeFinalizer(pair: PairObject): Promise<void> {
    await this.api.applyFinalizers(pair.namespace, pair.name, []);
  }
}

/**
 * core/v1 Events, best effort. The API server may not serve them (apiextensions-apiserver alone
 * does not): then it says so once in the log and stops trying.
 */
export class KubernetesEventSink implements EventSink {
  private disabled = false;

  constructor(
    private readonly api: FailoverPairApi,
    private readonly log: Logger,
  ) {}

  normal(pair: PairObject, reason: string, message: string): void {
    this.emit(pair, 'Normal', reason, message);
  }

  warning(pair: PairObject, reason: string, message: string): void {
    this.emit(pair, 'Warning', reason, message);
  }

  private emit(pair: PairObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.disabled) return;
    this.api
      .createEvent({ namespace: pair.namespace, name: pair.name, reason, message, type, at: new Date() })
      .catch((error: { code?: number }) => {
        if (error?.code === 404) {
          // Several events may be in flight when the first 404 arrives: say it once.
          if (!this.disabled)
            this.log.warn('the API server does not serve core/v1 events; transitions are logged only');
          this.disabled = true;
        } else {
          this.log.debug({ err: error, pair: pair.key }, 'could not record event');
        }
      });
  }
}
