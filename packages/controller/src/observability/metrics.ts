import type { CommandTiming } from '@probegate/host';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface ProbeCounters {
  acceptedPackets: number;
  acceptedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
}

/** How often the default metrics sample the event loop delay (prom-client's default: 10 ms). */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Every probegate_* metric of one agent, on its own registry (no globals). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly role: Gauge<'pair' | 'node'>;
  readonly transitions: Counter<'pair' | 'from' | 'to' | 'reason'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly errors: Counter<'pair' | 'stage'>;
  readonly gateOpen: Gauge<'pair'>;
  readonly vipBound: Gauge<'pair'>;
  readonly probePackets: Counter<'pair' | 'verdict'>;
  readonly probeBytes: Counter<'pair' | 'verdict'>;
  readonly queueDepth: Gauge;
  readonly pairs: Gauge<'validity'>;
  readonly portCallDuration: Histogram<'port' | 'call' | 'result'>;
  readonly hostCommandDuration: Histogram<'command' | 'started' | 'result'>;
  private readonly lastProbe = new Map<string, number>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    // prom-client samples the event loop delay every 10 ms by default: 100 wake-ups a second cost
    // an idle agent ~0.8% of a core (measured), most of its idle budget. 10 samples a second still
    // see any lag worth alerting on.
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.role = new Gauge({
      name: 'probegate_pair_role',
      help: 'Role of this node in the pair: 1 Active, 0 Standby.',
      labelNames: ['pair', 'node'],
      registers,
    });
    this.transitions = new Counter({
      name: 'probegate_transitions_total',
      help: 'Role transitions made by this node.',
      labelNames: ['pair', 'from', 'to', 'reason'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'probegate_reconcile_duration_seconds',
      help: 'Duration of one reconcile of one pair.',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.errors = new Counter({
      name: 'probegate_reconcile_errors_total',
      help: 'Reconcile errors by stage (validate, observe, arbiter, actuate, status).',
      labelNames: ['pair', 'stage'],
      registers,
    });
    this.gateOpen = new Gauge({
      name: 'probegate_gate_open',
      help: 'Probe gate of the pair on this node as read from the kernel: 1 open, 0 closed.',
      labelNames: ['pair'],
      registers,
    });
    this.vipBound = new Gauge({
      name: 'probegate_vip_bound',
      help: 'VIP of the pair bound on lo of this node as read from the kernel: 1 bound, 0 not.',
      labelNames: ['pair'],
      registers,
    });
    this.probePackets = new Counter({
      name: 'probegate_probe_packets_total',
      help: 'Load balancer probe packets seen by the gate, by verdict (accepted, dropped).',
      labelNames: ['pair', 'verdict'],
      registers,
    });
    this.probeBytes = new Counter({
      name: 'probegate_probe_bytes_total',
      help: 'Load balancer probe bytes seen by the gate, by verdict (accepted, dropped).',
      labelNames: ['pair', 'verdict'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'probegate_workqueue_depth',
      help: 'Pairs waiting in the work queue.',
      registers,
    });
    this.portCallDuration = new Histogram({
      name: 'probegate_port_call_duration_seconds',
      help: 'Time a reconcile spends in each outside call: kernel write (host flush, including the wait for a batch), status write, lock acquire/release.',
      labelNames: ['port', 'call', 'result'],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.hostCommandDuration = new Histogram({
      name: 'probegate_host_command_duration_seconds',
      help: 'Kernel commands (iptables-restore, nft, ip) by command, and whether the process was started ahead (standby) or at the call (cold).',
      labelNames: ['command', 'started', 'result'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.pairs = new Gauge({
      name: 'probegate_pairs',
      help: 'Pairs naming this node, by validity (valid, invalid).',
      labelNames: ['validity'],
      registers,
    });
  }

  /** Runs `call`, observing its duration by port, call and outcome. */
  async timed<T>(port: string, call: string, run: () => Promise<T>): Promise<T> {
    const stop = this.portCallDuration.startTimer({ port, call });
    try {
      const value = await run();
      stop({ result: 'ok' });
      return value;
    } catch (error) {
      stop({ result: 'error' });
      throw error;
    }
  }

  /** Observes one kernel command (wired to the host runner's onCommand). */
  observeHostCommand(timing: CommandTiming): void {
    const command = (timing.argv[0] ?? '').split('/').at(-1) ?? '';
    this.hostCommandDuration.observe(
      {
        command,
        started: timing.standby ? 'standby' : 'cold',
        result: timing.exitCode === 0 ? 'ok' : 'error',
      },
      timing.durationMs / 1000,
    );
  }

  /** Mirrors the kernel's counters into Prometheus counters (a kernel reset counts from zero again). */
  observeProbeCounters(pair: string, counters: ProbeCounters): void {
    const mirror = (metric: Counter<'pair' | 'verdict'>, verdict: string, value: number) => {
      const key = `${metric === this.probePackets ? 'p' : 'b'}|${pair}|${verdict}`;
      const last = this.lastProbe.get(key) ?? 0;
      const delta = value >= last ? value - last : value;
      if (delta > 0) metric.inc({ pair, verdict }, delta);
      this.lastProbe.set(key, value);
    };
    mirror(this.probePackets, 'accepted', counters.acceptedPackets);
    mirror(this.probePackets, 'dropped', counters.droppedPackets);
    mirror(this.probeBytes, 'accepted', counters.acceptedBytes);
    mirror(this.probeBytes, 'dropped', counters.droppedBytes);
  }

  /** Drops the series of a pair that no longer exists on this node. */
  forgetPair(pair: string, node: string): void {
    this.role.remove({ pair, node });
    this.gateOpen.remove({ pair });
    this.vipBound.remove({ pair });
    for (const verdict of ['accepted', 'dropped']) {
      this.probePackets.remove({ pair, verdict });
      this.probeBytes.remove({ pair, verdict });
    }
    for (const key of this.lastProbe.keys()) if (key.split('|')[1] === pair) this.lastProbe.delete(key);
  }
}
