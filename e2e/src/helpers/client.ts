// The client: HTTP GETs to the VIP in a loop, one JSON line per request:
// {"t": <ms epoch at start>, "ok": true, "who": "vm1", "ms": 3}
// Usage: node client.ts HOST PORT INTERVAL_MS TIMEOUT_MS
import { request } from 'node:http';

const [host = '', portText = '80', intervalText = '100', timeoutText = '500'] = process.argv.slice(2);
const intervalMs = Number(intervalText);
const timeoutMs = Number(timeoutText);

function get(): Promise<{ ok: boolean; who?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host, port: Number(portText), path: '/', agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ ok: res.statusCode === 200, who: body.trim() }));
        res.on('error', (e: Error) => resolve({ ok: false, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: Error) => resolve({ ok: false, error: e.message }));
    req.end();
  });
}

async function loop(): Promise<void> {
  for (;;) {
    const t = Date.now();
    const result = await get();
    process.stdout.write(`${JSON.stringify({ t, ms: Date.now() - t, ...result })}\n`);
    await new Promise((r) => setTimeout(r, Math.max(0, t + intervalMs - Date.now())));
  }
}
void loop();
