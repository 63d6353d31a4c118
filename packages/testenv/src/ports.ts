import { createServer } from 'node:net';

/** Ports already handed out by this process: the OS may offer a just-released port again. */
const handedOut = new Set<string>();

function askOs(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

/**
 * A port that was free a moment ago on the given loopback address (the OS picks it), never one this
 * process handed out before: one daemon asks for several ports before it binds any of them.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await askOs(host);
    const key = `${host}:${port}`;
    if (handedOut.has(key)) continue;
    handedOut.add(key);
    return port;
  }
  throw new Error(`freePort(${host}): the OS kept offering ports already handed out`);
}
