import type { CommandRunner } from './command-runner.js';

/** Address label on `lo` marking our VIPs (labels must start with the device name, max 15 chars). */
export const VIP_LABEL = 'lo:pg';

interface IpAddrJson {
  ifname?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; label?: string }[];
}

/** Parses `ip -j addr show dev lo`: the /32 IPv4 addresses carrying our label. */
export function parseLabelledVips(text: string): string[] {
  const links = JSON.parse(text || '[]') as IpAddrJson[];
  return links.flatMap((l) =>
    (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' && a.prefixlen === 32 && a.label === VIP_LABEL && a.local)
      .map((a) => a.local as string),
  );
}

/** Every IPv4 address on `lo`, whatever its label (e.g. a VIP added by hand or by the old script). */
export function parseAllAddresses(text: string): string[] {
  const links = JSON.parse(text || '[]') as IpAddrJson[];
  return links.flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => a.local as string),
  );
}

export interface LoopbackAddresses {
  /** Ours: /32 with the probegate label. */
  labelled: string[];
  /** Every IPv4 address on lo. */
  all: Set<string>;
}

/** VIPs as /32 on `lo`: observed from the kernel, only ever touching our labelled addresses. */
const IP_READ = ['ip', '-j', '-batch', '-'];
const IP_WRITE = ['ip', '-batch', '-'];

export class VipManager {
  constructor(private readonly runner: CommandRunner) {}

  /** Command lines fed on stdin, to start ahead (see StandbyProcesses). */
  readonly stdinCommands = [IP_READ, IP_WRITE];

  async read(): Promise<LoopbackAddresses> {
    // Through stdin like the writes, so a started `ip` can serve it (see StandbyProcesses).
    const { stdout } = await this.runner.run(IP_READ, { input: 'addr show dev lo\n' });
    return { labelled: parseLabelledVips(stdout), all: new Set(parseAllAddresses(stdout)) };
  }

  /** Binds all, in one `ip -batch` process: a 1,000-pair start is not 1,000 processes. */
  async bind(vips: readonly string[]): Promise<void> {
    await this.batch('add', vips);
  }

  async unbind(vips: readonly string[]): Promise<void> {
    await this.batch('del', vips);
  }

  private async batch(verb: 'add' | 'del', vips: readonly string[]): Promise<void> {
    if (vips.length === 0) return;
    const input = vips.map((v) => `addr ${verb} ${v}/32 dev lo label ${VIP_LABEL}\n`).join('');
    await this.runner.run(IP_WRITE, { input });
  }
}
