import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { failoverPairSpecCelValidations, type JsonSchemaObject } from '@probegate/core';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { failoverPairCrd, failoverPairCrdYaml } from '../../src/kube/crd.js';

const repoRoot = resolve(import.meta.dirname, '../../../..');
const chartCrdPath = resolve(repoRoot, 'charts/probegate/crds/failoverpairs.probegate.io.yaml');

const crd = failoverPairCrd();
const version = crd.spec.versions[0];
if (!version) throw new Error('the CRD has no version');
const root = version.schema.openAPIV3Schema;
const spec = (root.properties as Record<string, JsonSchemaObject>).spec as JsonSchemaObject;
const status = (root.properties as Record<string, JsonSchemaObject>).status as JsonSchemaObject;

interface SchemaNode {
  path: string;
  schema: JsonSchemaObject;
  /** A named field (under `properties`), as opposed to array items or the root. */
  isField: boolean;
}

/** Every schema node below `schema`, depth first. */
function walk(schema: JsonSchemaObject, path: string, isField = false): SchemaNode[] {
  const nodes: SchemaNode[] = [{ path, schema, isField }];
  const properties = schema.properties as Record<string, JsonSchemaObject> | undefined;
  for (const [name, child] of Object.entries(properties ?? {}))
    nodes.push(...walk(child, `${path}.${name}`, true));
  if (schema.items) nodes.push(...walk(schema.items as JsonSchemaObject, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') {
    nodes.push(...walk(schema.additionalProperties as JsonSchemaObject, `${path}{}`));
  }
  return nodes;
}

describe('FailoverPair CRD identity', () => {
  it('is the namespaced probegate.io/v1alpha1 FailoverPair with short name fp', () => {
    expect(crd.metadata.name).toBe('failoverpairs.probegate.io');
    expect(crd.spec.group).toBe('probegate.io');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toEqual({
      kind: 'FailoverPair',
      listKind: 'FailoverPairList',
      plural: 'failoverpairs',
      singular: 'failoverpair',
      shortNames: ['fp'],
      categories: ['probegate'],
    });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
  });

  it('has the status subresource, so agents write status without touching spec', () => {
    expect(version.subresources).toEqual({ status: {} });
  });

  it('prints ACTIVE, PRIMARY, SECONDARY, VIP, TRANSITIONS, AGE in `kubectl get fp`', () => {
    const shown = version.additionalPrinterColumns.filter((column) => (column.priority ?? 0) === 0);
    expect(shown.map((column) => column.name.toUpperCase())).toEqual([
      'ACTIVE',
      'PRIMARY',
      'SECONDARY',
      'VIP',
      'TRANSITIONS',
      'AGE',
    ]);
    expect(Object.fromEntries(shown.map((column) => [column.name.toUpperCase(), column.jsonPath]))).toEqual({
      ACTIVE: '.status.activeNode',
      PRIMARY: '.spec.primary.node',
      SECONDARY: '.spec.secondary.node',
      VIP: '.spec.vip',
      TRANSITIONS: '.status.transitions',
      AGE: '.metadata.creationTimestamp',
    });
  });

  it.each(version.additionalPrinterColumns.map((column) => [column.name, column.jsonPath] as const))(
    'printer column %s points at a field of the schema (%s)',
    (_name, jsonPath) => {
      if (jsonPath.startsWith('.metadata.')) return expect(jsonPath).toBe('.metadata.creationTimestamp');
      // Follow the plain path (a filter like [?(@.type=="Ready")] selects list items).
      const steps = jsonPath
        .replace(/\[\?\(@\.\w+=="[^"]*"\)\]/g, '[]')
        .split('.')
        .filter(Boolean);
      let node: JsonSchemaObject | undefined = root;
      for (const step of steps) {
        const [name, ...rest] = step.split('[]');
        node = (node?.properties as Record<string, JsonSchemaObject> | undefined)?.[name ?? ''];
        if (rest.length > 0) node = node?.items as JsonSchemaObject | undefined;
      }
      expect(node, `${jsonPath} names no field of the schema`).toBeDefined();
    },
  );
});

describe('FailoverPair CRD schema', () => {
  it('carries exactly the CEL rules of core on the spec', () => {
    expect(spec['x-kubernetes-validations']).toEqual(failoverPairSpecCelValidations());
    expect((spec['x-kubernetes-validations'] as unknown[]).length).toBeGreaterThan(5);
  });

  it('describes every spec and status field (the text of `kubectl explain fp.spec...`)', () => {
    const undocumented = [...walk(spec, 'spec', true), ...walk(status, 'status', true)]
      .filter((node) => node.isField)
      .filter((node) => typeof node.schema.description !== 'string' || node.schema.description.length < 10)
      .map((node) => node.path);
    expect(undocumented).toEqual([]);
    expect(typeof root.description).toBe('string');
  });

  it('is structural: every node has a type and no keyword Kubernetes forbids', () => {
    const forbidden = [
      'anyOf',
      'oneOf',
      'allOf',
      'not',
      '$ref',
      'patternProperties',
      'const',
      '$schema',
      '$id',
    ];
    const problems: string[] = [];
    for (const node of walk(root, 'root')) {
      if (typeof node.schema.type !== 'string') problems.push(`${node.path}: no type`);
      for (const keyword of forbidden) if (keyword in node.schema) problems.push(`${node.path}: ${keyword}`);
      if ('properties' in node.schema && 'additionalProperties' in node.schema) {
        problems.push(`${node.path}: properties next to additionalProperties`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives every default a value its own schema accepts', () => {
    const problems: string[] = [];
    for (const { path, schema } of walk(root, 'root')) {
      if (!('default' in schema)) continue;
      const value = schema.default;
      const type = schema.type;
      const ok =
        (type === 'string' && typeof value === 'string') ||
        (type === 'integer' && Number.isInteger(value)) ||
        (type === 'boolean' && typeof value === 'boolean') ||
        (type === 'array' && Array.isArray(value)) ||
        (type === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value));
      if (!ok) problems.push(`${path}: default ${JSON.stringify(value)} is not a ${String(type)}`);
      if (Array.isArray(schema.enum) && !schema.enum.includes(value))
        problems.push(`${path}: default not in enum`);
      if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
        problems.push(`${path}: default below minimum`);
      }
      if (typeof value === 'number' && typeof schema.maximum === 'number' && value > schema.maximum) {
        problems.push(`${path}: default above maximum`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('defaults the probe source to Azure 168.63.129.16/32 and the policies to the safe choices', () => {
    const at = (path: string) =>
      path
        .split('.')
        .reduce<JsonSchemaObject>(
          (node, name) => (node.properties as Record<string, JsonSchemaObject>)[name] as JsonSchemaObject,
          spec,
        );
    expect(at('probe.sourceCIDRs').default).toEqual(['168.63.129.16/32']);
    expect(at('arbitration').default).toBe('Lock');
    expect(at('failback').default).toBe('Automatic');
    expect(at('timing').default).toEqual({});
    expect(at('timing.gateLeaseSeconds').default).toBeTypeOf('number');
  });

  it('marks status.members as a list-map keyed by node, so each agent owns its own entry', () => {
    const members = (status.properties as Record<string, JsonSchemaObject>).members as JsonSchemaObject;
    expect(members['x-kubernetes-list-type']).toBe('map');
    expect(members['x-kubernetes-list-map-keys']).toEqual(['node']);
  });

  it('passes the Kubernetes schema of CustomResourceDefinition (kubernetes-models)', () => {
    expect(() => new CustomResourceDefinition(structuredClone(crd) as never).validate()).not.toThrow();
  });
});

describe('FailoverPair CRD YAML', () => {
  it('parses back to the same object', () => {
    expect(parse(failoverPairCrdYaml())).toEqual(crd);
  });

  it('is what the chart ships (else run `npm run generate:crd`)', () => {
    const shipped = readFileSync(chartCrdPath, 'utf8');
    expect(
      parse(shipped),
      'chart CRD differs from the one generated from core: npm run generate:crd',
    ).toEqual(crd);
    expect(shipped).toBe(failoverPairCrdYaml());
  });
});
