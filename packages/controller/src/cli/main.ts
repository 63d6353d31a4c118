#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=256
import { agentCommand } from './agent-command.js';
import { cleanupCommand } from './cleanup-command.js';
import { UsageError } from './options.js';
import { statusCommand } from './status-command.js';
import { switchoverCommand } from './switchover-command.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; summary: string }> = {
  agent: { run: agentCommand, summary: 'run the agent on this node (Kubernetes or VM mode)' },
  status: { run: statusCommand, summary: 'show pairs, who is active and why' },
  switchover: { run: switchoverCommand, summary: 'ask a pair to move activity to a node' },
  cleanup: { run: cleanupCommand, summary: 'remove every probegate rule and VIP from this host' },
};

const HELP = `probegate: active/passive failover behind the Azure Standard Load Balancer.

Usage: probegate <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`)
  .join('\n')}

Run 'probegate <command> --help' for the flags of a command.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`probegate ${name}: ${error.message}\nRun 'probegate ${name} --help'.\n`);
      return 2;
    }
    process.stderr.write(`probegate ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Watches and sockets may linger after a command finished; the command's result is final.
  setTimeout(() => process.exit(code), 100).unref();
});
