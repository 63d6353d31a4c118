import { createHash } from 'node:crypto';

/**
 * Short, stable id for a pair key: safe in chain names (iptables allows 28 chars)
 * and identical across runs, so a new run adopts what an earlier one left.
 */
export function pairId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** Keys are kept in rule comments when short enough (nft comments hold 128 bytes). */
export const COMMENT_KEY_MAX = 100;

export function commentKey(key: string): string | undefined {
  return key.length <= COMMENT_KEY_MAX ? key : undefined;
}
