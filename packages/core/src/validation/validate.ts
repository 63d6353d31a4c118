// Validation of a FailoverPair spec: the JSON schema (structure, ranges, formats,
// unknown fields) plus the cross-field rules mirrored from CEL. Returns every
// problem, each with its field path (relative to the spec, Kubernetes notation such
// as `probe.ports[1]`), the offending value and a message naming both.
import { Compile, type Validator } from 'typebox/compile';
import { Value } from 'typebox/value';
import { type FailoverPairSpec, FailoverPairSpecSchema } from '../schema/failover-pair-spec.js';
import { failoverPairSpecCelRules } from './cel-rules.js';

export interface ValidationProblem {
  /** Field path relative to the spec, e.g. `primary.address` or `probe.ports[2]`; `` for the spec itself. */
  readonly path: string;
  readonly value: unknown;
  readonly message: string;
}

export type SpecValidationResult =
  | { readonly ok: true; readonly value: FailoverPairSpec }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

let compiled: Validator | undefined;
function specValidator(): Validator {
  compiled ??= Compile(FailoverPairSpecSchema) as unknown as Validator;
  return compiled;
}

/** Validates a spec (after applying defaults, as the API server does) and returns it with defaults or every problem. */
export function validateFailoverPairSpec(input: unknown): SpecValidationResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return {
      ok: false,
      problems: [{ path: '', value: input, message: `spec must be an object (got ${show(input)})` }],
    };
  }
  const candidate = Value.Default(FailoverPairSpecSchema, Value.Clone(input)) as unknown;
  const problems: ValidationProblem[] = [];
  const seen = new Set<string>();
  const add = (problem: ValidationProblem) => {
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push(problem);
  };
  const validator = specValidator();
  if (!validator.Check(candidate)) {
    for (const error of validator.Errors(candidate) as unknown as SchemaError[]) {
      for (const problem of problemsFromSchemaError(error, candidate)) add(problem);
    }
  }
  const structuralPaths = new Set(problems.map((problem) => problem.path));
  for (const rule of failoverPairSpecCelRules) {
    for (const violation of rule.violations(candidate)) {
      // A field already reported by the schema (e.g. a malformed IP) is not reported twice.
      if (structuralPaths.has(violation.path)) continue;
      add({
        path: violation.path,
        value: violation.value,
        message: `${violation.path}: ${rule.message} (got ${show(violation.value)})`,
      });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: candidate as FailoverPairSpec };
}

/** Like validateFailoverPairSpec but throws an Error listing every problem. */
export function parseFailoverPairSpec(input: unknown, source = 'FailoverPair spec'): FailoverPairSpec {
  const result = validateFailoverPairSpec(input);
  if (result.ok) return result.value;
  throw new Error(
    `invalid ${source}:\n${result.problems.map((problem) => `  - ${problem.message}`).join('\n')}`,
  );
}

function problemsFromSchemaError(error: SchemaError, root: unknown): ValidationProblem[] {
  const segments = pointerSegments(error.instancePath);
  const path = formatPath(root, segments);
  const value = valueAt(root, segments);
  const at = (label: string) => (label === '' ? 'spec' : label);
  switch (error.keyword) {
    case 'boolean':
      return []; // `additionalProperties: false` per field; reported below with the field name
    case 'additionalProperties': {
      const names = (error.params.additionalProperties as string[] | undefined) ?? [];
      return names.map((name) => {
        const fieldPath = formatPath(root, [...segments, name]);
        return {
          path: fieldPath,
          value: valueAt(root, [...segments, name]),
          message: `${fieldPath}: unknown field (not part of ${at(path)})`,
        };
      });
    }
    case 'required': {
      const names = (error.params.requiredProperties as string[] | undefined) ?? [];
      return names.map((name) => {
        const fieldPath = formatPath(root, [...segments, name]);
        return { path: fieldPath, value: undefined, message: `${fieldPath}: required field is missing` };
      });
    }
    case 'uniqueItems': {
      if (!Array.isArray(value)) return [];
      const duplicates: ValidationProblem[] = [];
      value.forEach((item, index) => {
        if (value.findIndex((other) => Value.Equal(other, item)) === index) return;
        const itemPath = formatPath(root, [...segments, String(index)]);
        duplicates.push({
          path: itemPath,
          value: item,
          message: `${itemPath}: duplicate value ${show(item)}`,
        });
      });
      return duplicates;
    }
    default:
      return [{ path, value, message: `${at(path)}: ${describe(error)} (got ${show(value)})` }];
  }
}

function describe(error: SchemaError): string {
  const { params } = error;
  switch (error.keyword) {
    case 'type':
      return `must be of type ${String(params.type)}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'format':
      return params.format === 'ipv4'
        ? 'must be an IPv4 address such as 10.0.0.4'
        : `must be a valid ${String(params.format)}`;
    case 'minLength':
      return params.limit === 1
        ? 'must not be empty'
        : `must have at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `must have at most ${String(params.limit)} characters`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(params.comparison)} ${String(params.limit)}`;
    case 'minItems':
      return `must have at least ${String(params.limit)} item(s)`;
    case 'maxItems':
      return `must have at most ${String(params.limit)} items`;
    default:
      return error.message;
  }
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * `['probe','ports','2']` -> `probe.ports[2]` (the notation the API server uses).
 * Array indexes in brackets; field names that are not plain identifiers quoted in brackets.
 */
function formatPath(root: unknown, segments: readonly string[]): string {
  let path = '';
  let current = root;
  for (const segment of segments) {
    if (Array.isArray(current)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
    current =
      current !== null && typeof current === 'object'
        ? (current as Record<string, unknown>)[segment]
        : undefined;
  }
  return path;
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
