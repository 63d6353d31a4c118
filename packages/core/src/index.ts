// @probegate/core: pure failover decision logic. No I/O, no clock, no side effects.

export { decide, targetNode } from './decision/decide.js';
export { initialMemory } from './decision/memory.js';
export { memberIdentity, nodeOfRole, peerOf, policyFromSpec, roleOfNode } from './decision/policy.js';
export { REASON_CODES, REASON_TEXT, type ReasonCode } from './decision/reasons.js';
export {
  BREAK_STEPS,
  isBreakBeforeMake,
  MAKE_STEPS,
  STEP_ORDER,
  type Step,
} from './decision/steps.js';
export type {
  ArbiterView,
  Decision,
  DecisionInput,
  DecisionMemory,
  DecisionPolicy,
  DesiredLocalState,
  GateState,
  HealthStatus,
  LockAction,
  LockView,
  MemberHealth,
  MemberIdentity,
  MemberRole,
  MemberState,
  ObservedLocalState,
  OperatorRequests,
  PairHealthView,
  VipState,
} from './decision/types.js';
export {
  cidrContains,
  formatIpv4,
  formatIpv4Cidr,
  IPV4_CIDR_PATTERN,
  IPV4_PATTERN,
  type Ipv4Cidr,
  isIpv4,
  isIpv4Cidr,
  parseIpv4,
  parseIpv4Cidr,
} from './ip.js';
export {
  type ArbiterUnreachablePolicy,
  type ArbitrationMode,
  type ConsulSpec,
  ConsulSpecSchema,
  DEFAULT_PROBE_SOURCE_CIDR,
  type FailbackPolicy,
  type FailoverPairSpec,
  type FailoverPairSpecInput,
  FailoverPairSpecSchema,
  type MemberMapping,
  type MemberSpec,
  MemberSpecSchema,
  type ProbeSpec,
  ProbeSpecSchema,
  type TimingSpec,
  TimingSpecSchema,
} from './schema/failover-pair-spec.js';
export {
  type Condition,
  ConditionSchema,
  type FailoverPairStatus,
  FailoverPairStatusSchema,
  type MemberStatus,
  MemberStatusSchema,
  type TransitionRecord,
  TransitionSchema,
} from './schema/failover-pair-status.js';
export {
  FAILOVER_PAIR_PRINTER_COLUMNS,
  failoverPairOpenApiSchema,
  type JsonSchemaObject,
  type PrinterColumn,
  toKubernetesSchema,
} from './schema/kubernetes-schema.js';
export {
  type CelRule,
  type CelValidation,
  failoverPairSpecCelRules,
  failoverPairSpecCelValidations,
  type RuleViolation,
} from './validation/cel-rules.js';
export {
  parseFailoverPairSpec,
  type SpecValidationResult,
  type ValidationProblem,
  validateFailoverPairSpec,
} from './validation/validate.js';
