// Starts a daemon, reports its pid and log file, then waits to end (see daemon.test.ts):
// "exit" ends normally, "term" waits for SIGTERM.
import { startDaemon } from '../../src/index.js';

const daemon = startDaemon('orphan', ['sleep', '300']);
process.stdout.write(`${JSON.stringify({ pid: daemon.pid, logFile: daemon.logFile })}\n`);
if (process.argv[2] === 'exit') setTimeout(() => process.exit(0), 200);
else setInterval(() => {}, 1000);
