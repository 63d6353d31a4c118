// Test-side helpers that drive a real Consul agent over its HTTP API (services, TTL checks, sessions, KV).
import { waitFor } from './wait.js';

async function call(method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: HTTP ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export interface TtlService {
  id: string;
  name: string;
  address: string;
  tags?: string[];
}

/** Registers a service instance with one TTL check (check id service:<id>), passing from the start. */
export async function registerTtlService(httpAddr: string, service: TtlService): Promise<void> {
  await call('PUT', `${httpAddr}/v1/agent/service/register`, {
    ID: service.id,
    Name: service.name,
    Address: service.address,
    Tags: service.tags ?? [],
    Check: { TTL: '10m', Status: 'passing' },
  });
}

export const passCheck = (httpAddr: string, serviceId: string) =>
  call('PUT', `${httpAddr}/v1/agent/check/pass/service:${serviceId}`);

export const failCheck = (httpAddr: string, serviceId: string) =>
  call('PUT', `${httpAddr}/v1/agent/check/fail/service:${serviceId}`);

export interface SessionRow {
  ID: string;
  Name: string;
  Node: string;
  Checks: string[];
}

export const nodeSessions = async (httpAddr: string, node: string) =>
  ((await call('GET', `${httpAddr}/v1/session/node/${node}`)) as SessionRow[] | null) ?? [];

export async function createSession(httpAddr: string, body: Record<string, unknown>): Promise<string> {
  return ((await call('PUT', `${httpAddr}/v1/session/create`, body)) as { ID: string }).ID;
}

export async function kvSession(httpAddr: string, key: string): Promise<string | undefined> {
  const response = await fetch(`${httpAddr}/v1/kv/${key}`);
  if (response.status === 404) return undefined;
  const [entry] = (await response.json()) as { Session?: string }[];
  return entry?.Session;
}

/** Waits until `read` returns a value matching `ok`, polling (never a fixed sleep). */
export function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
) {
  return waitFor(
    async () => {
      const value = await read();
      return ok(value) ? { value } : undefined;
    },
    { what, timeoutMs, intervalMs: 50 },
  ).then((r) => r.value);
}
