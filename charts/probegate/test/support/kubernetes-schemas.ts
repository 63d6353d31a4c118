// Validates rendered manifests against the Kubernetes schemas of their kinds:
// - kubernetes-models (the OpenAPI schemas of the Kubernetes API: types, required fields, enums);
// - the wire field names of @kubernetes/client-node's models, to catch unknown fields (typos),
//   which the OpenAPI schemas allow but `kubectl apply` rejects (strict field validation);
// - for the Prometheus Operator kinds, the structural subset of their CRDs the chart uses.
import * as clientNode from '@kubernetes/client-node';
import Value from 'typebox/value';
import type { Manifest } from './helm.js';
import { prometheusOperatorSchemas } from './prometheus-operator-schemas.js';

interface ModelClass {
  new (data: never): { validate(): void };
}

// The kinds the chart renders, with the kubernetes-models class that validates each.
const models: Record<string, () => Promise<ModelClass>> = {
  'v1/ServiceAccount': async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'apps/v1/DaemonSet': async () => (await import('kubernetes-models/apps/v1/DaemonSet')).DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': async () =>
    (await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole')).ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': async () =>
    (await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding')).ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': async () =>
    (await import('kubernetes-models/rbac.authorization.k8s.io/v1/Role')).Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': async () =>
    (await import('kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding')).RoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': async () =>
    (await import('kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition'))
      .CustomResourceDefinition,
};

async function modelOf(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  return models[`${apiVersion}/${kind}`]?.();
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ClientModel = { getAttributeTypeMap(): Attribute[] };

function clientModel(type: string): ClientModel | undefined {
  const candidate = (clientNode as unknown as Record<string, unknown>)[type];
  return candidate && typeof (candidate as ClientModel).getAttributeTypeMap === 'function'
    ? (candidate as ClientModel)
    : undefined;
}

/** Fields of `value` that the Kubernetes type `type` does not have, as JSON paths. */
export function unknownFields(type: string, value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    const itemType = array[1];
    return Array.isArray(value)
      ? value.flatMap((item, index) => unknownFields(itemType, item, `${path}[${index}]`))
      : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    const valueType = map[1];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
      unknownFields(valueType, item, `${path}.${key}`),
    );
  }
  const model = clientModel(type);
  if (!model || typeof value !== 'object') return [];
  const attributes = new Map(model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute]));
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const attribute = attributes.get(key);
    return attribute ? unknownFields(attribute.type, item, `${path}.${key}`) : [`${path}.${key}`];
  });
}

function clientModelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').at(-1) ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/** Problems of one manifest; empty when it is valid for its kind. */
export async function validateManifest(manifest: Manifest): Promise<string[]> {
  const where = `${manifest.kind}/${manifest.metadata?.name}`;
  const operatorSchema = prometheusOperatorSchemas[`${manifest.apiVersion}/${manifest.kind}`];
  if (operatorSchema) {
    return Value.Errors(operatorSchema as never, manifest).map(
      (error) => `${where}: ${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`,
    );
  }
  const Model = await modelOf(manifest.apiVersion, manifest.kind);
  if (!Model) return [`${where}: no Kubernetes schema known for ${manifest.apiVersion} ${manifest.kind}`];
  const problems: string[] = [];
  try {
    new Model(structuredClone(manifest) as never).validate();
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
  }
  const typeName = clientModelName(manifest.apiVersion, manifest.kind);
  if (!clientModel(typeName)) problems.push(`${where}: no client-node model ${typeName}`);
  for (const field of unknownFields(typeName, manifest)) problems.push(`${where}: unknown field ${field}`);
  return problems;
}
