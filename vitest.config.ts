import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources (the "probegate-source"
// export condition), so tests never run against a stale dist/.
const resolve = { conditions: ['probegate-source'] };
const shared = {
  resolve,
  ssr: { resolve: { conditions: ['probegate-source'], externalConditions: ['probegate-source'] } },
};

export default defineConfig({
  test: {
    passWithNoTests: false,
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          include: ['packages/*/test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['packages/*/test/integration/**/*.test.ts', 'charts/*/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Real daemons and namespaces: two cores, so keep files from piling up.
          maxWorkers: 2,
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['e2e/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
