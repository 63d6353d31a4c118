// Bundles the `probegate` CLI into one ES module, dist/probegate.mjs: what the image, the
// systemd unit and the e2e tests run.
//   npm run bundle -w packages/controller     (after tsc -b; the root `npm run build` does both)
//
// Why: @kubernetes/client-node loads ~2,800 modules (one per generated model); as separate ES
// modules they cost the agent ~64 MiB of RSS and ~2 s of start-up, as one file ~44 MiB and
// ~0.5 s (see src/agent/node-flags.ts for the agent's measured memory). The bundle needs no
// node_modules at run time: every import is inside it.
import { chmodSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const here = resolve(import.meta.dirname, '..');
const outfile = resolve(here, 'dist/probegate.mjs');

await build({
  entryPoints: [resolve(here, 'src/cli/main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // The workspace packages from their TypeScript sources, like the tests and benches.
  conditions: ['probegate-source'],
  // Identifiers stay as written, so stack traces in the logs name real functions.
  minifyWhitespace: true,
  minifySyntax: true,
  // For `node --enable-source-maps` when debugging; not loaded otherwise.
  sourcemap: 'linked',
  legalComments: 'linked',
  // CommonJS dependencies (prom-client, pino, consul, ...) call require(); an ES module has none.
  banner: {
    js: "import { createRequire as __pgCreateRequire } from 'node:module'; const require = __pgCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
console.log(`bundled ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MiB)`);
