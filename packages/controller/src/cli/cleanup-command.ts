import { type BackendChoice, createHostActuator } from '@probegate/host';
import { type Flags, parseCommand, usage } from './options.js';

export const CLEANUP_FLAGS = {
  backend: {
    type: 'string',
    env: 'PROBEGATE_BACKEND',
    default: 'auto',
    help: 'auto | iptables-nft | iptables-legacy | nftables',
  },
  all: {
    type: 'boolean',
    help: 'clean every backend (iptables nft and legacy, nftables), not just the detected one',
  },
} as const satisfies Flags;

const SUMMARY = `Removes every trace of probegate from this host: its firewall chain or table (probes are then
no longer dropped) and the VIPs it bound on lo. Run it after uninstalling the agent.`;

export async function cleanupCommand(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(argv, CLEANUP_FLAGS);
  if (help) {
    process.stdout.write(usage('cleanup', SUMMARY, CLEANUP_FLAGS));
    return 0;
  }
  const backends: BackendChoice[] = values.all
    ? ['iptables-nft', 'iptables-legacy', 'nftables']
    : [values.backend as BackendChoice];
  for (const backend of backends) {
    const actuator = await createHostActuator({ backend });
    await actuator.cleanup();
    process.stdout.write(`cleaned ${actuator.backend}\n`);
  }
  return 0;
}
