import type { LockRecord, LockTransition, PairKey } from './types.js';

export const defaultKeyPrefix = 'probegate';
export const defaultHistoryLength = 10;

const segment = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

export function validatePairKey(pair: PairKey): void {
  for (const field of ['namespace', 'name'] as const) {
    if (typeof pair[field] !== 'string' || !segment.test(pair[field])) {
      throw new Error(
        `pair.${field}: '${String(pair[field])}' is not a valid name (letters, digits, '.', '_', '-')`,
      );
    }
  }
}

export function pairId(pair: PairKey): string {
  validatePairKey(pair);
  return `${pair.namespace}/${pair.name}`;
}

/** KV key of a pair's lock; its value is the readable LockRecord. */
export function lockKey(pair: PairKey, prefix = defaultKeyPrefix): string {
  validatePairKey(pair);
  return `${prefix}/${pair.namespace}/${pair.name}/leader`;
}

const isTransition = (t: unknown): t is LockTransition => {
  const r = t as Record<string, unknown>;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.from === null || typeof r.from === 'string') &&
    (r.to === null || typeof r.to === 'string') &&
    typeof r.reason === 'string' &&
    typeof r.at === 'string'
  );
};

/** Reads a record written by any probegate agent; anything else (hand-edited, empty) is undefined. */
export function parseLockRecord(text: string | null | undefined): LockRecord | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Record<string, unknown>;
  if (typeof r !== 'object' || r === null) return undefined;
  if (typeof r.pair !== 'string' || typeof r.since !== 'string' || typeof r.reason !== 'string')
    return undefined;
  if (!(r.holder === null || typeof r.holder === 'string')) return undefined;
  if (!Array.isArray(r.transitions) || !r.transitions.every(isTransition)) return undefined;
  return {
    pair: r.pair,
    holder: r.holder,
    since: r.since,
    reason: r.reason,
    transitions: r.transitions,
  };
}

/** The record after `holder` took (or, when null, gave back) the lock, keeping the last `keep` transitions. */
export function nextLockRecord(
  previous: LockRecord | undefined,
  pair: string,
  holder: string | null,
  reason: string,
  at: Date,
  keep = defaultHistoryLength,
): LockRecord {
  const from = previous?.holder ?? null;
  const transition: LockTransition = { from, to: holder, reason, at: at.toISOString() };
  const transitions = [...(previous?.transitions ?? []), transition].slice(-keep);
  const unchanged = previous !== undefined && from === holder;
  return {
    pair,
    holder,
    since: unchanged ? previous.since : at.toISOString(),
    reason,
    transitions: unchanged ? (previous?.transitions ?? []) : transitions,
  };
}
