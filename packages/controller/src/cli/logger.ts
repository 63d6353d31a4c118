import { type Logger, pino } from 'pino';

/** pino JSON for machines; pretty lines when a person watches a terminal. */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  if (!pretty) return pino({ level, base: { app: 'probegate' } });
  return pino({
    level,
    base: undefined,
    transport: {
      target: 'pino-pretty',
      options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'app' },
    },
  });
}
