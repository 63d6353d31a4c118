import type { VmName } from './topology.js';

/** One probe of one backend by the emulator (t: ms since the epoch, when the probe was sent). */
export interface ProbeEvent {
  kind: 'probe';
  t: number;
  backend: VmName;
  ok: boolean;
  /** The probed port, when a prober probes several. */
  port?: number;
}

/** The emulator's set of healthy backends changed and the VIP route now points at exactly these. */
export interface RouteEvent {
  kind: 'route';
  t: number;
  healthy: VmName[];
}

/** One client request to the VIP and who answered it. */
export interface ClientEvent {
  kind: 'client';
  t: number;
  ok: boolean;
  who?: string;
  ms: number;
  error?: string;
}

export type TimelineEvent = ProbeEvent | RouteEvent | ClientEvent;
