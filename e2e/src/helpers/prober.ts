// The SLB emulator's health prober: every interval it opens a TCP connection to each backend's
// probe port from this namespace (the fixed probe source) and prints one JSON line per round:
// {"t": <ms epoch>, "results": [{"backend": "198.18.0.11", "port": 80, "ok": true}, ...]}
// Usage: node prober.ts INTERVAL_MS TIMEOUT_MS PORT[,PORT...] BACKEND...
import { connect } from 'node:net';

const [intervalText = '1000', timeoutText = '400', portsText = '80', ...backends] = process.argv.slice(2);
const intervalMs = Number(intervalText);
const timeoutMs = Number(timeoutText);
const ports = portsText.split(',').map(Number);

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const start = Date.now();
let round = 0;
async function tick(): Promise<void> {
  const t = Date.now();
  const targets = backends.flatMap((backend) => ports.map((port) => ({ backend, port })));
  const results = await Promise.all(targets.map(async (x) => ({ ...x, ok: await probe(x.backend, x.port) })));
  process.stdout.write(`${JSON.stringify({ t, results })}\n`);
  round += 1;
  // A fixed schedule, so a slow round does not shift the next ones.
  setTimeout(tick, Math.max(0, start + round * intervalMs - Date.now()));
}
void tick();
