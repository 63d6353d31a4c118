// The CRD's CEL rules and their TypeScript mirrors, run on the same case table with a
// real CEL evaluator (cel-js) extended with the Kubernetes IP/CIDR library functions.
import { isIPv6 } from 'node:net';
import { Environment } from '@marcbachmann/cel-js';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import {
  FailoverPairSpecSchema,
  failoverPairSpecCelRules,
  isIpv4,
  parseIpv4Cidr,
  validateFailoverPairSpec,
} from '../../src/index.js';
import { validationCases } from '../fixtures/validation-cases.js';

class CelIp {
  constructor(readonly family: 4 | 6) {}
}
class CelCidr {
  constructor(readonly address: CelIp) {}
}

function ipFamily(text: string): 4 | 6 | undefined {
  if (isIpv4(text)) return 4;
  if (isIPv6(text) && !text.includes('%')) return 6;
  return undefined;
}

function cidrAddress(text: string): CelIp | undefined {
  if (parseIpv4Cidr(text) !== undefined) return new CelIp(4);
  const [address, prefix, extra] = text.split('/');
  if (
    extra !== undefined ||
    address === undefined ||
    prefix === undefined ||
    !/^(?:0|[1-9][0-9]{0,2})$/.test(prefix)
  )
    return undefined;
  return ipFamily(address) === 6 && Number(prefix) <= 128 ? new CelIp(6) : undefined;
}

// The subset of Kubernetes' CEL IP and CIDR libraries the rules use.
const env = new Environment({ unlistedVariablesAreDyn: true })
  .registerType('net.IP', CelIp)
  .registerType('net.CIDR', CelCidr)
  .registerFunction('isIP(string): bool', (text: string) => ipFamily(text) !== undefined)
  .registerFunction('ip(string): net.IP', (text: string) => {
    const family = ipFamily(text);
    if (family === undefined) throw new Error(`IP Address "${text}" parse error`);
    return new CelIp(family);
  })
  .registerFunction({
    signature: 'family(): int',
    receiverType: 'net.IP',
    handler: (ip: CelIp) => BigInt(ip.family),
  })
  .registerFunction('isCIDR(string): bool', (text: string) => cidrAddress(text) !== undefined)
  .registerFunction('cidr(string): net.CIDR', (text: string) => {
    const address = cidrAddress(text);
    if (address === undefined)
      throw new Error(`network address parse error during conversion from string: ${text}`);
    return new CelCidr(address);
  })
  .registerFunction({
    signature: 'ip(): net.IP',
    receiverType: 'net.CIDR',
    handler: (cidr: CelCidr) => cidr.address,
  });

/** The spec as the API server hands it to CEL: defaults applied. */
function defaulted(spec: unknown): unknown {
  return Value.Default(FailoverPairSpecSchema, Value.Clone(spec));
}

describe('CEL rules agree with their TypeScript mirrors', () => {
  const cases = validationCases.map((testCase) => [testCase.name, testCase] as const);

  it.each(cases)('%s', (_name, testCase) => {
    const self = defaulted(testCase.spec);
    const structurallyBroken = !validateFailoverPairSpec(testCase.spec).ok;
    for (const rule of failoverPairSpecCelRules) {
      let celHolds: boolean;
      try {
        celHolds = env.evaluate(rule.rule, { self }) === true;
      } catch (error) {
        // CEL cannot run on a spec missing required fields; the schema rejects it anyway.
        expect(structurallyBroken, `${rule.id}: ${(error as Error).message}`).toBe(true);
        continue;
      }
      const mirrorHolds = rule.violations(self).length === 0;
      expect({ rule: rule.id, holds: mirrorHolds }).toEqual({ rule: rule.id, holds: celHolds });
    }
  });

  it('every rule is broken by at least one case and holds on every valid case', () => {
    const brokenBy = new Map(failoverPairSpecCelRules.map((rule) => [rule.id, 0]));
    for (const testCase of validationCases) {
      const self = defaulted(testCase.spec);
      for (const rule of failoverPairSpecCelRules) {
        let holds = true;
        try {
          holds = env.evaluate(rule.rule, { self }) === true;
        } catch {
          continue;
        }
        if (testCase.expectValid) expect(holds, `${rule.id} on ${testCase.name}`).toBe(true);
        else if (!holds) brokenBy.set(rule.id, (brokenBy.get(rule.id) ?? 0) + 1);
      }
    }
    for (const [id, count] of brokenBy)
      expect(count, `rule ${id} is never broken by a case`).toBeGreaterThan(0);
  });

  it('every rule carries a message and a field path inside the spec', () => {
    for (const rule of failoverPairSpecCelRules) {
      expect(rule.message.length).toBeGreaterThan(10);
      expect(rule.fieldPath).toMatch(/^(\.[a-zA-Z]+)+$/);
    }
  });
});
