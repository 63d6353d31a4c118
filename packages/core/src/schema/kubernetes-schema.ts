// Turns the JSON schemas into the structural openAPIV3Schema Kubernetes accepts for a
// CRD version. Kubernetes forbids some JSON-schema keywords, so: unknown fields are
// pruned by the API server (no `additionalProperties: false` next to `properties`),
// `uniqueItems` becomes `x-kubernetes-list-type: set`, `const` becomes `enum`.
import { failoverPairSpecCelValidations } from '../validation/cel-rules.js';
import { FailoverPairSpecSchema } from './failover-pair-spec.js';
import { FailoverPairStatusSchema } from './failover-pair-status.js';

export type JsonSchemaObject = { [key: string]: unknown };

const DROPPED_KEYWORDS = new Set(['$id', '$schema', '$comment', 'examples']);

/** A structural-schema copy of a JSON schema (plain data, no TypeBox markers). */
export function toKubernetesSchema(schema: unknown): JsonSchemaObject {
  const plain = JSON.parse(JSON.stringify(schema)) as unknown;
  return convert(plain, '#') as JsonSchemaObject;
}

function convert(node: unknown, where: string): unknown {
  if (Array.isArray(node)) return node.map((item, index) => convert(item, `${where}/${index}`));
  if (node === null || typeof node !== 'object') return node;
  const source = node as JsonSchemaObject;
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'patternProperties']) {
    if (keyword in source) {
      throw new Error(
        `${where}: keyword ${keyword} has no structural-schema equivalent; express it differently`,
      );
    }
  }
  const out: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'uniqueItems') {
      if (value === true && !('x-kubernetes-list-type' in source)) out['x-kubernetes-list-type'] = 'set';
      continue;
    }
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    if (key === 'properties' && value !== null && typeof value === 'object') {
      const properties: JsonSchemaObject = {};
      for (const [name, property] of Object.entries(value as JsonSchemaObject)) {
        properties[name] = convert(property, `${where}/properties/${name}`);
      }
      out.properties = properties;
      continue;
    }
    if (key === 'items' || key === 'additionalProperties') {
      out[key] = convert(value, `${where}/${key}`);
      continue;
    }
    out[key] = value;
  }
  // Enums in Kubernetes need their type spelled out.
  if (Array.isArray(out.enum) && out.type === undefined) {
    const types = new Set(out.enum.map((value) => (Number.isInteger(value) ? 'integer' : typeof value)));
    if (types.size === 1) out.type = [...types][0];
  }
  return out;
}

/** The openAPIV3Schema of the FailoverPair CRD version: spec (with its CEL rules) and status. */
export function failoverPairOpenApiSchema(): JsonSchemaObject {
  const spec = toKubernetesSchema(FailoverPairSpecSchema);
  spec['x-kubernetes-validations'] = failoverPairSpecCelValidations();
  return {
    type: 'object',
    description:
      'FailoverPair makes two nodes behind a load balancer active/passive: only the active one answers health probes and holds the VIP.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status: toKubernetesSchema(FailoverPairStatusSchema),
    },
  };
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date';
  readonly jsonPath: string;
  readonly description: string;
}

/** `kubectl get fp` columns; they name schema fields, so they live next to the schema. */
export const FAILOVER_PAIR_PRINTER_COLUMNS: readonly PrinterColumn[] = Object.freeze([
  { name: 'Active', type: 'string', jsonPath: '.status.activeNode', description: 'Node currently serving' },
  { name: 'Primary', type: 'string', jsonPath: '.spec.primary.node', description: 'Primary node' },
  { name: 'Secondary', type: 'string', jsonPath: '.spec.secondary.node', description: 'Secondary node' },
  { name: 'VIP', type: 'string', jsonPath: '.spec.vip', description: 'Frontend IP bound on the active node' },
  {
    name: 'Transitions',
    type: 'integer',
    jsonPath: '.status.transitions',
    description: 'Changes of the active member',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age of the resource' },
]);
