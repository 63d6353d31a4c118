import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { waitFor } from './wait.js';

/**
 * Creates a CustomResourceDefinition and waits until its resources are served (a new CRD takes a
 * second or two). Pass the manifest as YAML text: loadYaml turns wire keys (x-kubernetes-*) into
 * the model names the typed client serializes; a plain wire-format object would silently lose
 * its CEL rules and list-map keys. Returns the CRD as stored.
 */
export async function installCrd(
  kc: KubeConfig,
  manifest: string | V1CustomResourceDefinition,
  options: { timeoutMs?: number } = {},
): Promise<V1CustomResourceDefinition> {
  const crd = typeof manifest === 'string' ? loadYaml<V1CustomResourceDefinition>(manifest) : manifest;
  const group = crd?.spec?.group;
  const plural = crd?.spec?.names?.plural;
  const version = crd?.spec?.versions?.find((v) => v.served)?.name;
  if (!group || !plural || !version) {
    throw new Error(
      `invalid CRD manifest: spec.group ${JSON.stringify(group)}, spec.names.plural ${JSON.stringify(plural)}` +
        ` and a served spec.versions[].name ${JSON.stringify(version)} are required`,
    );
  }
  const stored = await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd });
  const objects = kc.makeApiClient(CustomObjectsApi);
  await waitFor(
    async () => {
      await objects.listClusterCustomObject({ group, version, plural });
      return true;
    },
    { what: `${plural}.${group}/${version} to be served`, timeoutMs: options.timeoutMs ?? 60_000 },
  );
  return stored;
}
