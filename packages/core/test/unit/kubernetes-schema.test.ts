import { describe, expect, it } from 'vitest';
import {
  FAILOVER_PAIR_PRINTER_COLUMNS,
  failoverPairOpenApiSchema,
  failoverPairSpecCelRules,
  toKubernetesSchema,
} from '../../src/index.js';

type Node = Record<string, unknown>;

/** Every schema node with its path. */
function* walk(node: unknown, path = '#'): Generator<[string, Node]> {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const schema = node as Node;
  yield [path, schema];
  for (const [name, child] of Object.entries((schema.properties as Node | undefined) ?? {})) {
    yield* walk(child, `${path}.${name}`);
  }
  if (schema.items !== undefined) yield* walk(schema.items, `${path}[]`);
}

describe('failoverPairOpenApiSchema', () => {
  const schema = failoverPairOpenApiSchema();
  const properties = schema.properties as Record<string, Node>;
  const spec = properties.spec as Node;
  const status = properties.status as Node;

  it('is structural: every node has a type, no keyword Kubernetes forbids', () => {
    const forbidden = ['$id', '$schema', 'const', 'anyOf', 'oneOf', 'allOf', 'not', '$ref', 'uniqueItems'];
    for (const [path, node] of walk(schema)) {
      expect(node.type, `${path} has no type`).toBeTypeOf('string');
      for (const keyword of forbidden) expect(node, `${path} uses ${keyword}`).not.toHaveProperty(keyword);
      if (node.properties !== undefined) expect(node, `${path}`).not.toHaveProperty('additionalProperties');
    }
  });

  it('is plain JSON data (survives a round trip unchanged)', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('documents every spec and status field (kubectl explain)', () => {
    for (const [path, node] of walk(spec, 'spec')) {
      if (path.endsWith('[]')) continue; // list items are described by their list
      expect(node.description, `${path} has no description`).toBeTypeOf('string');
    }
    for (const [name, node] of Object.entries(status.properties as Record<string, Node>)) {
      expect(node.description, `status.${name} has no description`).toBeTypeOf('string');
    }
  });

  it('carries the CEL rules at the spec level', () => {
    expect(spec['x-kubernetes-validations']).toEqual(
      failoverPairSpecCelRules.map(({ rule, message, fieldPath }) => ({ rule, message, fieldPath })),
    );
  });

  it('marks unique lists as sets and member status as a list-map keyed by node', () => {
    const probe = (spec.properties as Record<string, Node>).probe as Node;
    const probeFields = probe.properties as Record<string, Node>;
    expect(probeFields.ports).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'set', maxItems: 16 });
    expect(probeFields.sourceCIDRs).toMatchObject({
      'x-kubernetes-list-type': 'set',
      default: ['168.63.129.16/32'],
      items: { type: 'string', format: 'cidr' },
    });
    const statusFields = status.properties as Record<string, Node>;
    expect(statusFields.members).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['node'],
    });
    expect(((statusFields.members as Node).items as Node).required).toContain('node');
    expect(statusFields.conditions).toMatchObject({ 'x-kubernetes-list-map-keys': ['type'] });
  });

  it('keeps defaults, ranges and enums', () => {
    const fields = spec.properties as Record<string, Node>;
    expect(fields.failback).toEqual(
      expect.objectContaining({ type: 'string', enum: ['Automatic', 'Manual'], default: 'Automatic' }),
    );
    expect(fields.timing).toMatchObject({
      default: {},
      properties: { holdDownSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 10 } },
    });
    expect(fields.vip).toMatchObject({ type: 'string', format: 'ipv4' });
    expect(spec.required).toEqual(['probe', 'consul', 'primary', 'secondary']);
    expect(schema.required).toEqual(['spec']);
  });

  it('refuses schema constructs that have no structural equivalent', () => {
    expect(() =>
      toKubernetesSchema({ type: 'object', properties: { x: { anyOf: [{ type: 'string' }] } } }),
    ).toThrow(/#\/properties\/x: keyword anyOf/);
  });

  it('printer columns point at fields of the schema', () => {
    expect(FAILOVER_PAIR_PRINTER_COLUMNS.map((column) => column.name)).toEqual([
      'Active',
      'Primary',
      'Secondary',
      'VIP',
      'Transitions',
      'Age',
    ]);
    for (const column of FAILOVER_PAIR_PRINTER_COLUMNS) {
      if (column.jsonPath.startsWith('.metadata.')) continue;
      let node: Node | undefined = schema;
      for (const name of column.jsonPath.slice(1).split('.')) {
        node = (node?.properties as Record<string, Node> | undefined)?.[name];
      }
      expect(node, column.jsonPath).toMatchObject({ type: column.type });
    }
  });
});
