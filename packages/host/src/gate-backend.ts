import type { GateOp, GateSnapshot, RuleRef } from './gate-model.js';
import type { BackendName } from './types.js';

/** One firewall technology: reads the gate from the kernel and writes a plan atomically. */
export interface GateBackend {
  readonly name: BackendName;
  read(): Promise<GateSnapshot>;
  /** Writes all ops in one transaction: all or nothing; with the new generation token when supported. */
  write(ops: readonly GateOp[], generation?: string): Promise<void>;
  /** Cheap read of the generation token alone; absent when the backend keeps none. */
  readGeneration?(): Promise<string | undefined>;
  /** Where a pair's lease rule lives after set-lease (for projectSnapshot). */
  leaseRef(id: string): RuleRef;
  /** Removes everything probegate owns; false when there was nothing. */
  cleanup(): Promise<boolean>;
}
