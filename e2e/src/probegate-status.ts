import { execa } from 'execa';
import { repoRoot } from './paths.js';
import { ensureProbegateBuilt, probegateCommand } from './probegate-agent.js';

/** `probegate status` (VM mode) against a Consul agent reachable from this process. */
export async function probegateStatus(
  pairsFile: string,
  consulAddr: string,
  output: 'table' | 'json' = 'table',
): Promise<string> {
  await ensureProbegateBuilt();
  const [file, ...args] = probegateCommand();
  const r = await execa(
    file as string,
    [...args, 'status', '--pairs-file', pairsFile, '--consul-addr', consulAddr, '-o', output],
    { cwd: repoRoot, reject: false, env: { NODE_OPTIONS: '' } },
  );
  if (r.exitCode !== 0) throw new Error(`probegate status exited ${r.exitCode}: ${String(r.stderr).trim()}`);
  return String(r.stdout);
}
