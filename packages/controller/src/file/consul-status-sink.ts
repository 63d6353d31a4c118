import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { FailoverPairStatus, MemberStatus } from '@probegate/core';
import Consul from 'consul';
import type { ConsulConnection } from '../arbiter/consul-config.js';
import type { PairObject } from '../reconcile/pair.js';
import type { PairLevelStatus, StatusFragment, StatusSink } from '../reconcile/ports.js';

const DEFAULT_PREFIX = 'probegate';

/** KV keys of a pair's published status (VM mode): one per member, one for pair-level fields. */
export const memberStatusKey = (prefix: string, pairKey: string, node: string) =>
  `${prefix}/${pairKey}/members/${node}`;
export const pairStatusKey = (prefix: string, pairKey: string) => `${prefix}/${pairKey}/status`;

// Consul refuses more than 200 connections per client address: 200 pairs publishing at start would
// take them all (and starve the arbiter's session calls). A small kept-alive pool is plenty.
const STATUS_MAX_SOCKETS = 8;

const consulFor = (connection: ConsulConnection) =>
  new Consul({
    baseUrl: `${connection.address}/v1`,
    agent: connection.address.startsWith('https:')
      ? new HttpsAgent({ keepAlive: true, maxSockets: STATUS_MAX_SOCKETS })
      : new HttpAgent({ keepAlive: true, maxSockets: STATUS_MAX_SOCKETS }),
    ...(connection.token ? { defaults: { token: connection.token } } : {}),
    ...(connection.caPem ? { ca: connection.caPem } : {}),
    ...(connection.serverName ? { servername: connection.serverName } : {}),
  } as ConstructorParameters<typeof Consul>[0]);

/**
 * VM mode has no Kubernetes status: each node publishes its member entry (and, when it serves,
 * the pair-level fields) as JSON in Consul KV, next to the lock record, for `probegate status`
 * and anyone with `consul kv get`. It also keeps the last published status per pair, which
 * plays the role of the object's status for change detection.
 */
export class ConsulStatusSink implements StatusSink {
  private readonly consul: Consul;
  readonly published = new Map<string, { members: MemberStatus[] } & Partial<PairLevelStatus>>();

  constructor(
    connection: ConsulConnection,
    private readonly node: string,
    private readonly prefix = DEFAULT_PREFIX,
  ) {
    this.consul = consulFor(connection);
  }

  async writeStatus(pair: PairObject, fragment: StatusFragment, what: { member: boolean; pair: boolean }) {
    if (what.pair && fragment.pair) {
      await this.consul.kv.set(pairStatusKey(this.prefix, pair.key), JSON.stringify(fragment.pair.fields));
    }
    if (what.member) {
      await this.consul.kv.set(
        memberStatusKey(this.prefix, pair.key, this.node),
        JSON.stringify(fragment.member),
      );
    }
    const old = this.published.get(pair.key);
    this.published.set(pair.key, {
      ...(old ?? {}),
      ...(what.pair && fragment.pair ? fragment.pair.fields : {}),
      members: [fragment.member],
    });
  }

  currentStatus(pair: PairObject): FailoverPairStatus | undefined {
    return this.published.get(pair.key);
  }

  async refreshStatus(pair: PairObject): Promise<void> {
    const value = (await this.consul.kv.get(pairStatusKey(this.prefix, pair.key))) as
      | { Value?: string | null }
      | undefined;
    if (!value?.Value) return;
    let fields: Partial<PairLevelStatus>;
    try {
      fields = JSON.parse(value.Value) as PairLevelStatus;
    } catch {
      return; // hand-edited: our next write replaces it
    }
    const old = this.published.get(pair.key);
    this.published.set(pair.key, { ...(old ?? {}), ...fields, members: old?.members ?? [] });
  }

  async addFinalizer(): Promise<void> {}

  async removeFinalizer(): Promise<void> {}
}

/** Reads what the agents published for a pair (for `probegate status` in VM mode). */
export async function readPublishedStatus(
  connection: ConsulConnection,
  pairKey: string,
  prefix = DEFAULT_PREFIX,
): Promise<{ members: MemberStatus[] } & Partial<PairLevelStatus>> {
  const consul = consulFor(connection);
  const entries = (await consul.kv.get({ key: `${prefix}/${pairKey}/`, recurse: true })) as
    | { Key: string; Value: string | null }[]
    | undefined;
  const members: MemberStatus[] = [];
  let fields: Partial<PairLevelStatus> = {};
  for (const entry of entries ?? []) {
    if (!entry.Value) continue;
    try {
      if (entry.Key.includes('/members/')) members.push(JSON.parse(entry.Value) as MemberStatus);
      else if (entry.Key.endsWith('/status')) fields = JSON.parse(entry.Value) as PairLevelStatus;
    } catch {
      // Not ours or hand-edited: skip it.
    }
  }
  return { ...fields, members };
}
