// A live failover for newcomers: builds the e2e topology in network namespaces, shows who is
// active, stops the primary's web server, shows the switch, restores it and cleans up.
// Run as root: npx tsx --conditions=probegate-source e2e/src/demo.ts
import { requireRoot } from '@probegate/testenv';
import { VIP } from './addresses.js';
import { narrate } from './narrator.js';
import { probegateStatus } from './probegate-status.js';
import { E2eStack } from './stack.js';

const say = (line = '') => process.stdout.write(`${line}\n`);

async function showStatus(stack: E2eStack): Promise<void> {
  say(
    await probegateStatus(stack.pairsFile, stack.consulUrl).catch(
      (e: unknown) => `(probegate status failed: ${(e as Error).message})`,
    ),
  );
}

async function main(): Promise<void> {
  requireRoot();
  say('probegate demo: two VMs behind an emulated Azure Standard Load Balancer');
  say(`building namespaces (fabric, vm1, vm2, consul, slb, client), Consul, web servers and agents...`);
  const t0 = Date.now();
  const stack = await E2eStack.start();
  try {
    await stack.waitForActive('vm1', 90_000);
    // The split-brain check starts once probegate has taken over (before that nothing gates probes).
    const from = Date.now();
    say(
      `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s. The client sends GET http://${VIP}/ ten times a second.\n`,
    );
    await showStatus(stack);
    const start = Date.now();
    const stopNarrating = narrate(stack, start, say);
    say(`+  0.00s  stopping vm1's web server (Consul's HTTP check will go critical)`);
    await stack.web.vm1.stop();
    const first = await stack.client.firstAnswerFrom('vm2', start, 60_000);
    await stack.slb.rounds(2);
    stopNarrating();
    say(
      `\nfailover: first answer from vm2 ${((first.t - start) / 1000).toFixed(2)} s after vm1's web server stopped\n`,
    );
    await showStatus(stack);
    say(`starting vm1's web server again (failback: Automatic, after failbackDelaySeconds)`);
    const back = Date.now();
    const stop2 = narrate(stack, back, say);
    await stack.web.vm1.start();
    await stack.waitForActive('vm1', 60_000);
    await stack.slb.rounds(1);
    stop2();
    const report = stack.invariant(from);
    say(
      `\nsplit-brain check: both backends probe-healthy at once for ${report.bothProbeHealthyMs} ms ` +
        `(granularity ${stack.slb.intervalMs} ms); answers: ${JSON.stringify(report.answeredBy)}, failed ${report.failed}`,
    );
  } finally {
    say('cleaning up (namespaces, processes)...');
    await stack.destroy();
  }
  say('done.');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
