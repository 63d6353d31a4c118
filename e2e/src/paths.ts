import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (e2e/src/.. or e2e/dist/..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Node 24 from the repo's devDependencies: the system node may be older. */
export function node24(): string {
  const path = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(path)) throw new Error(`Node 24 not found at ${path}: run npm ci at ${repoRoot}`);
  return path;
}

/** A helper script shipped next to this file (run by Node's own type stripping). */
export const helperScript = (name: string): string => join(repoRoot, 'e2e', 'src', 'helpers', name);

/** Where results of benchmarks and demos go (gitignored). */
export const resultsDir = (): string => join(repoRoot, 'results');
