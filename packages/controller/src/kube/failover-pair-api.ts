import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { MemberStatus } from '@probegate/core';
import { Limiter } from '../queue/limiter.js';
import type { PairLevelStatus } from '../reconcile/ports.js';
import {
  API_VERSION,
  type FailoverPairManifest,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  withoutManagedFields,
} from './failover-pair-object.js';
import { PairVersions } from './pair-versions.js';
import { permission } from './permissions.js';
import { makePooledApiClient, PooledKubeAuth } from './pooled-connections.js';

// Each call names the permission it needs; the chart's RBAC test compares them with the ClusterRole.
const CALLS = {
  list: permission('failoverpairs', 'list'),
  watch: permission('failoverpairs', 'watch'),
  applyFinalizer: permission('failoverpairs', 'patch'),
  applyStatus: permission('failoverpairs/status', 'patch'),
  createEvent: permission('events', 'create'),
};

const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/**
 * Hears of every object one of our writes returned, with the pair-level fields the write set
 * (if it was a pair-level status write).
 */
export type WrittenListener = (object: FailoverPairManifest, pairFields?: PairLevelStatus) => void;

/** The few FailoverPair calls the agent makes, one field manager per node. */
export class FailoverPairApi {
  private readonly objects: CustomObjectsApi;
  private readonly core: CoreV1Api;
  /** One keep-alive connection pool for every call (client-node would open one per call). */
  private readonly auth: PooledKubeAuth;
  /** Calls in flight at once: 1,000 reconciles starting together must not open 1,000 connections. */
  private readonly limiter = new Limiter(32);
  private readonly writtenListeners: WrittenListener[] = [];
  /** Newest version seen per pair (the source notes watch events, writes note themselves). */
  readonly versions = new PairVersions();

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly node: string,
  ) {
    this.auth = new PooledKubeAuth(kubeConfig);
    this.objects = makePooledApiClient(kubeConfig, CustomObjectsApi, this.auth);
    this.core = makePooledApiClient(kubeConfig, CoreV1Api, this.auth);
  }

  /**
   * Every object the API server returned from one of our writes (status, finalizers): the cache
   * can take it at once instead of acting on a stale copy until the watch event arrives.
   */
  onWritten(listener: WrittenListener): void {
    this.writtenListeners.push(listener);
  }

  private written(object: unknown, pairFields?: PairLevelStatus): FailoverPairManifest {
    const manifest = object as FailoverPairManifest;
    this.versions.note(manifest);
    for (const listener of this.writtenListeners) listener(manifest, pairFields);
    return manifest;
  }

  /** Path the informer watches (CALLS.watch). */
  watchPath(namespace?: string): string {
    void CALLS.watch;
    return namespace
      ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`
      : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  }

  async list(namespace?: string): Promise<KubernetesListObject<FailoverPairManifest>> {
    void CALLS.list;
    const result = namespace
      ? await this.objects.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
        })
      : await this.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
    const list = result as KubernetesListObject<FailoverPairManifest>;
    // The informer caches every item: without managed fields (see withoutManagedFields).
    for (const item of list.items) withoutManagedFields(item);
    return list;
  }

  private get fieldManager(): string {
    return `probegate-${this.node}`.slice(0, 128);
  }

  /** Server-side apply of this node's member entry (a list-map entry keyed by node). */
  async applyMemberStatus(
    namespace: string,
    name: string,
    member: MemberStatus,
  ): Promise<FailoverPairManifest> {
    void CALLS.applyStatus;
    return this.applyStatusAs(this.fieldManager, namespace, name, { members: [member] });
  }

  /**
   * Server-side apply of the pair-level fields under a manager of their own, so a node that stops
   * writing them does not erase them. With a resourceVersion the write is refused (409) if the
   * object changed since it was read.
   */
  async applyPairStatus(
    namespace: string,
    name: string,
    fields: PairLevelStatus,
    resourceVersion: string | undefined,
  ): Promise<FailoverPairManifest> {
    void CALLS.applyStatus;
    return this.applyStatusAs(
      `${this.fieldManager}-pair`.slice(0, 128),
      namespace,
      name,
      fields,
      resourceVersion,
      fields,
    );
  }

  private async applyStatusAs(
    fieldManager: string,
    namespace: string,
    name: string,
    status: object,
    resourceVersion?: string,
    pairFields?: PairLevelStatus,
  ): Promise<FailoverPairManifest> {
    const object = await this.limiter.run(() =>
      this.objects.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body: {
            apiVersion: API_VERSION,
            kind: KIND,
            metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
            status,
          },
          fieldManager,
          force: true,
        },
        applyPatch,
      ),
    );
    return this.written(object, pairFields);
  }

  /** Server-side apply of this node's finalizer (finalizers are a set: each node owns its own). */
  async applyFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
  ): Promise<FailoverPairManifest> {
    void CALLS.applyFinalizer;
    const object = await this.limiter.run(() =>
      this.objects.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, finalizers } },
          fieldManager: `${this.fieldManager}-finalizer`.slice(0, 128),
          force: true,
        },
        applyPatch,
      ),
    );
    return this.written(object);
  }

  async createEvent(event: {
    namespace: string;
    name: string;
    reason: string;
    message: string;
    type: 'Normal' | 'Warning';
    at: Date;
  }): Promise<void> {
    void CALLS.createEvent;
    await this.core.createNamespacedEvent({
      namespace: event.namespace,
      body: {
        metadata: { generateName: `${event.name}.`, namespace: event.namespace },
        involvedObject: { apiVersion: API_VERSION, kind: KIND, name: event.name, namespace: event.namespace },
        reason: event.reason,
        message: event.message.slice(0, 1024),
        type: event.type,
        firstTimestamp: event.at,
        lastTimestamp: event.at,
        count: 1,
        source: { component: 'probegate', host: this.node },
        reportingComponent: 'probegate.io/agent',
        reportingInstance: this.node,
      },
    });
  }
}
