import { randomBytes } from 'node:crypto';
import { createNamespace, destroyNamespace } from '@probegate/testenv';
import { execa } from 'execa';
import {
  CLIENT_ADDR,
  CONSUL_SERVER_ADDR,
  LAN_PREFIX,
  PROBE_SOURCE_ADDR,
  SLB_CLIENT_SIDE_ADDR,
  VIP,
  VM1_ADDR,
  VM2_ADDR,
} from './addresses.js';

export type VmName = 'vm1' | 'vm2';

/** The namespaces of one e2e topology (real names carry a unique suffix). */
export interface Topology {
  readonly fabric: string;
  readonly vm: Readonly<Record<VmName, string>>;
  readonly consul: string;
  readonly slb: string;
  readonly client: string;
  /** LAN address of each VM. */
  readonly address: Readonly<Record<VmName, string>>;
  /** Takes a VM's LAN link down or up (the VM "leaves the network"). */
  setVmLink(vm: VmName, up: boolean): Promise<void>;
  /** Cuts (or restores) the path between a VM and the Consul server only (blackhole routes both ways). */
  partitionFromConsulServer(vm: VmName, cut: boolean): Promise<void>;
  /** Deletes every namespace (and with them every veth, route and rule). */
  destroy(): Promise<void>;
}

/** `ip` in the root namespace, only ever with `-n NS` (never touching the root namespace itself). */
async function ipIn(ns: string, argv: readonly string[]): Promise<void> {
  const r = await execa('ip', ['-n', ns, ...argv], { reject: false });
  if (r.exitCode !== 0) {
    throw new Error(`ip -n ${ns} ${argv.join(' ')} exited ${r.exitCode}: ${String(r.stderr).trim()}`);
  }
}

async function sysctlIn(ns: string, setting: string): Promise<void> {
  const r = await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', setting], { reject: false });
  if (r.exitCode !== 0) throw new Error(`sysctl ${setting} in ${ns}: ${String(r.stderr).trim()}`);
}

/**
 * Plugs a namespace into the fabric bridge: the bridge side gets `name` (unique, at most 15
 * characters), the namespace side is called eth0.
 */
async function plugIntoBridge(fabric: string, ns: string, name: string, cidr: string): Promise<void> {
  await ipIn(fabric, ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await ipIn(fabric, ['link', 'set', name, 'master', 'br0']);
  await ipIn(fabric, ['link', 'set', name, 'up']);
  await ipIn(ns, ['addr', 'add', cidr, 'dev', 'eth0']);
  await ipIn(ns, ['link', 'set', 'eth0', 'up']);
}

/**
 * Builds the topology of DESIGN.md: a fabric namespace with a bridge (the LAN), vm1 and vm2,
 * a Consul server, the SLB emulator (which forwards between the client link and the LAN) and a
 * client. VMs answer through the emulator (default route), as Azure backends do. Everything is
 * inside namespaces this process created; destroy() (or process exit) removes all of it.
 */
export async function createTopology(): Promise<Topology> {
  const created: string[] = [];
  const make = async (prefix: string) => {
    const ns = await createNamespace(prefix);
    created.push(ns);
    return ns;
  };
  try {
    const fabric = await make('pefab');
    const vm1 = await make('pevma');
    const vm2 = await make('pevmb');
    const consul = await make('pecsl');
    const slb = await make('peslb');
    const client = await make('pecli');
    const tag = randomBytes(3).toString('hex');

    await ipIn(fabric, ['link', 'add', 'br0', 'type', 'bridge']);
    await ipIn(fabric, ['link', 'set', 'br0', 'up']);
    await plugIntoBridge(fabric, vm1, `a${tag}`, `${VM1_ADDR}/${LAN_PREFIX}`);
    await plugIntoBridge(fabric, vm2, `b${tag}`, `${VM2_ADDR}/${LAN_PREFIX}`);
    await plugIntoBridge(fabric, consul, `c${tag}`, `${CONSUL_SERVER_ADDR}/${LAN_PREFIX}`);
    await plugIntoBridge(fabric, slb, `s${tag}`, `${PROBE_SOURCE_ADDR}/${LAN_PREFIX}`);

    // The client's own link to the emulator: eth1 in slb, eth0 in client.
    await ipIn(slb, ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await ipIn(slb, ['addr', 'add', `${SLB_CLIENT_SIDE_ADDR}/24`, 'dev', 'eth1']);
    await ipIn(slb, ['link', 'set', 'eth1', 'up']);
    await ipIn(client, ['addr', 'add', `${CLIENT_ADDR}/24`, 'dev', 'eth0']);
    await ipIn(client, ['link', 'set', 'eth0', 'up']);
    await ipIn(client, ['route', 'add', `${VIP}/32`, 'via', SLB_CLIENT_SIDE_ADDR]);

    // Only the emulator forwards (net.ipv4.ip_forward is per namespace).
    await sysctlIn(slb, 'net.ipv4.ip_forward=1');
    for (const vm of [vm1, vm2]) {
      await ipIn(vm, ['route', 'add', 'default', 'via', PROBE_SOURCE_ADDR]);
      // Replies to the client leave through eth0 for a VIP that lives on lo.
      await sysctlIn(vm, 'net.ipv4.conf.all.rp_filter=0');
      await sysctlIn(vm, 'net.ipv4.conf.eth0.rp_filter=0');
    }

    const vm = { vm1, vm2 };
    const address = { vm1: VM1_ADDR, vm2: VM2_ADDR };
    return {
      fabric,
      vm,
      consul,
      slb,
      client,
      address,
      async setVmLink(name, up) {
        await ipIn(vm[name], ['link', 'set', 'eth0', up ? 'up' : 'down']);
        // A link going down takes its routes with it: put the default route back.
        if (up) await ipIn(vm[name], ['route', 'replace', 'default', 'via', PROBE_SOURCE_ADDR]);
      },
      async partitionFromConsulServer(name, cut) {
        const verb = cut ? 'add' : 'del';
        await ipIn(vm[name], ['route', verb, 'blackhole', `${CONSUL_SERVER_ADDR}/32`]);
        await ipIn(consul, ['route', verb, 'blackhole', `${address[name]}/32`]);
      },
      async destroy() {
        for (const ns of created.reverse()) await destroyNamespace(ns);
      },
    };
  } catch (error) {
    for (const ns of created.reverse()) await destroyNamespace(ns).catch(() => undefined);
    throw error;
  }
}
