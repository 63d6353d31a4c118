import { parseArgs } from 'node:util';

/** One flag of a command: its env fallback and help text. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  env?: string;
  default?: string;
  short?: string;
  help: string;
}

export type Flags = Record<string, FlagSpec>;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses argv for one command: flags win over environment variables, which win over defaults. */
export function parseCommand<F extends Flags>(
  argv: string[],
  flags: F,
  env: NodeJS.ProcessEnv = process.env,
): {
  values: { [K in keyof F]: F[K]['type'] extends 'boolean' ? boolean : string | undefined };
  positionals: string[];
  help: boolean;
} {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const given = parsed.values[name];
    if (spec.type === 'boolean')
      values[name] = given === true || (spec.env ? env[spec.env] === 'true' : false);
    else
      values[name] = (given as string | undefined) ?? (spec.env ? env[spec.env] : undefined) ?? spec.default;
  }
  return {
    values: values as never,
    positionals: parsed.positionals,
    help: parsed.values.help === true,
  };
}

/** Help text listing every flag with its env variable and default. */
export function usage(command: string, summary: string, flags: Flags, positional = ''): string {
  const lines = [
    `Usage: probegate ${command}${positional ? ` ${positional}` : ''} [flags]`,
    '',
    summary,
    '',
    'Flags:',
  ];
  for (const [name, spec] of Object.entries(flags)) {
    const extra = [
      spec.env ? `env ${spec.env}` : '',
      spec.default !== undefined ? `default ${spec.default}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `  --${name}${spec.type === 'string' ? ' VALUE' : ''}`.padEnd(34) +
        spec.help +
        (extra ? ` (${extra})` : ''),
    );
  }
  lines.push(`${'  -h, --help'.padEnd(34)}show this help`);
  return `${lines.join('\n')}\n`;
}

/** A required string flag, with an error naming the flag and its variable. */
export function required(value: string | undefined, flag: string, spec: FlagSpec): string {
  if (value === undefined || value === '') {
    throw new UsageError(`--${flag}${spec.env ? ` (or ${spec.env})` : ''} is required`);
  }
  return value;
}

/** A port number flag, validated. */
export function portFlag(value: string | undefined, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--${flag}: '${value}' is not a port (0-65535)`);
  }
  return port;
}
