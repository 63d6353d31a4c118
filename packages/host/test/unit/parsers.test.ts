import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptedOf, emptySnapshot, openUntil } from '../../src/gate-model.js';
import { type DesiredPair, leaseEnd, planGate } from '../../src/gate-plan.js';
import {
  parseIptablesSave,
  renderIptablesCleanup,
  renderIptablesRestore,
  tokenize,
} from '../../src/iptables-backend.js';
import { parseNftGeneration, parseNftJson, renderNftScript } from '../../src/nftables-backend.js';
import { pairId } from '../../src/pair-id.js';
import { parseLabelledVips } from '../../src/vip.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const web = pairId('shop/web');
const db = pairId('shop/db');
const NOW = new Date('2026-11-25T04:00:00Z');

const desired: DesiredPair[] = [
  { id: web, key: 'shop/web', cidrs: ['168.63.129.16/32', '10.0.0.0/8'], ports: [80], active: true },
  { id: db, key: 'shop/db', cidrs: ['168.63.129.16/32'], ports: [5432], active: false },
];

describe.each([
  ['iptables-save -c', () => parseIptablesSave(fixture('iptables-save.txt'))],
  ['nft -j list table', () => parseNftJson(fixture('nft-list-table.json'))],
])('reading the kernel (%s)', (_name, read) => {
  it('recovers pairs, sources, open rules, the shared lease and counters', () => {
    const s = read();
    expect(s.mainExists).toBe(true);
    expect(s.hooks).toHaveLength(1);
    expect(s.foreign).toEqual([]);
    expect(s.lease).toMatchObject({ chainExists: true, canonical: true });
    expect(s.lease.rule?.expiresAt.toISOString()).toBe('2026-11-25T05:00:00.000Z');
    const w = s.pairs.get(web);
    expect(w).toMatchObject({ key: 'shop/web', canonical: true, chainExists: true });
    expect(w?.open).toBeDefined();
    expect(w?.legacyLease).toBeUndefined();
    expect(w && openUntil(s, w, NOW)?.toISOString()).toBe('2026-11-25T05:00:00.000Z');
    expect(w?.jumps.map((j) => [j.cidr, j.port])).toEqual([
      ['168.63.129.16/32', 80],
      ['10.0.0.0/8', 80],
    ]);
    expect(w && acceptedOf(w)).toEqual({ packets: 12, bytes: 720 });
    expect(w?.drop).toMatchObject({ packets: 3, bytes: 180 });
    const d = s.pairs.get(db);
    expect(d).toMatchObject({ key: 'shop/db', canonical: true });
    expect(d?.open).toBeUndefined();
    expect(d && openUntil(s, d, NOW)).toBeUndefined();
    expect(d?.drop).toMatchObject({ packets: 7, bytes: 420 });
    // Once the shared lease has run out, the open rule alone lets nothing through.
    expect(w && openUntil(s, w, new Date('2026-11-25T05:00:00Z'))).toBeUndefined();
  });

  it('needs no change when the kernel already has the desired state', () => {
    expect(planGate(read(), desired, NOW, 3600).ops).toEqual([]);
  });
});

describe.each([
  ['iptables-save -c', () => parseIptablesSave(fixture('iptables-save-per-pair-lease.txt'))],
  ['nft -j list table', () => parseNftJson(fixture('nft-list-table-per-pair-lease.json'))],
])('reading the previous layout, a lease rule per open gate (%s)', (_name, read) => {
  it('sees the open gate open until its own lease ends, and the pair as needing a rewrite', () => {
    const s = read();
    expect(s.lease).toEqual({ chainExists: false, canonical: true });
    const w = s.pairs.get(web);
    expect(w).toMatchObject({ key: 'shop/web', canonical: false, chainExists: true });
    expect(w?.open).toBeUndefined();
    expect(w?.legacyLease?.toISOString()).toBe('2026-11-25T05:00:00.000Z');
    expect(w && openUntil(s, w, NOW)?.toISOString()).toBe('2026-11-25T05:00:00.000Z');
    expect(w && acceptedOf(w)).toEqual({ packets: 12, bytes: 720 });
    // A closed gate was [drop] then as now: nothing to rewrite.
    expect(s.pairs.get(db)).toMatchObject({ key: 'shop/db', canonical: true });
  });

  it('migrates in one transaction: the shared lease, then the open pair rewritten with its drop counter', () => {
    const plan = planGate(read(), desired, NOW, 30);
    expect(plan.ops).toEqual([
      { op: 'set-lease', expiresAt: leaseEnd(NOW, 30) },
      { op: 'reset-pair', id: web, key: 'shop/web', open: true, drop: { packets: 3, bytes: 180 } },
    ]);
    expect(plan.changes).toEqual([{ kind: 'pair-repaired', key: 'shop/web' }]);
  });
});

describe('iptables rendering', () => {
  const pairsArb = fc
    .uniqueArray(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 5 })
    .map((ids) =>
      ids.map(
        (i): DesiredPair => ({
          id: pairId(`ns/p${i}`),
          key: `ns/p${i}`,
          cidrs: i % 2 ? ['168.63.129.16/32'] : ['168.63.129.16/32', '10.0.0.0/8'],
          ports: [1000 + i],
          active: i % 3 === 0,
        }),
      ),
    );

  it('writes rules in exactly the form iptables-save prints them (so the next read sees no change)', () => {
    fc.assert(
      fc.property(pairsArb, (desired) => {
        const script = renderIptablesRestore(planGate(emptySnapshot(), desired, NOW, 30).ops);
        // What the kernel would print: declared chains and appended rules; the hook lands in INPUT.
        const saved = script.replace('-I INPUT 1 ', '-A INPUT ');
        const again = planGate(parseIptablesSave(saved), desired, NOW, 30);
        expect(again.ops).toEqual([]);
      }),
    );
  });

  it('deletes rules by their saved text and removes chains after their jumps', () => {
    const s = parseIptablesSave(fixture('iptables-save.txt'));
    const script = renderIptablesRestore(planGate(s, [], NOW, 30).ops);
    const lines = script.split('\n');
    expect(lines).toContain(
      `-D PROBEGATE -s 10.0.0.0/8 -p tcp -m tcp --dport 80 -m comment --comment "probegate:shop/web" -j PG-${web}`,
    );
    expect(lines.indexOf(`-X PG-${web}`)).toBeGreaterThan(
      lines.findLastIndex((l) => l.startsWith('-D PROBEGATE')),
    );
    expect(renderIptablesCleanup(s)?.split('\n')).toEqual([
      '*filter',
      '-D INPUT -m comment --comment "probegate:gen:0123456789abcdef" -j PROBEGATE',
      '-F PROBEGATE',
      `-F PG-${web}`,
      `-F PG-${db}`,
      '-F PROBEGATE-LEASE',
      `-X PG-${web}`,
      `-X PG-${db}`,
      '-X PROBEGATE-LEASE',
      '-X PROBEGATE',
      'COMMIT',
      '',
    ]);
  });

  it('renews every open gate by rewriting the one lease rule', () => {
    const s = parseIptablesSave(fixture('iptables-save.txt'));
    const later = new Date('2026-11-25T04:59:00Z');
    expect(renderIptablesRestore(planGate(s, desired, later, 3600).ops).split('\n')).toEqual([
      '*filter',
      ':PROBEGATE-LEASE - [0:0]',
      '-A PROBEGATE-LEASE -m time --datestop 2026-11-25T05:58:59 -m comment --comment "probegate:lease" -j ACCEPT',
      'COMMIT',
      '',
    ]);
    // Closing deletes the open rule by its saved text; opening puts it in front of the drop.
    const closed = desired.map((d) => ({ ...d, active: false }));
    expect(renderIptablesRestore(planGate(s, closed, NOW, 3600).ops).split('\n')).toEqual([
      '*filter',
      `-D PG-${web} -m comment --comment "probegate:shop/web:open" -j PROBEGATE-LEASE`,
      'COMMIT',
      '',
    ]);
    const opened = desired.map((d) => ({ ...d, active: true }));
    expect(renderIptablesRestore(planGate(s, opened, NOW, 3600).ops).split('\n')).toEqual([
      '*filter',
      `-I PG-${db} 1 -m comment --comment "probegate:shop/db:open" -j PROBEGATE-LEASE`,
      'COMMIT',
      '',
    ]);
  });

  it('treats anything unexpected in our chains as foreign or broken', () => {
    const s = parseIptablesSave(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':PROBEGATE - [0:0]',
        ':PG-abc - [0:0]',
        '[0:0] -A INPUT -j PROBEGATE',
        '[0:0] -A INPUT -j PROBEGATE',
        '[0:0] -A INPUT -p udp -j PROBEGATE',
        '[0:0] -A INPUT -p tcp --dport 22 -j ACCEPT',
        '[0:0] -A PROBEGATE -j ACCEPT',
        '[0:0] -A PG-abc -j ACCEPT',
        '[0:0] -A PG-abc -m comment --comment "probegate:x:drop" -j DROP',
        ':PG-def - [0:0]',
        '[0:0] -A PG-def -m comment --comment "probegate:y:drop" -j DROP',
        '[0:0] -A PG-def -m comment --comment "probegate:y:open" -j PROBEGATE-LEASE',
        ':PROBEGATE-LEASE - [0:0]',
        '[0:0] -A PROBEGATE-LEASE -m time --datestop 2026-11-25T04:59:59 -m comment --comment "probegate:lease" -j ACCEPT',
        '[0:0] -A PROBEGATE-LEASE -j ACCEPT',
        'COMMIT',
      ].join('\n'),
    );
    expect(s.hooks).toHaveLength(2);
    expect(s.foreign.map((f) => f.spec)).toEqual(['-p udp -j PROBEGATE', '-j ACCEPT']);
    expect(s.pairs.get('abc')?.canonical).toBe(false);
    // An open rule behind the drop never matches: not open, and rewritten.
    expect(s.pairs.get('def')?.canonical).toBe(false);
    expect(s.pairs.get('def')?.open).toBeUndefined();
    expect(s.lease).toMatchObject({ chainExists: true, canonical: false });
  });

  it('reads the generation token from the hook and moves the hook when stamping a new one', () => {
    const s = parseIptablesSave(
      '*filter\n:INPUT ACCEPT [0:0]\n:PROBEGATE - [0:0]\n[0:0] -A INPUT -m comment --comment "probegate:gen:00ff" -j PROBEGATE\nCOMMIT\n',
    );
    expect(s.generation).toBe('00ff');
    expect(s.hooks).toHaveLength(1);
    const script = renderIptablesRestore([{ op: 'set-generation', generation: 'abcd', replace: s.hooks[0] }]);
    expect(script.split('\n')).toEqual([
      '*filter',
      '-D INPUT -m comment --comment "probegate:gen:00ff" -j PROBEGATE',
      '-I INPUT 1 -m comment --comment "probegate:gen:abcd" -j PROBEGATE',
      'COMMIT',
      '',
    ]);
  });

  it('splits quoted comments like the shell', () => {
    expect(tokenize('-m comment --comment "a b" -j X')).toEqual([
      '-m',
      'comment',
      '--comment',
      'a b',
      '-j',
      'X',
    ]);
  });
});

describe('nft rendering', () => {
  it('writes one transaction: the shared lease first, open rules jumping to it, the generation token', () => {
    const script = renderNftScript(
      planGate(
        emptySnapshot(),
        [{ id: 'abc', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true }],
        NOW,
        30,
      ).ops.concat({ op: 'set-generation', generation: 'feed' }),
    );
    expect(script.split('\n')).toEqual([
      'add table inet probegate',
      'add chain inet probegate input { type filter hook input priority -10; policy accept; }',
      'add chain inet probegate lease',
      'flush chain inet probegate lease',
      `add rule inet probegate lease meta time < ${NOW.getTime() / 1000 + 30} accept comment "probegate:lease"`,
      'add chain inet probegate pg_abc',
      'add chain inet probegate pgl_abc',
      'flush chain inet probegate pg_abc',
      'flush chain inet probegate pgl_abc',
      'add rule inet probegate pg_abc jump pgl_abc',
      'add rule inet probegate pg_abc counter drop comment "probegate:ns/a:drop"',
      'add rule inet probegate pgl_abc jump lease comment "probegate:ns/a:open"',
      'add rule inet probegate input ip saddr 10.0.0.0/8 tcp dport 80 counter jump pg_abc comment "probegate:ns/a"',
      'add table inet probegate_gen',
      'add chain inet probegate_gen gen',
      'flush chain inet probegate_gen gen',
      'add rule inet probegate_gen gen counter comment "probegate:gen:feed"',
      '',
    ]);
  });

  it('renews by rewriting the one lease rule; opens and closes by rewriting the pair lease chain', () => {
    const s = parseNftJson(fixture('nft-list-table.json'));
    const later = new Date('2026-11-25T04:59:00Z');
    expect(renderNftScript(planGate(s, desired, later, 3600).ops)).toBe(
      'add chain inet probegate lease\n' +
        'flush chain inet probegate lease\n' +
        `add rule inet probegate lease meta time < ${later.getTime() / 1000 + 3600} accept comment "probegate:lease"\n`,
    );
    const closed = desired.map((d) => ({ ...d, active: false }));
    expect(renderNftScript(planGate(s, closed, later, 3600).ops)).toBe(
      `flush chain inet probegate pgl_${web}\n`,
    );
    const opened = desired.map((d) => ({ ...d, active: true }));
    expect(renderNftScript(planGate(s, opened, NOW, 3600).ops)).toBe(
      `flush chain inet probegate pgl_${db}\n` +
        `add rule inet probegate pgl_${db} jump lease comment "probegate:shop/db:open"\n`,
    );
  });

  it('treats a stray rule in the lease chain or a pair lease chain as something to rewrite', () => {
    const listing = JSON.parse(fixture('nft-list-table.json')) as { nftables: Record<string, unknown>[] };
    const rule = (chain: string, handle: number, expr: unknown[]) => ({
      rule: { family: 'inet', table: 'probegate', chain, handle, expr },
    });
    listing.nftables.push(rule('lease', 90, [{ accept: null }]), rule(`pgl_${db}`, 91, [{ accept: null }]));
    const s = parseNftJson(JSON.stringify(listing));
    expect(s.lease.canonical).toBe(false);
    expect(s.pairs.get(db)?.canonical).toBe(false);
    expect(s.pairs.get(web)?.canonical).toBe(true);
  });

  it.each([
    [
      'table inet probegate_gen {\n\tchain gen {\n\t\tcounter packets 0 bytes 0 comment "probegate:gen:0a1b"\n\t}\n}\n',
      '0a1b',
    ],
    ['table inet probegate_gen {\n\tchain gen {\n\t}\n}\n', undefined],
    ['', undefined],
  ])('reads the generation token from the listing %j', (text, token) => {
    expect(parseNftGeneration(text)).toBe(token);
  });
});

describe('VIP parsing', () => {
  it('keeps only /32 IPv4 addresses carrying our label', () => {
    const json = JSON.stringify([
      {
        ifname: 'lo',
        addr_info: [
          { family: 'inet', local: '127.0.0.1', prefixlen: 8, label: 'lo' },
          { family: 'inet', local: '10.0.0.5', prefixlen: 32, label: 'lo:pg' },
          { family: 'inet', local: '10.0.0.6', prefixlen: 32, label: 'lo:other' },
          { family: 'inet6', local: '::1', prefixlen: 128 },
        ],
      },
    ]);
    expect(parseLabelledVips(json)).toEqual(['10.0.0.5']);
  });
});
