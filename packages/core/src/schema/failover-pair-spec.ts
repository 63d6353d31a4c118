// The FailoverPair spec, defined once as JSON Schema (TypeBox). The TypeScript types,
// runtime validation (validate.ts) and the CRD's openAPIV3Schema (kubernetes-schema.ts)
// all come from here; descriptions show up in `kubectl explain`.
import Type, { type Static } from 'typebox';

export const DEFAULT_PROBE_SOURCE_CIDR = '168.63.129.16/32';

const NodeName = Type.String({
  minLength: 1,
  maxLength: 253,
  description: 'Kubernetes node name (or VM host name in file mode) of this member.',
});

const Ipv4Address = (description: string) => Type.String({ format: 'ipv4', maxLength: 15, description });

export const MemberSpecSchema = Type.Object(
  {
    node: NodeName,
    address: Ipv4Address(
      'IPv4 address of the member: how the Consul service instance is matched when consul.memberMapping is ByAddress.',
    ),
    consulNode: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description: 'Consul node name of the member; required when consul.memberMapping is ByNodeName.',
      }),
    ),
  },
  { additionalProperties: false, description: 'One member of the pair.' },
);

export const ProbeSpecSchema = Type.Object(
  {
    ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), {
      minItems: 1,
      maxItems: 16,
      uniqueItems: true,
      description: 'Load balancer health-probe ports (1-65535, no repeats) gated on the standby.',
    }),
    protocol: Type.Optional(
      Type.Enum(['TCP', 'HTTP'], {
        default: 'TCP',
        description: 'Protocol of the health probe (informative: the gate works on any protocol).',
      }),
    ),
    sourceCIDRs: Type.Optional(
      Type.Array(Type.String({ format: 'cidr', maxLength: 18 }), {
        minItems: 1,
        maxItems: 16,
        uniqueItems: true,
        default: [DEFAULT_PROBE_SOURCE_CIDR],
        description:
          'IPv4 CIDR blocks the health probes come from; the standby drops probes from these. Azure probes come from 168.63.129.16.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Which load balancer health probes the gate lets through.' },
);

export const ConsulSpecSchema = Type.Object(
  {
    service: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Consul service whose health decides which member is active.',
    }),
    datacenter: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: "Consul datacenter of the service; the agent's own when omitted.",
      }),
    ),
    tag: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Only service instances carrying this tag count.',
      }),
    ),
    memberMapping: Type.Optional(
      Type.Enum(['ByAddress', 'ByNodeName'], {
        default: 'ByAddress',
        description:
          'How a member is matched to its Consul service instance: by member address, or by the explicit consulNode name.',
      }),
    ),
  },
  { additionalProperties: false, description: 'The Consul service that arbitrates the pair.' },
);

export const TimingSpecSchema = Type.Object(
  {
    holdDownSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 3600,
        default: 10,
        description:
          'Damping against flapping: a member must have been healthy this long before it is promoted, and voluntary transitions wait this long after the previous one.',
      }),
    ),
    failbackDelaySeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 86400,
        default: 30,
        description:
          'With automatic failback: how long the primary must be healthy before it takes over again.',
      }),
    ),
    arbiterGraceSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 3600,
        default: 15,
        description:
          'How long the last state is held when Consul cannot be reached, before arbiterUnreachable applies.',
      }),
    ),
    arbiterUnreachable: Type.Optional(
      Type.Enum(['Hold', 'Demote'], {
        default: 'Hold',
        description:
          'What to do when Consul stays unreachable past the grace: Hold keeps the last state, Demote stands by.',
      }),
    ),
    gateLeaseSeconds: Type.Optional(
      Type.Integer({
        minimum: 5,
        maximum: 3600,
        default: 30,
        description:
          'Lifetime of an open gate in the kernel; renewed by the agent, so the gate closes by itself if the agent dies.',
      }),
    ),
  },
  { additionalProperties: false, default: {}, description: 'Timers of the failover decision.' },
);

export const FailoverPairSpecSchema = Type.Object(
  {
    vip: Type.Optional(
      Ipv4Address(
        'Frontend IP (IPv4) bound as /32 on lo of the active member (Floating IP). Without it only the probe gate is driven.',
      ),
    ),
    probe: ProbeSpecSchema,
    consul: ConsulSpecSchema,
    primary: MemberSpecSchema,
    secondary: MemberSpecSchema,
    failback: Type.Optional(
      Type.Enum(['Automatic', 'Manual'], {
        default: 'Automatic',
        description:
          'Automatic: the primary takes over again once healthy for failbackDelaySeconds. Manual: the serving member keeps serving until it fails or a switchover is requested.',
      }),
    ),
    arbitration: Type.Optional(
      Type.Enum(['Lock', 'Health'], {
        default: 'Lock',
        description:
          'Lock: a member is active only while it holds the Consul lock of the pair (strict). Health: both members apply the same rule to Consul health alone.',
      }),
    ),
    timing: Type.Optional(TimingSpecSchema),
    warningIsHealthy: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Whether a Consul check in warning state counts as healthy.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'An active/passive pair of nodes behind a load balancer, arbitrated by Consul.',
  },
);

/** The spec as written by a user: defaulted fields may be absent. */
export type FailoverPairSpecInput = Static<typeof FailoverPairSpecSchema>;
export type MemberSpec = Static<typeof MemberSpecSchema>;
type ProbeInput = Static<typeof ProbeSpecSchema>;
type ConsulInput = Static<typeof ConsulSpecSchema>;
type TimingInput = Static<typeof TimingSpecSchema>;

export type ProbeSpec = Required<ProbeInput>;
export type ConsulSpec = ConsulInput & Required<Pick<ConsulInput, 'memberMapping'>>;
export type TimingSpec = Required<TimingInput>;

/** The spec after defaults are applied (what validate() returns): only truly optional fields may be absent. */
export type FailoverPairSpec = Omit<
  Required<FailoverPairSpecInput>,
  'vip' | 'probe' | 'consul' | 'timing'
> & {
  vip?: string;
  probe: ProbeSpec;
  consul: ConsulSpec;
  timing: TimingSpec;
};

export type FailbackPolicy = FailoverPairSpec['failback'];
export type ArbitrationMode = FailoverPairSpec['arbitration'];
export type ArbiterUnreachablePolicy = TimingSpec['arbiterUnreachable'];
export type MemberMapping = ConsulSpec['memberMapping'];
