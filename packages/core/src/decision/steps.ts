// Host and lock actions, and their only allowed order: break before make.
// Demote = close gate -> unbind VIP -> release lock; promote = acquire lock -> bind VIP -> open gate.

export type Step = 'closeGate' | 'unbindVip' | 'releaseLock' | 'acquireLock' | 'bindVip' | 'openGate';

/** Every step in its one allowed position. */
export const STEP_ORDER: readonly Step[] = Object.freeze([
  'closeGate',
  'unbindVip',
  'releaseLock',
  'acquireLock',
  'bindVip',
  'openGate',
]);

export const BREAK_STEPS: ReadonlySet<Step> = new Set<Step>(['closeGate', 'unbindVip', 'releaseLock']);
export const MAKE_STEPS: ReadonlySet<Step> = new Set<Step>(['acquireLock', 'bindVip', 'openGate']);

export const STEP_CLOSE_GATE = 1;
export const STEP_UNBIND_VIP = 2;
export const STEP_RELEASE_LOCK = 4;
export const STEP_ACQUIRE_LOCK = 8;
export const STEP_BIND_VIP = 16;
export const STEP_OPEN_GATE = 32;

// One frozen array per combination, so decide() allocates no step lists.
const STEP_TABLE: readonly (readonly Step[])[] = Array.from({ length: 64 }, (_, mask) =>
  Object.freeze(STEP_ORDER.filter((_step, bit) => (mask & (1 << bit)) !== 0)),
);

/** The ordered steps for a set of STEP_* flags. */
export function stepsFor(mask: number): readonly Step[] {
  return STEP_TABLE[mask & 63] as readonly Step[];
}

/**
 * Whether steps respect break-before-make: each step at most once, in STEP_ORDER
 * (so every break step precedes every make step), and never both lock actions.
 */
export function isBreakBeforeMake(steps: readonly Step[]): boolean {
  let last = -1;
  for (const step of steps) {
    const position = STEP_ORDER.indexOf(step);
    if (position <= last) return false;
    last = position;
  }
  return !(steps.includes('releaseLock') && steps.includes('acquireLock'));
}
