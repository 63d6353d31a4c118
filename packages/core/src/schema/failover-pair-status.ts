// The FailoverPair status written by the agents. Each agent owns its own entry of
// `members` (a list-map keyed by node), so two writers using server-side apply with
// one field manager per node never overwrite each other.
import Type, { type Static } from 'typebox';

const Timestamp = (description: string) => Type.String({ format: 'date-time', description });

export const MemberStatusSchema = Type.Object(
  {
    node: Type.String({ minLength: 1, maxLength: 253, description: 'Node name of the member.' }),
    role: Type.Enum(['Primary', 'Secondary'], { description: 'Role of the member in the spec.' }),
    consulHealth: Type.Enum(['passing', 'warning', 'critical', 'missing', 'unknown'], {
      description:
        'Aggregated Consul health of the member as last read (missing: no service instance found).',
    }),
    state: Type.Enum(['Active', 'Standby'], { description: 'Whether the member is serving.' }),
    gate: Type.Enum(['Open', 'Closed'], {
      description: 'Probe gate on the member: Open lets load balancer probes through.',
    }),
    vip: Type.Enum(['Bound', 'Unbound'], { description: 'Whether the VIP is bound on lo of the member.' }),
    since: Timestamp('When the member entered its current state.'),
    reason: Type.Optional(
      Type.String({ maxLength: 64, description: 'Reason code of the last decision of the member.' }),
    ),
    message: Type.Optional(
      Type.String({ maxLength: 1024, description: 'Human explanation of the last decision of the member.' }),
    ),
  },
  { additionalProperties: false },
);

export const TransitionSchema = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 253, description: 'Node that was active (absent: none).' })),
    to: Type.Optional(
      Type.String({ maxLength: 253, description: 'Node that became active (absent: none).' }),
    ),
    reason: Type.String({ maxLength: 64, description: 'Reason code of the transition.' }),
    time: Timestamp('When the transition happened.'),
  },
  { additionalProperties: false, description: 'The last change of the active member.' },
);

/** metav1.Condition. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 316,
      description: 'Condition type: Ready, ArbiterReachable, Degraded.',
    }),
    status: Type.Enum(['True', 'False', 'Unknown'], { description: 'Status of the condition.' }),
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Spec generation the condition was computed from.' }),
    ),
    lastTransitionTime: Timestamp('Last time the status of the condition changed.'),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'CamelCase reason for the last transition.',
    }),
    message: Type.String({ maxLength: 32768, description: 'Human-readable details.' }),
  },
  { additionalProperties: false },
);

export const FailoverPairStatusSchema = Type.Object(
  {
    activeNode: Type.Optional(
      Type.String({ maxLength: 253, description: 'Node currently serving; empty when none is.' }),
    ),
    members: Type.Optional(
      Type.Array(MemberStatusSchema, {
        maxItems: 2,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['node'],
        description: 'State of each member, each entry written by that member.',
      }),
    ),
    lastTransition: Type.Optional(TransitionSchema),
    transitions: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Number of changes of the active member observed.' }),
    ),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        description: 'Ready, ArbiterReachable, Degraded.',
      }),
    ),
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Spec generation the status was computed from.' }),
    ),
  },
  { additionalProperties: false, description: 'Observed state of the pair, written by its agents.' },
);

export type FailoverPairStatus = Static<typeof FailoverPairStatusSchema>;
export type MemberStatus = Static<typeof MemberStatusSchema>;
export type TransitionRecord = Static<typeof TransitionSchema>;
export type Condition = Static<typeof ConditionSchema>;
