import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import { parseConsulIndex } from './blocking-index.js';
import type { ConsulConnection } from './consul-config.js';
import { ArbiterError, classifyError } from './errors.js';
import { type ArbiterMetrics, noopArbiterMetrics } from './metrics.js';
import type { ReachabilityTracker } from './reachability.js';
import type { HealthTarget } from './types.js';

// ---------------------------------------------------------------------------------------------------------
// The `consul` package's TypeScript types omit what blocking queries need (index, wait, consistent, a
// cancellation context, per-call timeout, the raw response with X-Consul-Index). The package itself
// passes these through, so this is the one place where that surface is typed.

interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** papi aborts a request when its ctx emits 'cancel'; includeResponse returns [response, body]. */
type CallContext = EventEmitter & { includeResponse: true };

interface CommonCallOptions {
  ctx: CallContext;
  timeout: number;
  dc?: string;
  token?: string;
}

interface BlockingCallOptions extends CommonCallOptions {
  index?: string;
  wait?: string;
  consistent?: boolean;
}

type WithResponse<T = unknown> = Promise<[RawResponse, T?]>;

interface ConsulSurface {
  health: {
    service(
      options: BlockingCallOptions & { service: string; tag?: string; passing?: boolean },
    ): WithResponse;
  };
  kv: {
    get(options: BlockingCallOptions & { key: string; recurse?: boolean }): WithResponse;
    set(
      options: CommonCallOptions & {
        key: string;
        value: string;
        acquire?: string;
        release?: string;
        cas?: number;
      },
    ): WithResponse;
  };
  session: {
    create(
      options: CommonCallOptions & {
        name: string;
        node?: string;
        checks: string[];
        behavior: 'release' | 'delete';
        lockdelay: string;
        ttl?: string;
      },
    ): WithResponse;
    renew(options: CommonCallOptions & { id: string }): WithResponse;
    list(options: BlockingCallOptions): WithResponse;
    info(options: CommonCallOptions & { id: string }): WithResponse;
    node(options: CommonCallOptions & { node: string }): WithResponse;
    destroy(options: CommonCallOptions & { id: string }): WithResponse;
  };
  agent: { self(options: CommonCallOptions): WithResponse };
  transaction: { create(operations: unknown[], options: CommonCallOptions): WithResponse };
  destroy(): void;
}

interface ConsulConstructorOptions {
  baseUrl: string;
  defaults?: { token?: string };
  ca?: string;
  servername?: string;
  agent?: HttpAgent | HttpsAgent;
}

/**
 * Consul refuses more than 200 connections per client address (http_max_conns_per_client), and a
 * mass failover of 1,000 pairs makes 1,000 calls at once: share a bounded pool of kept-alive sockets.
 */
export const CONSUL_MAX_SOCKETS = 64;

const ConsulClass = Consul as unknown as new (options: ConsulConstructorOptions) => ConsulSurface;

// ---------------------------------------------------------------------------------------------------------
// What the arbiter reads back, validated: a malformed answer is an error, never a crash later on.

export interface ServiceInstance {
  consulNode: string;
  nodeAddress: string;
  serviceId: string;
  serviceAddress: string;
  checks: { id: string; serviceId: string; status: string }[];
}

export interface KvEntry {
  key: string;
  value: string | null;
  session?: string;
  modifyIndex: number;
}

export interface SessionInfo {
  id: string;
  name: string;
  node: string;
  checks: string[];
  behavior: string;
  /** As Consul writes it, e.g. "16s"; '' without a TTL. */
  ttl: string;
  lockDelayMs: number;
}

export interface Blocking<T> {
  value: T;
  index: bigint | undefined;
}

export interface BlockingQuery {
  index?: bigint;
  wait: string;
  waitMs: number;
  signal?: AbortSignal;
}

export interface SessionSpec {
  name: string;
  node: string;
  checks: string[];
  lockDelay: string;
  ttl?: string;
}

/** One operation of a lock transaction. */
export interface LockOp {
  verb: 'lock' | 'unlock';
  key: string;
  value: string;
  session: string;
}

export interface TxnFailure {
  /** Index of the refused operation in the transaction. */
  index: number;
  what: string;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface ConsulClientOptions {
  connection: ConsulConnection;
  /** Timeout of calls that do not block. */
  requestTimeoutMs?: number;
  metrics?: ArbiterMetrics;
  reachability?: ReachabilityTracker;
  /** Called before each HTTP request (tests count requests with it). */
  onRequest?: (operation: string) => void;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const str = (v: unknown): v is string => typeof v === 'string';

function malformed(operation: string, what: string): ArbiterError {
  return new ArbiterError('malformed-response', operation, what);
}

/** Some 500 answers are semantic refusals (e.g. an invalid session), not an unhealthy agent. */
async function refusedWhen<T>(pattern: RegExp, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // papi only copies short text bodies into the message, so look at the body itself too.
    const raw = error as { message?: string; response?: { statusCode?: number; body?: unknown } };
    const text = `${raw.message ?? ''} ${typeof raw.response?.body === 'string' ? raw.response.body : ''}`;
    if (raw.response?.statusCode === 500 && pattern.test(text)) {
      throw new ArbiterError('rejected', operation, text.trim(), 500);
    }
    throw error;
  }
}

function parseInstances(body: unknown): ServiceInstance[] {
  if (!Array.isArray(body)) throw malformed('health.service', `expected a JSON array, got ${typeof body}`);
  return body.map((entry, i) => {
    const node = isRecord(entry) ? entry.Node : undefined;
    const service = isRecord(entry) ? entry.Service : undefined;
    const checks = isRecord(entry) ? entry.Checks : undefined;
    if (!isRecord(node) || !str(node.Node) || !str(node.Address) || !isRecord(service) || !str(service.ID)) {
      throw malformed('health.service', `entry ${i} lacks Node.Node, Node.Address or Service.ID`);
    }
    if (!Array.isArray(checks)) throw malformed('health.service', `entry ${i} lacks a Checks array`);
    return {
      consulNode: node.Node,
      nodeAddress: node.Address,
      serviceId: service.ID,
      serviceAddress: str(service.Address) ? service.Address : '',
      checks: checks.map((c, j) => {
        if (!isRecord(c) || !str(c.CheckID) || !str(c.Status)) {
          throw malformed('health.service', `entry ${i} check ${j} lacks CheckID or Status`);
        }
        return { id: c.CheckID, serviceId: str(c.ServiceID) ? c.ServiceID : '', status: c.Status };
      }),
    };
  });
}

function indexOf(operation: string, response: RawResponse): bigint {
  const index = parseConsulIndex(response.headers['x-consul-index']);
  if (index === undefined) throw malformed(operation, 'response has no valid X-Consul-Index header');
  return index;
}

function parseBoolean(operation: string, body: unknown): boolean {
  if (typeof body !== 'boolean')
    throw malformed(operation, `expected true or false, got ${JSON.stringify(body)}`);
  return body;
}

function parseKv(body: unknown, response: RawResponse): KvEntry | undefined {
  // The package maps both a 404 and an answer it cannot read to "no value": only 404 means no key.
  if (body === undefined) {
    if (response.statusCode === 404) return undefined;
    throw malformed('kv.get', `expected a JSON array, got ${JSON.stringify(response.body)?.slice(0, 80)}`);
  }
  // The package hands back the first element of Consul's array, its Value already base64-decoded.
  const item = Array.isArray(body) ? body[0] : body;
  if (!isRecord(item) || !str(item.Key) || typeof item.ModifyIndex !== 'number') {
    throw malformed('kv.get', 'expected an entry holding Key and ModifyIndex');
  }
  const value = str(item.Value) ? item.Value : null;
  const entry: KvEntry = { key: item.Key, value, modifyIndex: item.ModifyIndex };
  if (str(item.Session) && item.Session !== '') entry.session = item.Session;
  return entry;
}

function parseKvList(body: unknown, response: RawResponse): KvEntry[] {
  if (body === undefined) {
    if (response.statusCode === 404) return [];
    throw malformed('kv.list', `expected a JSON array, got ${JSON.stringify(response.body)?.slice(0, 80)}`);
  }
  const items = Array.isArray(body) ? body : [body];
  return items.map((item) => {
    if (!isRecord(item) || !str(item.Key) || typeof item.ModifyIndex !== 'number') {
      throw malformed('kv.list', 'expected entries holding Key and ModifyIndex');
    }
    const entry: KvEntry = {
      key: item.Key,
      value: str(item.Value) ? item.Value : null,
      modifyIndex: item.ModifyIndex,
    };
    if (str(item.Session) && item.Session !== '') entry.session = item.Session;
    return entry;
  });
}

function parseSession(operation: string, item: unknown): SessionInfo {
  if (!isRecord(item) || !str(item.ID) || !str(item.Node))
    throw malformed(operation, 'session lacks ID or Node');
  // Consul 1.7+ lists node checks as NodeChecks and service checks as ServiceChecks [{ID}]; older, Checks.
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const checks = [
    ...list(item.Checks).filter(str),
    ...list(item.NodeChecks).filter(str),
    ...list(item.ServiceChecks).flatMap((c) => (isRecord(c) && str(c.ID) ? [c.ID] : [])),
  ];
  return {
    id: item.ID,
    name: str(item.Name) ? item.Name : '',
    node: item.Node,
    checks,
    behavior: str(item.Behavior) ? item.Behavior : '',
    ttl: str(item.TTL) ? item.TTL : '',
    // Consul reports LockDelay in nanoseconds.
    lockDelayMs: typeof item.LockDelay === 'number' ? item.LockDelay / 1e6 : 0,
  };
}

/** The arbiter's narrow view of Consul's HTTP API, with errors classified, metered and tracked. */
export class ConsulClient {
  private readonly consul: ConsulSurface;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly requestTimeoutMs: number;
  private readonly metrics: ArbiterMetrics;

  constructor(private readonly options: ConsulClientOptions) {
    const { connection } = options;
    const constructorOptions: ConsulConstructorOptions = { baseUrl: `${connection.address}/v1` };
    if (connection.token) constructorOptions.defaults = { token: connection.token };
    if (connection.caPem) constructorOptions.ca = connection.caPem;
    if (connection.serverName) constructorOptions.servername = connection.serverName;
    this.agent = connection.address.startsWith('https:')
      ? new HttpsAgent({ keepAlive: true, maxSockets: CONSUL_MAX_SOCKETS })
      : new HttpAgent({ keepAlive: true, maxSockets: CONSUL_MAX_SOCKETS });
    constructorOptions.agent = this.agent;
    this.consul = new ConsulClass(constructorOptions);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.metrics = options.metrics ?? noopArbiterMetrics;
  }

  close(): void {
    this.consul.destroy();
    this.agent.destroy();
  }

  async healthService(target: HealthTarget, query: BlockingQuery): Promise<Blocking<ServiceInstance[]>> {
    return this.call(
      'health.service',
      this.blockingTimeout(query),
      query.signal,
      (c) =>
        this.consul.health.service({
          ...c,
          ...this.blockingOptions(query),
          service: target.service,
          passing: false,
          ...(target.tag ? { tag: target.tag } : {}),
          ...(target.datacenter ? { dc: target.datacenter } : {}),
        }),
      (body, response) => ({ value: parseInstances(body), index: indexOf('health.service', response) }),
    );
  }

  async kvGet(key: string, query: BlockingQuery): Promise<Blocking<KvEntry | undefined>> {
    return this.call(
      'kv.get',
      this.blockingTimeout(query),
      query.signal,
      (c) => this.consul.kv.get({ ...c, ...this.blockingOptions(query), key }),
      (body, response) => ({ value: parseKv(body, response), index: indexOf('kv.get', response) }),
    );
  }

  /** Every entry under a prefix (recurse), as one blocking query: one watch serves all pairs' locks. */
  async kvList(prefix: string, query: BlockingQuery): Promise<Blocking<KvEntry[]>> {
    return this.call(
      'kv.list',
      this.blockingTimeout(query),
      query.signal,
      (c) => this.consul.kv.get({ ...c, ...this.blockingOptions(query), key: prefix, recurse: true }),
      (body, response) => ({ value: parseKvList(body, response), index: indexOf('kv.list', response) }),
    );
  }

  /**
   * Several lock/unlock operations in one transaction (/v1/txn, one Raft write; at most 64). All or
   * nothing: when Consul rolls it back, `failed` names each refused operation and why.
   */
  async kvLockTxn(ops: readonly LockOp[]): Promise<{ ok: true } | { ok: false; failed: TxnFailure[] }> {
    const body = ops.map((o) => ({
      KV: {
        Verb: o.verb,
        Key: o.key,
        Value: Buffer.from(o.value, 'utf8').toString('base64'),
        Session: o.session,
      },
    }));
    return this.call(
      'kv.txn',
      this.requestTimeoutMs,
      undefined,
      (c) =>
        this.consul.transaction.create(body, c).catch((error: unknown) => {
          // A rollback is an answer (409 with the refused operations), not a failure of Consul.
          const response = (error as { response?: RawResponse })?.response;
          if (response?.statusCode === 409) return [response, response.body] as [RawResponse, unknown];
          throw error;
        }),
      (answer, response) => {
        if (response.statusCode !== 409) return { ok: true as const };
        const parsed = typeof answer === 'string' ? safeJson(answer) : answer;
        const errors = isRecord(parsed) && Array.isArray(parsed.Errors) ? parsed.Errors : undefined;
        if (!errors) throw malformed('kv.txn', 'a rolled back transaction without Errors');
        return {
          ok: false as const,
          failed: errors.map((e) => ({
            index: isRecord(e) && typeof e.OpIndex === 'number' ? e.OpIndex : -1,
            what: isRecord(e) && str(e.What) ? e.What : '',
          })),
        };
      },
    );
  }

  /** PUT ?cas=modifyIndex: writes only if nobody changed the key since that index. */
  async kvCas(key: string, value: string, modifyIndex: number): Promise<boolean> {
    return this.call(
      'kv.cas',
      this.requestTimeoutMs,
      undefined,
      (c) => this.consul.kv.set({ ...c, key, value, cas: modifyIndex }),
      (body) => parseBoolean('kv.cas', body),
    );
  }

  async sessionCreate(spec: SessionSpec): Promise<string> {
    // Consul refuses a session whose checks are critical or unknown: an answer, not an outage.
    return this.call(
      'session.create',
      this.requestTimeoutMs,
      undefined,
      (c) =>
        refusedWhen(/critical state|missing check|not registered|no such check/i, 'session.create', () =>
          this.consul.session.create({
            ...c,
            name: spec.name,
            node: spec.node,
            checks: spec.checks,
            behavior: 'release',
            lockdelay: spec.lockDelay,
            ...(spec.ttl ? { ttl: spec.ttl } : {}),
          }),
        ),
      (body) => {
        if (!isRecord(body) || !str(body.ID)) throw malformed('session.create', 'answer lacks ID');
        return body.ID;
      },
    );
  }

  async sessionInfo(id: string): Promise<SessionInfo | undefined> {
    return this.call(
      'session.info',
      this.requestTimeoutMs,
      undefined,
      (c) => this.consul.session.info({ ...c, id }),
      (body) => {
        if (body === undefined || body === null) return undefined;
        // The package returns the first element; an invalidated session is an empty list.
        if (Array.isArray(body)) return body.length ? parseSession('session.info', body[0]) : undefined;
        return parseSession('session.info', body);
      },
    );
  }

  /** Renews a TTL session: true while it lives, false once Consul no longer knows it. */
  async sessionRenew(id: string, timeoutMs = this.requestTimeoutMs): Promise<boolean> {
    try {
      return await this.call(
        'session.renew',
        timeoutMs,
        undefined,
        (c) => this.consul.session.renew({ ...c, id }),
        () => true,
      );
    } catch (error) {
      if (error instanceof ArbiterError && error.kind === 'rejected' && error.statusCode === 404)
        return false;
      throw error;
    }
  }

  /** Every session in the datacenter, as a blocking query (peers' liveness). */
  async sessionList(query: BlockingQuery): Promise<Blocking<SessionInfo[]>> {
    return this.call(
      'session.list',
      this.blockingTimeout(query),
      query.signal,
      (c) => this.consul.session.list({ ...c, ...this.blockingOptions(query) }),
      (body, response) => {
        if (body === null) return { value: [], index: indexOf('session.list', response) };
        if (!Array.isArray(body)) throw malformed('session.list', 'expected a JSON array');
        return {
          value: body.map((s) => parseSession('session.list', s)),
          index: indexOf('session.list', response),
        };
      },
    );
  }

  async nodeSessions(node: string): Promise<SessionInfo[]> {
    return this.call(
      'session.node',
      this.requestTimeoutMs,
      undefined,
      (c) => this.consul.session.node({ ...c, node }),
      (body) => {
        if (body === null || body === undefined) return [];
        if (!Array.isArray(body)) throw malformed('session.node', 'expected a JSON array');
        return body.map((s) => parseSession('session.node', s));
      },
    );
  }

  async sessionDestroy(id: string): Promise<void> {
    await this.call(
      'session.destroy',
      this.requestTimeoutMs,
      undefined,
      (c) => this.consul.session.destroy({ ...c, id }),
      () => undefined,
    );
  }

  /** Node name of the agent we talk to. */
  async agentNodeName(): Promise<string> {
    return this.call(
      'agent.self',
      this.requestTimeoutMs,
      undefined,
      (c) => this.consul.agent.self(c),
      (body) => {
        const config = isRecord(body) ? body.Config : undefined;
        if (!isRecord(config) || !str(config.NodeName)) {
          throw malformed('agent.self', 'answer lacks Config.NodeName');
        }
        return config.NodeName;
      },
    );
  }

  private blockingOptions(query: BlockingQuery): Pick<BlockingCallOptions, 'index' | 'wait' | 'consistent'> {
    return {
      consistent: true,
      wait: query.wait,
      ...(query.index !== undefined ? { index: query.index.toString() } : {}),
    };
  }

  // Consul adds up to wait/16 of jitter to a blocking wait; allow that plus a margin before timing out.
  private blockingTimeout(query: BlockingQuery): number {
    return query.index === undefined
      ? this.requestTimeoutMs
      : query.waitMs + query.waitMs / 16 + this.requestTimeoutMs;
  }

  /** One HTTP call: parsing happens inside, so a malformed answer counts as a failure like any other. */
  private async call<R>(
    operation: string,
    timeout: number,
    signal: AbortSignal | undefined,
    run: (common: CommonCallOptions) => WithResponse,
    parse: (body: unknown, response: RawResponse) => R,
  ): Promise<R> {
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true as const });
    const cancel = () => ctx.emit('cancel');
    if (signal?.aborted) throw new ArbiterError('cancelled', operation, 'aborted before start');
    signal?.addEventListener('abort', cancel, { once: true });
    const started = performance.now();
    this.options.onRequest?.(operation);
    try {
      const [response, body] = await run({ ctx, timeout });
      const result = parse(body, response);
      this.metrics.request(operation, 'ok', (performance.now() - started) / 1000);
      this.options.reachability?.succeeded();
      this.metrics.reachable(this.options.reachability?.current.reachable ?? true);
      return result;
    } catch (raw) {
      const error = signal?.aborted
        ? new ArbiterError('cancelled', operation, 'aborted')
        : classifyError(operation, raw);
      const seconds = (performance.now() - started) / 1000;
      if (error.kind === 'cancelled') {
        this.metrics.request(operation, 'cancelled', seconds);
      } else {
        this.metrics.request(operation, 'error', seconds);
        this.metrics.error(operation, error.kind);
        // A refused request still proves the agent is there.
        if (error.kind === 'rejected') this.options.reachability?.succeeded();
        else this.options.reachability?.failed(error);
        this.metrics.reachable(this.options.reachability?.current.reachable ?? true);
      }
      throw error;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }
}
