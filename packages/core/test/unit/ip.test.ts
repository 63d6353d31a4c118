import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  formatIpv4,
  formatIpv4Cidr,
  IPV4_CIDR_PATTERN,
  IPV4_PATTERN,
  parseIpv4,
  parseIpv4Cidr,
} from '../../src/index.js';

const addresses: readonly [string, number | undefined][] = [
  ['0.0.0.0', 0],
  ['168.63.129.16', 0xa83f8110],
  ['255.255.255.255', 0xffffffff],
  ['198.18.0.1', 0xc6120001],
  ['256.0.0.1', undefined],
  ['1.2.3', undefined],
  ['1.2.3.4.5', undefined],
  ['01.2.3.4', undefined],
  ['1.2.3.04', undefined],
  ['1..2.3', undefined],
  ['1.2.3.4 ', undefined],
  ['a.b.c.d', undefined],
  ['', undefined],
  ['fd00::1', undefined],
  ['-1.2.3.4', undefined],
];

describe('IPv4 addresses', () => {
  it.each(addresses)('%s -> %s', (text, expected) => {
    expect(parseIpv4(text)).toBe(expected);
    expect(new RegExp(IPV4_PATTERN).test(text)).toBe(expected !== undefined);
    if (expected !== undefined) expect(formatIpv4(expected)).toBe(text);
  });
});

const cidrs: readonly [string, string | undefined][] = [
  ['168.63.129.16/32', '168.63.129.16/32'],
  ['198.18.0.0/15', '198.18.0.0/15'],
  ['10.1.2.3/8', '10.0.0.0/8'],
  ['0.0.0.0/0', '0.0.0.0/0'],
  ['168.63.129.16/33', undefined],
  ['168.63.129.16', undefined],
  ['168.63.129.16/', undefined],
  ['168.63.129.16/08', undefined],
  ['168.63.129.16/-1', undefined],
  ['fd00::/8', undefined],
  ['1.2.3.4/32/1', undefined],
];

describe('IPv4 CIDR blocks', () => {
  it.each(cidrs)('%s -> %s', (text, canonical) => {
    const parsed = parseIpv4Cidr(text);
    expect(parsed === undefined ? undefined : formatIpv4Cidr(parsed)).toBe(canonical);
    expect(new RegExp(IPV4_CIDR_PATTERN).test(text)).toBe(canonical !== undefined);
  });

  it('knows which addresses a block contains', () => {
    const block = parseIpv4Cidr('198.18.0.0/15');
    if (block === undefined) throw new Error('198.18.0.0/15 must parse');
    expect(cidrContains(block, parseIpv4('198.19.255.255') as number)).toBe(true);
    expect(cidrContains(block, parseIpv4('198.20.0.0') as number)).toBe(false);
  });
});
