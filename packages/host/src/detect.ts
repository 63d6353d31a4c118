import type { CommandRunner } from './command-runner.js';
import type { IptablesFlavor } from './iptables-backend.js';

async function ruleCount(runner: CommandRunner, save: string): Promise<number> {
  try {
    const { stdout } = await runner.run([save]);
    return stdout.split('\n').filter((l) => l.startsWith('-A ')).length;
  } catch {
    return -1; // binary missing or unusable
  }
}

/**
 * Like kube-proxy: use the iptables flavour the host already uses, i.e. the one
 * holding more rules; nft when it is a tie (the Debian and AKS default).
 */
export async function detectIptablesFlavor(runner: CommandRunner): Promise<IptablesFlavor> {
  const [legacy, nft] = await Promise.all([
    ruleCount(runner, 'iptables-legacy-save'),
    ruleCount(runner, 'iptables-nft-save'),
  ]);
  return legacy > nft ? 'legacy' : 'nft';
}
