import type { DecisionMemory, MemberRole } from './types.js';

/**
 * Memory for a member's first decision. `activeHint` is who the pair last published
 * as active (status.activeNode or the Consul KV record), so that in Health mode a
 * restarted member does not assume nobody serves; the first decision also adopts
 * this member's own open gate as "I am active".
 */
export function initialMemory(activeHint?: MemberRole): DecisionMemory {
  return {
    started: false,
    active: activeHint,
    lastTransitionAt: undefined,
    primaryUsableSince: undefined,
    secondaryUsableSince: undefined,
    transitions: 0,
    role: 'Standby',
  };
}
