import type { E2eStack } from './stack.js';

const VMS = ['vm1', 'vm2'] as const;

/** Brings a stack back to "everything up, vm1 serving" after a scenario broke something. */
export async function restoreEverything(stack: E2eStack, pairs = [{}]): Promise<void> {
  stack.writePairs(pairs);
  for (const vm of VMS) {
    await stack.topology.setVmLink(vm, true);
    await stack.topology.partitionFromConsulServer(vm, false).catch(() => undefined);
    if (!stack.web[vm].running) await stack.web[vm].start();
    if (!stack.consul[vm].running) stack.consul[vm].start();
  }
  for (const vm of VMS) {
    if (!stack.agents[vm].running) {
      stack.agents[vm].start();
      await stack.agents[vm].started();
    }
  }
  await stack.waitForWebHealth({ vm1: 'passing', vm2: 'passing' }, 60_000);
  await stack.waitForActive('vm1', 60_000);
}
