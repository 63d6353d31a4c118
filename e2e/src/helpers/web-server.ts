// A VM's web server: answers every HTTP request with the VM's host name.
// Runs inside the VM's namespace with Node's own type stripping: node web-server.ts NAME PORT[,PORT...]
import { createServer } from 'node:http';

const [name = '', portText = '80'] = process.argv.slice(2);
if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`invalid name: ${JSON.stringify(name)}`);
const ports = portText.split(',').map(Number);
let pending = ports.length;
const servers = ports.map((port) => {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    response.end(`${name}\n`);
  });
  server.keepAliveTimeout = 0;
  server.listen(port, '0.0.0.0', () => {
    pending -= 1;
    if (pending === 0) process.stdout.write('listening\n');
  });
  return server;
});
process.on('SIGTERM', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
