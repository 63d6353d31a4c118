import {
  type Configuration,
  createConfiguration,
  type KubeConfig,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * client-node (2.x) builds a new undici Agent for every API call, so every status write opened
 * its own TLS connection (a new secure context, a handshake) and left it for the server to close:
 * at 1,000 pairs that was most of the agent's CPU, much of its memory, and the "other side
 * closed" errors. This authentication applies the kubeconfig as before (headers, refreshed
 * tokens) but sends every call through one keep-alive pool, renewed now and then so rotated
 * client certificates are picked up.
 */
export class PooledKubeAuth implements SecurityAuthentication {
  private dispatcher: Dispatcher | undefined;
  private createdAt = 0;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly maxAgeMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  getName(): string {
    return 'kubeconfig over one connection pool';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return; // plain http: nothing to pool
    if (this.dispatcher === undefined || this.now() - this.createdAt > this.maxAgeMs) {
      const old = this.dispatcher;
      this.dispatcher = fresh;
      this.createdAt = this.now();
      // close() lets requests in flight finish first.
      void old?.close().catch(() => {});
      return;
    }
    // The fresh agent never connected: it holds no socket and is simply dropped.
    context.setDispatcher(this.dispatcher);
  }

  /** Closes the pool (after the calls in flight). */
  async close(): Promise<void> {
    const old = this.dispatcher;
    this.dispatcher = undefined;
    await old?.close().catch(() => {});
  }
}

/** Like `kubeConfig.makeApiClient(type)`, with every call on the given pooled authentication. */
export function makePooledApiClient<T>(
  kubeConfig: KubeConfig,
  apiClientType: new (config: Configuration) => T,
  auth: SecurityAuthentication,
): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig: no current cluster (current-context names none)');
  return new apiClientType(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: auth },
    }),
  );
}
