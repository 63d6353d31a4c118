// A VM's web server: answers every HTTP request with the VM's host name.
// Runs inside the VM's namespace with Node's own type stripping: node web-server.ts NAME PORT
import { createServer } from 'node:http';

const [name = '', portText = '80'] = process.argv.slice(2);
if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`invalid name: ${JSON.stringify(name)}`);
const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
  response.end(`${name}\n`);
});
server.keepAliveTimeout = 0;
server.listen(Number(portText), '0.0.0.0', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
