import type { GateOp, GateSnapshot, RefMaker } from './gate-model.js';
import type { BackendName } from './types.js';

/** One firewall technology: reads the gate from the kernel and writes a plan atomically. */
export interface GateBackend {
  readonly name: BackendName;
  read(): Promise<GateSnapshot>;
  /** Writes all ops in one transaction: all or nothing. */
  write(ops: readonly GateOp[]): Promise<void>;
  /** Cheap read of the generation token alone (without listing every pair). */
  readGeneration(): Promise<string | undefined>;
  /**
   * Whether a write that replaces the generation token fails when the kernel no longer holds the old
   * one (a compare-and-swap inside the transaction): then a flip may skip the read before it.
   */
  readonly writeChecksGeneration: boolean;
  /** Where rules land after a write (for projectSnapshot). */
  readonly refs: RefMaker;
  /** Command lines its reads and writes feed on stdin, to start ahead (see StandbyProcesses). */
  readonly stdinCommands: readonly (readonly string[])[];
  /** Removes everything probegate owns; false when there was nothing. */
  cleanup(): Promise<boolean>;
}
