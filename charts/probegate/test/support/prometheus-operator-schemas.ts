// Structural schemas of the Prometheus Operator kinds the chart renders (monitoring.coreos.com/v1),
// the subset of their CRDs' openAPIV3Schema that the chart uses, with unknown fields refused.
// Field names, patterns and enums follow the operator's CRDs.

type Schema = Record<string, unknown>;

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const strings: Schema = { type: 'array', items: str() };
const stringMap: Schema = { type: 'object', additionalProperties: str() };
const closed = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

// monitoringv1.Duration
const duration = str({
  pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$',
});
const labelName = str({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' });

const metadata = closed(
  {
    name: str({
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      maxLength: 253,
    }),
    namespace: str({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
    labels: stringMap,
    annotations: stringMap,
  },
  ['name'],
);

const labelSelector = closed({
  matchLabels: stringMap,
  matchExpressions: {
    type: 'array',
    items: closed(
      { key: str(), operator: str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }), values: strings },
      ['key', 'operator'],
    ),
  },
});

const namespaceSelector = closed({ any: { type: 'boolean' }, matchNames: strings });

const relabelConfig = closed({
  sourceLabels: { type: 'array', items: labelName },
  separator: str(),
  targetLabel: str(),
  regex: str(),
  modulus: { type: 'integer', minimum: 0 },
  replacement: str(),
  action: str({
    enum: [
      'replace',
      'Replace',
      'keep',
      'Keep',
      'drop',
      'Drop',
      'hashmod',
      'HashMod',
      'labelmap',
      'LabelMap',
      'labeldrop',
      'LabelDrop',
      'labelkeep',
      'LabelKeep',
      'lowercase',
      'Lowercase',
      'uppercase',
      'Uppercase',
      'keepequal',
      'KeepEqual',
      'dropequal',
      'DropEqual',
    ],
  }),
});
const relabelings: Schema = { type: 'array', items: relabelConfig };

const scrapeEndpoint = {
  port: str(),
  path: str(),
  scheme: str({ enum: ['http', 'https'] }),
  params: { type: 'object', additionalProperties: strings },
  interval: duration,
  scrapeTimeout: duration,
  honorLabels: { type: 'boolean' },
  honorTimestamps: { type: 'boolean' },
  relabelings,
  metricRelabelings: relabelings,
};

const serviceMonitor = closed(
  {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'ServiceMonitor' },
    metadata,
    spec: closed(
      {
        jobLabel: str(),
        targetLabels: strings,
        podTargetLabels: strings,
        selector: labelSelector,
        namespaceSelector,
        sampleLimit: { type: 'integer', minimum: 0 },
        endpoints: { type: 'array', items: closed({ ...scrapeEndpoint, targetPort: {} }) },
      },
      ['selector', 'endpoints'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const podMonitor = closed(
  {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PodMonitor' },
    metadata,
    spec: closed(
      {
        jobLabel: str(),
        podTargetLabels: strings,
        selector: labelSelector,
        namespaceSelector,
        sampleLimit: { type: 'integer', minimum: 0 },
        podMetricsEndpoints: {
          type: 'array',
          items: closed({ ...scrapeEndpoint, portNumber: { type: 'integer', minimum: 1, maximum: 65535 } }),
        },
      },
      ['selector'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const rule: Schema = {
  ...closed(
    {
      alert: str({ minLength: 1 }),
      record: str({ minLength: 1 }),
      // int-or-string in the CRD; the chart always writes PromQL text.
      expr: str({ minLength: 1 }),
      for: duration,
      keep_firing_for: duration,
      labels: stringMap,
      annotations: stringMap,
    },
    ['expr'],
  ),
  // The operator's admission webhook: a rule is an alert or a recording rule, never both.
  oneOf: [{ required: ['alert'] }, { required: ['record'] }],
};

const prometheusRule = closed(
  {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PrometheusRule' },
    metadata,
    spec: closed({
      groups: {
        type: 'array',
        items: closed(
          {
            name: str({ minLength: 1 }),
            interval: duration,
            limit: { type: 'integer' },
            partial_response_strategy: str(),
            rules: { type: 'array', items: rule },
          },
          ['name'],
        ),
      },
    }),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

export const prometheusOperatorSchemas: Record<string, Schema> = {
  'monitoring.coreos.com/v1/ServiceMonitor': serviceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': podMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': prometheusRule,
};
