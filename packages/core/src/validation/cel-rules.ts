// Cross-field rules of the FailoverPair spec, written twice on purpose: as CEL for the
// CRD (`x-kubernetes-validations` at the spec level, checked by the API server at
// `kubectl apply` time) and as a TypeScript mirror used by validate(). A unit test
// evaluates both on the same table of cases so they cannot drift apart.
import { isIpv4, isIpv4Cidr } from '../ip.js';

/** One offending field found by a rule's mirror: path relative to the spec, Kubernetes notation. */
export interface RuleViolation {
  readonly path: string;
  readonly value: unknown;
}

export interface CelRule {
  /** Stable identifier (tests and docs). */
  readonly id: string;
  /** CEL expression evaluated with `self` = the spec (after defaulting). */
  readonly rule: string;
  readonly message: string;
  /** Where the API server reports a failure, relative to the spec (e.g. `.secondary.node`). */
  readonly fieldPath?: string;
  /** The same rule in TypeScript: the fields that break it (empty when it holds). Total on any input. */
  readonly violations: (spec: unknown) => readonly RuleViolation[];
}

/** The part of a rule that goes into the CRD. */
export interface CelValidation {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
}

type Loose = Record<string, unknown>;

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Loose)[key];
  }
  return current;
}

const none: readonly RuleViolation[] = [];

function ipv4Rule(id: string, member: 'primary' | 'secondary'): CelRule {
  return {
    id,
    rule: `isIP(self.${member}.address) && ip(self.${member}.address).family() == 4`,
    message: `${member}.address must be an IPv4 address such as 10.0.0.4`,
    fieldPath: `.${member}.address`,
    violations: (spec) => {
      const address = field(spec, member, 'address');
      return typeof address === 'string' && !isIpv4(address)
        ? [{ path: `${member}.address`, value: address }]
        : none;
    },
  };
}

function consulNodeRequiredRule(member: 'primary' | 'secondary'): CelRule {
  return {
    id: `${member}-consul-node-required`,
    rule: `!has(self.consul.memberMapping) || self.consul.memberMapping != 'ByNodeName' || has(self.${member}.consulNode)`,
    message: `${member}.consulNode is required when consul.memberMapping is ByNodeName`,
    fieldPath: `.${member}.consulNode`,
    violations: (spec) =>
      field(spec, 'consul', 'memberMapping') === 'ByNodeName' &&
      field(spec, member, 'consulNode') === undefined
        ? [{ path: `${member}.consulNode`, value: undefined }]
        : none,
  };
}

export const failoverPairSpecCelRules: readonly CelRule[] = [
  {
    id: 'distinct-nodes',
    rule: 'self.primary.node != self.secondary.node',
    message: 'primary.node and secondary.node must be different nodes',
    fieldPath: '.secondary.node',
    violations: (spec) => {
      const node = field(spec, 'secondary', 'node');
      return typeof node === 'string' && node === field(spec, 'primary', 'node')
        ? [{ path: 'secondary.node', value: node }]
        : none;
    },
  },
  {
    id: 'distinct-addresses',
    rule: 'self.primary.address != self.secondary.address',
    message: 'primary.address and secondary.address must be different addresses',
    fieldPath: '.secondary.address',
    violations: (spec) => {
      const address = field(spec, 'secondary', 'address');
      return typeof address === 'string' && address === field(spec, 'primary', 'address')
        ? [{ path: 'secondary.address', value: address }]
        : none;
    },
  },
  ipv4Rule('primary-address-ipv4', 'primary'),
  ipv4Rule('secondary-address-ipv4', 'secondary'),
  {
    id: 'vip-ipv4',
    rule: '!has(self.vip) || (isIP(self.vip) && ip(self.vip).family() == 4)',
    message: 'vip must be an IPv4 address such as 10.0.0.100',
    fieldPath: '.vip',
    violations: (spec) => {
      const vip = field(spec, 'vip');
      return typeof vip === 'string' && !isIpv4(vip) ? [{ path: 'vip', value: vip }] : none;
    },
  },
  {
    id: 'vip-not-member-address',
    rule: '!has(self.vip) || (self.vip != self.primary.address && self.vip != self.secondary.address)',
    message: 'vip must differ from the member addresses (it is bound on the active member only)',
    fieldPath: '.vip',
    violations: (spec) => {
      const vip = field(spec, 'vip');
      return typeof vip === 'string' &&
        (vip === field(spec, 'primary', 'address') || vip === field(spec, 'secondary', 'address'))
        ? [{ path: 'vip', value: vip }]
        : none;
    },
  },
  {
    id: 'unique-ports',
    rule: 'self.probe.ports.all(p, self.probe.ports.exists_one(q, q == p))',
    message: 'probe.ports must not list a port twice',
    fieldPath: '.probe.ports',
    violations: (spec) => {
      const ports = field(spec, 'probe', 'ports');
      if (!Array.isArray(ports)) return none;
      const found: RuleViolation[] = [];
      ports.forEach((port, index) => {
        if (ports.indexOf(port) !== index) found.push({ path: `probe.ports[${index}]`, value: port });
      });
      return found;
    },
  },
  {
    id: 'source-cidrs-ipv4',
    rule: '!has(self.probe.sourceCIDRs) || self.probe.sourceCIDRs.all(c, isCIDR(c) && cidr(c).ip().family() == 4)',
    message: 'probe.sourceCIDRs must be IPv4 CIDR blocks such as 168.63.129.16/32',
    fieldPath: '.probe.sourceCIDRs',
    violations: (spec) => {
      const cidrs = field(spec, 'probe', 'sourceCIDRs');
      if (!Array.isArray(cidrs)) return none;
      const found: RuleViolation[] = [];
      cidrs.forEach((cidr, index) => {
        if (typeof cidr === 'string' && !isIpv4Cidr(cidr))
          found.push({ path: `probe.sourceCIDRs[${index}]`, value: cidr });
      });
      return found;
    },
  },
  consulNodeRequiredRule('primary'),
  consulNodeRequiredRule('secondary'),
  {
    id: 'distinct-consul-nodes',
    rule: '!has(self.primary.consulNode) || !has(self.secondary.consulNode) || self.primary.consulNode != self.secondary.consulNode',
    message: 'primary.consulNode and secondary.consulNode must be different Consul nodes',
    fieldPath: '.secondary.consulNode',
    violations: (spec) => {
      const node = field(spec, 'secondary', 'consulNode');
      return typeof node === 'string' && node === field(spec, 'primary', 'consulNode')
        ? [{ path: 'secondary.consulNode', value: node }]
        : none;
    },
  },
];

/** The rules as the CRD carries them (`x-kubernetes-validations` of the spec). */
export function failoverPairSpecCelValidations(): CelValidation[] {
  return failoverPairSpecCelRules.map(({ rule, message, fieldPath }) =>
    fieldPath === undefined ? { rule, message } : { rule, message, fieldPath },
  );
}
