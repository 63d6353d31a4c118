import type { InvariantReport } from './invariant.js';
import type { E2eStack } from './stack.js';

/** What a scenario observed: its time window and the split-brain check over it. */
export interface ScenarioResult {
  from: number;
  to: number;
  report: InvariantReport;
}

/**
 * Runs one scenario on a running stack and checks the invariant over exactly its window: both
 * backends probe-healthy (and routed) at once for no longer than one probe interval (the
 * measuring granularity), every answered request answered by exactly one known node.
 */
export async function runScenario(stack: E2eStack, body: () => Promise<void>): Promise<ScenarioResult> {
  const from = Date.now();
  await body();
  // Let the emulator see the final state once more before closing the window.
  await stack.slb.rounds(1);
  const to = Date.now();
  const report = stack.invariant(from, to);
  const granularity = stack.slb.intervalMs;
  const problems: string[] = [];
  if (report.bothProbeHealthyMs > granularity)
    problems.push(`both backends answered probes at once for ${report.bothProbeHealthyMs} ms`);
  if (report.bothRoutedMs > granularity)
    problems.push(`the emulator routed the VIP to both backends for ${report.bothRoutedMs} ms`);
  if (report.badAnswers.length > 0)
    problems.push(
      `requests not answered by exactly one node: ${JSON.stringify(report.badAnswers.slice(0, 3))}`,
    );
  if (problems.length > 0) {
    throw new Error(`invariant violated: ${problems.join('; ')}\n${stack.agentLogs()}`);
  }
  return { from, to, report };
}
