import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  type PairGate,
  validateCidr,
  validatePairs,
  validatePort,
} from '../../src/index.js';
import { cidrsOverlap } from '../../src/validate.js';

const pair = (extra: Partial<PairGate> = {}): PairGate => ({
  key: 'ns/name',
  sourceCIDRs: ['168.63.129.16/32'],
  ports: [80],
  active: true,
  ...extra,
});

describe('validateCidr', () => {
  it.each([
    ['168.63.129.16/32', '168.63.129.16/32'],
    ['168.63.129.16', '168.63.129.16/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(validateCidr('f', input)).toBe(canonical);
  });

  it.each([
    ['198.18.0.300/32', 'expected an IPv4 CIDR'],
    ['198.18.0.16/33', 'prefix 0-32'],
    ['10.0.0.1/8', 'host bits are set; did you mean 10.0.0.0/8?'],
    ['010.0.0.1/32', 'expected an IPv4 CIDR'],
    ['::1/128', 'expected an IPv4 CIDR'],
    ['1.2.3.4/24/1', 'expected an IPv4 CIDR'],
    ['1.2.3.4/ 24', 'prefix 0-32'],
    ['1.2.3.4;reboot', 'expected an IPv4 CIDR'],
  ])('rejects %s (%s)', (input, reason) => {
    const check = () => validateCidr('pairs[0].sourceCIDRs[0]', input);
    expect(check).toThrow(`invalid pairs[0].sourceCIDRs[0]: ${JSON.stringify(input)}: `);
    expect(check).toThrow(reason);
  });

  it('accepts every canonical network and returns it unchanged', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, prefix) => {
        const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const net = (n & mask) >>> 0;
        const text = `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${prefix}`;
        expect(validateCidr('c', text)).toBe(text);
      }),
    );
  });
});

describe('validatePort', () => {
  it.each([0, 65536, 70000, -1, 1.5, Number.NaN, '80'])('rejects %s', (port) => {
    expect(() => validatePort('pairs[0].ports[0]', port)).toThrow(InvalidInputError);
  });
  it('accepts 1..65535', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), (p) => {
        expect(validatePort('p', p)).toBe(p);
      }),
    );
  });
});

describe('validatePairs', () => {
  it.each<[string, unknown, string, unknown]>([
    ['port 0', [pair({ ports: [0] })], 'pairs[0].ports[0]', 0],
    ['port 70000', [pair({ ports: [70000] })], 'pairs[0].ports[0]', 70000],
    ['no ports', [pair({ ports: [] })], 'pairs[0].ports', []],
    ['no sources', [pair({ sourceCIDRs: [] })], 'pairs[0].sourceCIDRs', []],
    ['bad CIDR', [pair({ sourceCIDRs: ['1.2.3.4/40'] })], 'pairs[0].sourceCIDRs[0]', '1.2.3.4/40'],
    ['malformed VIP', [pair({ vip: '10.0.0' })], 'pairs[0].vip', '10.0.0'],
    ['VIP with prefix', [pair({ vip: '10.0.0.5/32' })], 'pairs[0].vip', '10.0.0.5/32'],
    ['key with spaces', [pair({ key: 'a b' })], 'pairs[0].key', 'a b'],
    ['key with quote', [pair({ key: 'a"b' })], 'pairs[0].key', 'a"b'],
    ['active not boolean', [pair({ active: 'yes' as unknown as boolean })], 'pairs[0].active', 'yes'],
    ['duplicate key', [pair(), pair({ ports: [81] })], 'pairs[1].key', 'ns/name'],
    [
      'same probe twice',
      [pair(), pair({ key: 'ns/other', sourceCIDRs: ['168.63.0.0/16'] })],
      'pairs[1].ports',
      80,
    ],
    ['not a list', 'x', 'pairs', 'x'],
  ])('rejects %s naming the field and value', (_name, input, field, value) => {
    let caught: unknown;
    try {
      validatePairs(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect(caught).toMatchObject({ field, value });
    expect((caught as Error).message).toContain(`invalid ${field}: ${JSON.stringify(value)}`);
  });

  it('accepts distinct probes and canonicalizes sources', () => {
    const valid = validatePairs([
      pair({ sourceCIDRs: ['168.63.129.16', '168.63.129.16/32'] }),
      pair({ key: 'ns/b', ports: [81, 81, 82], vip: '10.1.2.3' }),
    ]);
    expect(valid).toEqual([
      { key: 'ns/name', cidrs: ['168.63.129.16/32'], ports: [80], active: true },
      { key: 'ns/b', cidrs: ['168.63.129.16/32'], ports: [81, 82], vip: '10.1.2.3', active: true },
    ]);
  });

  it('checks overlap symmetrically', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
        expect(cidrsOverlap(`${a}/32`, `${b}/32`)).toBe(a === b);
        expect(cidrsOverlap(`${a}/32`, '0.0.0.0/0')).toBe(true);
      }),
    );
  });
});
