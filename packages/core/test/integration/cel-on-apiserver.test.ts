// Core's validateFailoverPairSpec and the CRD's OpenAPI schema + CEL rules are two
// implementations of the same rules. This runs every shared validation case through both,
// the CRD on a real API server, so neither can drift from the table or from the other.
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { type KubeApi, startKubeApi, waitFor } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failoverPairOpenApiSchema, validateFailoverPairSpec } from '../../src/index.js';
import { pathMatches, type ValidationCase, validationCases } from '../fixtures/validation-cases.js';

const GROUP = 'probegate.io';
const VERSION = 'v1alpha1';
const PLURAL = 'failoverpairs';
const NAMESPACE = 'default';

/**
 * A CRD around core's schema. The production CRD (controller's failoverPairCrdYaml) wraps the
 * same failoverPairOpenApiSchema(); core cannot import the controller, so it is rebuilt here.
 */
function crdAroundCoreSchema(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: PLURAL, singular: 'failoverpair', kind: 'FailoverPair', listKind: 'FailoverPairList' },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: failoverPairOpenApiSchema() },
        },
      ],
    },
  };
}

interface ServerVerdict {
  readonly status: number;
  /** The stored object (accepted) or the error body as text (refused). */
  readonly stored?: { spec?: unknown };
  readonly errorBody?: string;
}

const bodyText = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

describe('core validation and the CRD schema + CEL rules agree on a real API server', () => {
  let api: KubeApi;
  let objects: CustomObjectsApi;

  beforeAll(async () => {
    api = await startKubeApi();
    const kc = api.kubeConfig();
    // Typed calls drop `x-kubernetes-*` keys of a plain wire object; loadYaml maps them to the
    // model names (JSON is YAML), so the CEL rules survive.
    const crd = loadYaml<V1CustomResourceDefinition>(JSON.stringify(crdAroundCoreSchema()));
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({ body: crd });
    objects = kc.makeApiClient(CustomObjectsApi);
    await waitFor(
      async () => {
        await objects.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NAMESPACE,
          plural: PLURAL,
        });
        return true;
      },
      { what: 'failoverpairs to be served', timeoutMs: 60_000 },
    );
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('stores the CRD with its CEL rules (x-kubernetes-validations not dropped)', async () => {
    const stored = await api
      .kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
    const specSchema = stored.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
    const wireSpec = (failoverPairOpenApiSchema().properties as Record<string, Record<string, unknown>>).spec;
    const wireRules = (wireSpec?.['x-kubernetes-validations'] ?? []) as { rule: string }[];
    const expected = wireRules.map((validation) => validation.rule);
    expect(expected.length).toBeGreaterThan(0);
    expect(specSchema?.x_kubernetes_validations?.map((validation) => validation.rule)).toEqual(expected);
  });

  async function createOnServer(index: number, spec: Record<string, unknown>): Promise<ServerVerdict> {
    const name = `case-${index}`;
    try {
      const stored = (await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural: PLURAL,
        fieldValidation: 'Strict',
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'FailoverPair', metadata: { name }, spec },
      })) as { spec?: unknown };
      return { status: 201, stored };
    } catch (error) {
      if (error instanceof ApiException) return { status: error.code, errorBody: bodyText(error.body) };
      throw error;
    }
  }

  const table = validationCases.map((testCase, index) => ({ ...testCase, index }));

  it.each(table)(
    'case $index "$name": both validators give the same verdict',
    async (testCase: ValidationCase & {
      index: number;
    }) => {
      const core = validateFailoverPairSpec(structuredClone(testCase.spec));
      const server = await createOnServer(testCase.index, structuredClone(testCase.spec));

      // The table, the server and core agree on valid/invalid.
      const serverAccepted = server.status >= 200 && server.status < 300;
      expect({ serverAccepted, status: server.status, body: server.errorBody }).toMatchObject({
        serverAccepted: testCase.expectValid,
      });
      expect(core.ok).toBe(testCase.expectValid);
      expect(core.ok).toBe(serverAccepted);

      if (testCase.expectValid) {
        // The defaults the API server stored are the ones core applies.
        expect(core.ok && core.value).toEqual(server.stored?.spec);
        return;
      }
      // Unknown fields are a decoding error (400 with Strict); everything else is 422 Invalid.
      expect(server.status).toBe(testCase.needsStrictFieldValidation ? 400 : 422);
      for (const path of testCase.expectPathsContain) {
        expect(server.errorBody, `server error names spec.${path}`).toContain(`spec.${path}`);
      }
      if (!core.ok) {
        const reported = core.problems.map((problem) => problem.path);
        for (const path of testCase.expectPathsContain) {
          expect(
            reported.some((candidate) => pathMatches(path, candidate)),
            `core reports ${path} (got ${reported.join(', ')})`,
          ).toBe(true);
        }
      }
    },
  );
});
