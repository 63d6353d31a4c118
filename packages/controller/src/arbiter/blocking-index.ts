// Index rules for Consul blocking queries (Consul docs, "Blocking Queries: implementation details"):
// the next index is the one returned; if it went backwards (snapshot restore, new leader) the watch
// starts over; an index that is zero or missing is never sent back, since `index=0` returns at once
// and would turn the watch into a busy loop. 1 is the safe value for both cases: it answers at once
// with the current state and a fresh index, then blocking resumes.

export function nextBlockingIndex(previous: bigint | undefined, returned: bigint | undefined): bigint {
  if (returned === undefined || returned <= 0n) return 1n;
  if (previous !== undefined && returned < previous) return 1n;
  return returned;
}

/** Parses X-Consul-Index; anything that is not a non-negative integer is undefined. */
export function parseConsulIndex(header: unknown): bigint | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return undefined;
  return BigInt(value);
}

/** Go duration string ("30s", "5m") to milliseconds; Consul caps blocking waits at 10 minutes. */
export function parseWait(wait: string): number {
  const ms = parseDuration('wait', wait);
  if (ms < 1 || ms > 600_000) throw new Error(`wait must be between 1ms and 10m, got '${wait}'`);
  return ms;
}

/** A duration such as 500ms, 3s or 5m, in milliseconds; `field` names the setting in the error. */
export function parseDuration(field: string, text: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text);
  if (!match) throw new Error(`${field} must look like 500ms, 30s or 5m, got '${text}'`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000;
}
