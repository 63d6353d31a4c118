// Writes the FailoverPair CRD, generated from core's schema, into the Helm chart.
//   npm run generate:crd            write charts/probegate/crds/failoverpairs.probegate.io.yaml
//   npm run generate:crd -- --check exit 1 when the chart's copy is out of date
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const target = resolve(root, 'charts/probegate/crds/failoverpairs.probegate.io.yaml');

// Generate from the TypeScript sources, never from a possibly stale dist/ build.
if (!import.meta.resolve('@probegate/core').endsWith('/src/index.ts')) {
  const result = await execa(
    process.execPath,
    [
      ...process.execArgv,
      '--conditions=probegate-source',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', reject: false },
  );
  process.exit(result.exitCode ?? 1);
}

const { failoverPairCrdYaml } = await import('../packages/controller/src/kube/crd.js');
const generated = failoverPairCrdYaml();
const shown = relative(root, target);

if (process.argv.includes('--check')) {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current !== generated) {
    console.error(`${shown} is out of date: run npm run generate:crd`);
    process.exit(1);
  }
  console.log(`${shown} is up to date`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, generated);
  console.log(`wrote ${shown}`);
}
