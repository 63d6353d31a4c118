import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Binaries installed by scripts/testenv/provision.sh and recorded in its env.json. */
export interface Components {
  consul: string;
  etcd: string;
  apiextensionsApiserver: string;
  helm: string;
  kubectl: string;
}

export const cacheDir = (): string => process.env.PROBEGATE_CACHE ?? '/var/cache/probegate';

/** Raised when a real component is not installed: tests fail on it, they never skip. */
export class MissingComponentError extends Error {
  constructor(component: string, why: string) {
    super(
      `real component '${component}' is not available: ${why}. ` +
        'Run `bash scripts/testenv/provision.sh` (or `npm test`, which provisions first).',
    );
    this.name = 'MissingComponentError';
  }
}

let cached: Components | undefined;

/** Reads env.json once; a missing file or binary is a MissingComponentError. */
export function components(): Components {
  if (cached) return cached;
  const file = join(cacheDir(), 'env.json');
  if (!existsSync(file)) throw new MissingComponentError('testenv', `${file} does not exist`);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Components;
  for (const [name, path] of Object.entries(parsed)) {
    if (!existsSync(path)) throw new MissingComponentError(name, `${path} does not exist`);
  }
  cached = parsed;
  return parsed;
}

/** Path of one component binary, failing with a clear message when it is missing. */
export function component(name: keyof Components): string {
  return components()[name];
}

/** Tests that need root (namespaces, firewalls) call this first. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new MissingComponentError('root', 'network namespaces, iptables and nft need uid 0');
  }
}
