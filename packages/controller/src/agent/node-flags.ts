/**
 * Node/V8 flags the agent runs with: the Dockerfile's ENTRYPOINT, the systemd unit's ExecStart
 * and the `probegate` bin's shebang carry the same list (a unit test compares them), and the
 * scale bench starts its agents with it.
 *
 * Measured with 1,000 pairs (npm run bench:controller), RSS of the active node:
 * - no flags: 477 MiB steady, 565 MiB peak. V8 sized its heap at ~250 MiB for ~70 MiB live:
 *   the new space (16 MiB semi-spaces) and an old space grown by up to 4x its live size after
 *   each full GC, on a machine with plenty of memory.
 * - --max-semi-space-size=1 alone: 340 MiB.
 * - both flags: 187 MiB steady, 191 MiB peak (heap ~83 MiB total for ~71 MiB used).
 * The old-space limit is what makes V8 grow the heap by a smaller factor; 256 MiB leaves more
 * than three times the live heap of 1,000 pairs before V8 would give up. The cost is more
 * frequent, smaller collections.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'] as const;
