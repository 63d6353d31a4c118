import { describe, expect, it } from 'vitest';
import type { ServiceInstance } from '../../../src/arbiter/consul-client.js';
import {
  healthView,
  instanceStatus,
  memberStatus,
  sameStatuses,
} from '../../../src/arbiter/health-mapping.js';

const instance = (
  consulNode: string,
  nodeAddress: string,
  statuses: string[],
  serviceAddress = '',
): ServiceInstance => ({
  consulNode,
  nodeAddress,
  serviceId: `web-${consulNode}`,
  serviceAddress,
  checks: statuses.map((status, i) => ({
    id: i === 0 ? 'serfHealth' : `service:web-${consulNode}`,
    serviceId: i === 0 ? '' : `web-${consulNode}`,
    status,
  })),
});

describe('instanceStatus: the worst check wins', () => {
  it.each([
    [[], 'passing'],
    [['passing', 'passing'], 'passing'],
    [['passing', 'warning'], 'warning'],
    [['warning', 'critical'], 'critical'],
    [['critical', 'passing'], 'critical'],
    [['passing', 'maintenance'], 'critical'],
  ])('%j -> %s', (statuses, expected) => {
    expect(instanceStatus(instance('vm1', '10.0.0.1', statuses))).toBe(expected);
  });
});

describe('memberStatus: instances map to members', () => {
  const instances = [
    instance('vm1', '10.0.0.1', ['passing', 'passing']),
    instance('vm2', '10.0.0.2', ['passing', 'critical']),
    instance('vm3', '10.0.0.3', ['passing', 'passing'], '192.0.2.3'),
  ];
  it.each([
    ['by node address', { node: 'a', address: '10.0.0.1' }, 'passing'],
    ['by node address, unhealthy', { node: 'b', address: '10.0.0.2' }, 'critical'],
    ['by service address', { node: 'c', address: '192.0.2.3' }, 'passing'],
    ['by node address when the service has its own', { node: 'c', address: '10.0.0.3' }, 'passing'],
    [
      'by explicit Consul node name, ignoring the address',
      { node: 'd', address: '10.9.9.9', consulNode: 'vm2' },
      'critical',
    ],
    ['no instance at that address', { node: 'e', address: '10.0.0.9' }, 'missing'],
    ['no node of that name', { node: 'f', address: '10.0.0.1', consulNode: 'vm9' }, 'missing'],
  ])('%s', (_name, member, expected) => {
    expect(memberStatus(member, instances)).toBe(expected);
  });

  it('a member with two instances is as healthy as the best one', () => {
    const two = [
      instance('vm1', '10.0.0.1', ['passing', 'critical']),
      instance('vm1', '10.0.0.1', ['passing']),
    ];
    expect(memberStatus({ node: 'a', address: '10.0.0.1' }, two)).toBe('passing');
  });
});

describe('healthView', () => {
  it('gives each role its status with the index and read time', () => {
    const view = healthView(
      { primary: { node: 'vm1', address: '10.0.0.1' }, secondary: { node: 'vm2', address: '10.0.0.2' } },
      [instance('vm1', '10.0.0.1', ['passing'])],
      77n,
      1_000,
    );
    expect(view).toEqual({
      primary: { status: 'passing', index: 77, readAt: 1_000 },
      secondary: { status: 'missing', index: 77, readAt: 1_000 },
    });
  });

  it.each([
    [true, { agentAlive: true }],
    [false, { agentAlive: false }],
    [undefined, {}],
  ])('adds agentAlive from liveness (%s)', (alive, expected) => {
    const view = healthView(
      { primary: { node: 'vm1', address: '10.0.0.1' }, secondary: { node: 'vm2', address: '10.0.0.2' } },
      [instance('vm1', '10.0.0.1', ['passing'])],
      1n,
      0,
      (node) => (node === 'vm1' ? alive : true),
    );
    expect(view.primary).toEqual({ status: 'passing', index: 1, readAt: 0, ...expected });
    expect(view.secondary.agentAlive).toBe(true);
  });

  it('sameStatuses ignores index and time but not statuses', () => {
    const m = (status: 'passing' | 'critical', index: number) => ({ status, index, readAt: index });
    const a = { primary: m('passing', 1), secondary: m('passing', 1) };
    expect(sameStatuses(a, { primary: m('passing', 2), secondary: m('passing', 2) })).toBe(true);
    expect(sameStatuses(a, { primary: m('passing', 2), secondary: m('critical', 2) })).toBe(false);
    expect(sameStatuses(undefined, a)).toBe(false);
  });
});
