export {
  createHostActuator,
  type HostActuatorConfig,
  KernelHostActuator,
  resolveBackend,
} from './actuator.js';
export {
  CommandError,
  type CommandResult,
  type CommandRunner,
  type CommandTiming,
  ExecaCommandRunner,
  type ExecaRunnerOptions,
  type RunOptions,
} from './command-runner.js';
export { detectIptablesFlavor } from './detect.js';
export { leaseEnd, leaseNeedsRenewal } from './gate-plan.js';
export { MAIN_CHAIN } from './iptables-backend.js';
export { NFT_TABLE } from './nftables-backend.js';
export { pairId } from './pair-id.js';
export type * from './types.js';
export { InvalidInputError, validateCidr, validateIPv4, validatePairs, validatePort } from './validate.js';
export { VIP_LABEL } from './vip.js';
