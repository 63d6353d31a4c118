import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { execa } from 'execa';
import { type Daemon, startDaemon } from './daemon.js';

/** Result of a command run inside a namespace; never throws on a non-zero exit. */
export interface NsResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const namespaces = new Set<string>();
// Stopped before their namespaces go; daemon.ts kills them anyway when the test process ends.
const processes = new Set<Daemon>();
let hooked = false;

/** Synchronous, best effort: runs on exit and on signals, when promises can no longer settle. */
function destroyEverythingSync(): void {
  for (const p of processes) p.kill('SIGKILL');
  processes.clear();
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  namespaces.clear();
}

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', destroyEverythingSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      destroyEverythingSync();
      process.kill(process.pid, signal);
    });
  }
}

/** Only addresses reserved for network testing are ever assigned. */
function assertTestAddress(field: string, cidr: string): void {
  const [addr = '', prefix = ''] = cidr.split('/');
  const [a, b] = addr.split('.').map(Number);
  if (!isIPv4(addr) || !/^\d+$/.test(prefix) || Number(prefix) > 32 || a !== 198 || (b !== 18 && b !== 19)) {
    throw new Error(
      `invalid ${field}: ${JSON.stringify(cidr)}: expected an address in 198.18.0.0/15 with a prefix`,
    );
  }
}

/** Runs argv inside the namespace (argument array, no shell). */
export async function execIn(
  ns: string,
  argv: readonly string[],
  opts: { input?: string } = {},
): Promise<NsResult> {
  const r = await execa('ip', ['netns', 'exec', ns, ...argv], { reject: false, input: opts.input ?? '' });
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
}

/** Like execIn, but a non-zero exit throws with the command and its stderr. */
export async function mustExecIn(
  ns: string,
  argv: readonly string[],
  opts: { input?: string } = {},
): Promise<string> {
  const r = await execIn(ns, argv, opts);
  if (r.exitCode !== 0)
    throw new Error(`in netns ${ns}: ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function ip(argv: readonly string[]): Promise<void> {
  const r = await execa('ip', argv, { reject: false });
  if (r.exitCode !== 0)
    throw new Error(`ip ${argv.join(' ')} exited ${r.exitCode}: ${String(r.stderr).trim()}`);
}

/**
 * A fresh network namespace with `lo` up, deleted on destroyNamespace,
 * destroyAllNamespaces (afterAll) or process exit. Names are short and unique.
 */
export async function createNamespace(prefix = 'pg'): Promise<string> {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) {
    throw new Error(
      `invalid namespace prefix: ${JSON.stringify(prefix)}: expected 1-6 lowercase letters/digits`,
    );
  }
  hookProcessExit();
  const name = `${prefix}${randomBytes(4).toString('hex')}`;
  await ip(['netns', 'add', name]);
  namespaces.add(name);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

export async function destroyNamespace(ns: string): Promise<void> {
  if (!namespaces.has(ns)) return;
  namespaces.delete(ns);
  await ip(['netns', 'del', ns]);
}

/** Stops every process started with spawnIn and deletes every namespace this process created. */
export async function destroyAllNamespaces(): Promise<void> {
  await Promise.all([...processes].map((p) => p.stop()));
  await Promise.all([...namespaces].map((ns) => destroyNamespace(ns)));
}

/** Namespaces created by this process and not yet deleted. */
export function liveNamespaces(): string[] {
  return [...namespaces];
}

/**
 * Links two namespaces with a veth pair, created directly inside them (the root
 * namespace never sees it). Addresses must be CIDRs from 198.18.0.0/15, e.g. 198.18.0.1/24.
 */
export async function addVethPair(
  nsA: string,
  nsB: string,
  addrA: string,
  addrB: string,
): Promise<{ ifA: string; ifB: string }> {
  assertTestAddress('addrA', addrA);
  assertTestAddress('addrB', addrB);
  const tag = randomBytes(3).toString('hex');
  const ifA = `va${tag}`;
  const ifB = `vb${tag}`;
  await ip(['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  await ip(['-n', nsA, 'addr', 'add', addrA, 'dev', ifA]);
  await ip(['-n', nsB, 'addr', 'add', addrB, 'dev', ifB]);
  await ip(['-n', nsA, 'link', 'set', ifA, 'up']);
  await ip(['-n', nsB, 'link', 'set', ifB, 'up']);
  return { ifA, ifB };
}

/**
 * A process running in a namespace. Deliberately not a promise (an async function
 * returning a thenable would wait for the process to exit).
 */
export interface BackgroundProcess {
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts a long-running process inside the namespace; stopped by stop() or destroyAllNamespaces. */
export function spawnIn(ns: string, argv: readonly string[]): BackgroundProcess {
  hookProcessExit();
  const daemon = startDaemon(`${ns}-${argv[0] ?? ''}`, argv, { netns: ns });
  processes.add(daemon);
  void daemon.done.then(() => processes.delete(daemon));
  return { pid: daemon.pid, stop: () => daemon.stop() };
}

/** A TCP server answering `reply` to every connection (socat), e.g. a probe target. */
export async function listenTcp(
  ns: string,
  port: number,
  reply = 'probegate-ok',
): Promise<BackgroundProcess> {
  if (!/^[a-z0-9-]+$/.test(reply))
    throw new Error(`invalid reply: ${JSON.stringify(reply)}: expected [a-z0-9-]`);
  const child = spawnIn(ns, ['socat', `TCP-LISTEN:${port},fork,reuseaddr`, `EXEC:echo ${reply}`]);
  for (let i = 0; i < 100; i++) {
    const r = await execIn(ns, ['ss', '-Hltn', `sport = :${port}`]);
    if (r.stdout.trim() !== '') return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await child.stop();
  throw new Error(`socat did not listen on port ${port} in netns ${ns}`);
}

/**
 * Opens a real TCP connection from the namespace; returns what the server said, or
 * undefined when the connection failed (dropped, refused, timed out).
 */
export async function tcpConnect(
  ns: string,
  address: string,
  port: number,
  timeoutSeconds = 1,
): Promise<string | undefined> {
  const r = await execIn(ns, [
    'socat',
    `-T${timeoutSeconds}`,
    '-',
    `TCP:${address}:${port},connect-timeout=${timeoutSeconds}`,
  ]);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
