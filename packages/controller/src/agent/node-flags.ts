/**
 * Node/V8 flags the agent runs with: the Dockerfile's ENTRYPOINT, the systemd unit's ExecStart
 * and the `probegate` bin's shebang carry the same list (a unit test compares them), and the
 * scale bench starts its agents with it.
 *
 * Since the CLI ships as one bundled file (scripts/bundle.ts) and with AGENT_ENV below, RSS at
 * 1,000 pairs is 135-151 MiB (npm run bench:controller, 6 runs, 2026-12-01); the figures below are from
 * before, with ~2,800 separate modules of @kubernetes/client-node.
 *
 * Measured with 1,000 pairs (npm run bench:controller), RSS of the active node, steady state:
 * - no flags: 476 MiB (peak 477; 565 on a loaded machine). V8 sized its heap at ~250 MiB for
 *   ~70 MiB live: new space with 16 MiB semi-spaces, and an old space grown by up to 4x its live
 *   size after each full GC on a machine with plenty of memory.
 * - --max-semi-space-size=1 alone: 340 MiB.
 * - both flags: 176-189 MiB over 8 runs (heap ~75-83 MiB total for ~62-70 MiB used). The
 *   old-space limit is what makes V8 grow the heap by a smaller factor; 256 MiB leaves more than
 *   three times the live heap of 1,000 pairs. With 10 pairs the same agent takes ~130 MiB: the
 *   rest is loaded code (@kubernetes/client-node alone is +65 MiB RSS on import).
 * Cost: more, smaller collections. GC pauses (prom-client's nodejs_gc_duration_seconds) in a
 * 60 s idle window: ~0.15 s on the active node; during a 1,000-pair mass failover ~0.33 s per
 * node. In CPU profiles of the standby node's mass failover the GC share went from 14% (no flags)
 * to ~26% of its busy time. --max-semi-space-size=4 measured RSS 187 MiB (one run, failover
 * 3.15 s vs 4.6 s with 1; not enough runs to call it).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'] as const;

/**
 * Environment the agent runs with (Dockerfile ENV, systemd unit Environment=, the scale bench):
 * glibc gives each thread that allocates its own malloc arena (up to 8 per core); Node's worker
 * threads (libuv pool, V8's GC and compiler) then keep partly used arenas resident. Two arenas
 * measured ~5 MiB less RSS at 1,000 pairs (140 vs 146 MiB, one run each on the same machine).
 */
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2' } as const;
