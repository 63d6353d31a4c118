import { isIPv4 } from 'node:net';
import type { PairGate } from './types.js';

/** Bad input, rejected before any command runs. Names the field and the value. */
export class InvalidInputError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`invalid ${field}: ${JSON.stringify(value)}: ${reason}`);
    this.name = 'InvalidInputError';
  }
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Strict dotted quad: no leading zeros (which some tools read as octal). */
export function validateIPv4(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isIPv4(value) || value.split('.').some((o) => /^0\d/.test(o))) {
    throw new InvalidInputError(field, value, 'expected an IPv4 address such as 10.0.0.4');
  }
  return value;
}

export interface Cidr {
  network: string;
  prefix: number;
}

/** `a.b.c.d/n` with the host bits zero; a bare address means /32. Returns the canonical form. */
export function validateCidr(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidInputError(field, value, 'expected an IPv4 CIDR');
  const [addr, prefixText, extra] = value.split('/');
  const reason = 'expected an IPv4 CIDR such as 168.63.129.16/32';
  if (
    extra !== undefined ||
    addr === undefined ||
    !isIPv4(addr) ||
    addr.split('.').some((o) => /^0\d/.test(o))
  ) {
    throw new InvalidInputError(field, value, reason);
  }
  if (prefixText !== undefined && !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefixText)) {
    throw new InvalidInputError(field, value, `${reason} (prefix 0-32)`);
  }
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((ipv4ToInt(addr) & ~mask) >>> 0 !== 0) {
    throw new InvalidInputError(
      field,
      value,
      `host bits are set; did you mean ${intToIpv4((ipv4ToInt(addr) & mask) >>> 0)}/${prefix}?`,
    );
  }
  return `${addr}/${prefix}`;
}

export function parseCidr(cidr: string): Cidr {
  const [network = '', prefix = '32'] = cidr.split('/');
  return { network, prefix: Number(prefix) };
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const prefix = Math.min(x.prefix, y.prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (ipv4ToInt(x.network) & mask) >>> 0 === (ipv4ToInt(y.network) & mask) >>> 0;
}

export function validatePort(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidInputError(field, value, 'expected a TCP port 1-65535');
  }
  return value;
}

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\/[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/;

/** Pair keys such as `namespace/name`: safe in rule comments, never quoted or split. */
export function validateKey(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > 317 || !KEY.test(value)) {
    throw new InvalidInputError(
      field,
      value,
      'expected a pair key such as "namespace/name" (letters, digits, . _ -)',
    );
  }
  return value;
}

export function validateLeaseSeconds(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2 || value > 86_400) {
    throw new InvalidInputError(field, value, 'expected whole seconds between 2 and 86400');
  }
  return value;
}

/** A validated pair with canonical CIDRs and without duplicates. */
export interface ValidPair {
  key: string;
  cidrs: string[];
  ports: number[];
  vip?: string;
  active: boolean;
}

/**
 * Validates every pair before any command runs. Two pairs may not gate the same
 * (source, port): one would decide for the other.
 */
export function validatePairs(pairs: unknown): ValidPair[] {
  if (!Array.isArray(pairs)) throw new InvalidInputError('pairs', pairs, 'expected an array');
  const out: ValidPair[] = [];
  const keys = new Map<string, number>();
  const byPort = new Map<number, { cidr: string; index: number; key: string }[]>();
  pairs.forEach((raw: Partial<PairGate>, i) => {
    const at = `pairs[${i}]`;
    if (raw === null || typeof raw !== 'object') throw new InvalidInputError(at, raw, 'expected an object');
    const key = validateKey(`${at}.key`, raw.key);
    if (keys.has(key))
      throw new InvalidInputError(`${at}.key`, key, `duplicate of pairs[${keys.get(key)}].key`);
    keys.set(key, i);
    if (!Array.isArray(raw.sourceCIDRs) || raw.sourceCIDRs.length === 0) {
      throw new InvalidInputError(
        `${at}.sourceCIDRs`,
        raw.sourceCIDRs,
        'expected a non-empty list of IPv4 CIDRs',
      );
    }
    const cidrs = [...new Set(raw.sourceCIDRs.map((c, j) => validateCidr(`${at}.sourceCIDRs[${j}]`, c)))];
    if (!Array.isArray(raw.ports) || raw.ports.length === 0) {
      throw new InvalidInputError(`${at}.ports`, raw.ports, 'expected a non-empty list of TCP ports');
    }
    const ports = [...new Set(raw.ports.map((p, j) => validatePort(`${at}.ports[${j}]`, p)))];
    if (typeof raw.active !== 'boolean')
      throw new InvalidInputError(`${at}.active`, raw.active, 'expected true or false');
    const pair: ValidPair = { key, cidrs, ports, active: raw.active };
    if (raw.vip !== undefined) pair.vip = validateIPv4(`${at}.vip`, raw.vip);
    for (const port of ports) {
      const gated = byPort.get(port) ?? [];
      for (const cidr of cidrs) {
        const clash = gated.find((g) => cidrsOverlap(cidr, g.cidr));
        if (clash) {
          throw new InvalidInputError(
            `${at}.ports`,
            port,
            `probes from ${cidr} to port ${port} are already gated by pairs[${clash.index}] (${clash.key})`,
          );
        }
      }
      byPort.set(port, [...gated, ...cidrs.map((cidr) => ({ cidr, index: i, key }))]);
    }
    out.push(pair);
  });
  return out;
}
