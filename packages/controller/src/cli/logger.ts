import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

/**
 * pino JSON for machines; pretty lines when a person watches a terminal. The pretty printer runs
 * in-process (a stream, not a worker-thread transport): the agent ships as one bundled file
 * (scripts/bundle.ts), where a transport could not find its worker's module on disk.
 */
export function createLogger(level: string, isTerminal = process.stdout.isTTY === true): Logger {
  if (!isTerminal) return pino({ level, base: { app: 'probegate' } });
  return pino(
    { level, base: undefined },
    pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'app', sync: true }),
  );
}
