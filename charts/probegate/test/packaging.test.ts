// The container image (Dockerfile, checked statically: no container engine here) and the VM
// packaging (systemd unit checked by systemd-analyze, its capability set tried for real with the
// host tools inside a network namespace made for the test).
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNamespace, destroyNamespace, requireRoot, startDaemon, waitFor } from '@probegate/testenv';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../../packages/controller/src/agent/node-flags.js';
import { resolveConsulConnection } from '../../../packages/controller/src/arbiter/consul-config.js';
import { AGENT_FLAGS } from '../../../packages/controller/src/cli/agent-command.js';
import { repoRoot } from './support/helm.js';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  return text
    .replaceAll(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** Environment variables the agent reads: its flags' variables and Consul's own. */
const agentEnv = new Set<string>([
  ...Object.values(AGENT_FLAGS).flatMap((flag) => ('env' in flag && flag.env ? [flag.env] : [])),
  'CONSUL_HTTP_SSL',
  'CONSUL_HTTP_TOKEN',
  'NODE_ENV',
  // Read by glibc, not the agent: see AGENT_ENV.
  ...Object.keys(AGENT_ENV),
]);

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const steps = instructions(dockerfile);
  const stages = steps.filter((s) => s.op === 'FROM');
  // Instructions of each stage, the FROM line first.
  const stageSteps = steps.reduce<Array<typeof steps>>((all, step) => {
    if (step.op === 'FROM') all.push([step]);
    else all.at(-1)?.push(step);
    return all;
  }, []);
  const runtime = stageSteps.at(-1) ?? [];

  it('builds on Node 24 (slim) in every stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(1);
    for (const stage of stages) expect(stage.args).toMatch(/^node:24[-.\w]*slim/);
  });

  it('installs iptables, nftables and iproute2 in the runtime image, without recommends', () => {
    const apt = runtime
      .filter((s) => s.op === 'RUN' && s.args.includes('apt-get install'))
      .map((s) => s.args);
    expect(apt).toHaveLength(1);
    for (const pkg of ['iptables', 'nftables', 'iproute2'])
      expect(apt[0]).toMatch(new RegExp(`\\b${pkg}\\b`));
    expect(apt[0]).toContain('--no-install-recommends');
    expect(apt[0]).toContain('rm -rf /var/lib/apt/lists');
  });

  it('builds the bundle and ships only it: the runtime image installs no npm package', () => {
    const build = stageSteps[0] ?? [];
    expect(
      build.some((s) => s.op === 'RUN' && s.args.includes('npm run -s bundle -w packages/controller')),
    ).toBe(true);
    expect(runtime.filter((s) => s.op === 'RUN' && /\bnpm (ci|install)\b/.test(s.args))).toEqual([]);
    expect(runtime.filter((s) => s.op === 'COPY').map((s) => s.args)).toEqual([
      '--from=build /src/packages/controller/dist/probegate.mjs /app/probegate.mjs',
    ]);
  });

  it('runs `probegate agent`: ENTRYPOINT is the CLI, CMD the agent command', () => {
    const entrypoint = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', ...AGENT_NODE_FLAGS, '/app/probegate.mjs']);
    const controller = JSON.parse(read('packages/controller/package.json')) as {
      bin?: Record<string, string>;
    };
    expect(controller.bin?.probegate).toBe('./dist/probegate.mjs');
    expect(JSON.parse(steps.find((s) => s.op === 'CMD')?.args ?? '[]')).toEqual(['agent']);
  });

  it('documents why it runs as uid 0 (capabilities), and says it explicitly', () => {
    expect(runtime.find((s) => s.op === 'USER')?.args).toBe('0:0');
    expect(dockerfile).toMatch(/CAP_NET_ADMIN/);
    expect(dockerfile).toMatch(/xtables\.lock/);
  });

  it('copies the manifest of every npm workspace, so `npm ci` finds the whole lockfile', () => {
    const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
    const installing = stageSteps.filter((stage) =>
      stage.some((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args)),
    );
    expect(installing).toHaveLength(1);
    for (const stage of installing) {
      const copied = stage.filter((s) => s.op === 'COPY').map((s) => s.args);
      for (const workspace of workspaces) {
        expect(
          copied.some((args) => args.startsWith(`${workspace}/package.json `)),
          workspace,
        ).toBe(true);
      }
    }
    for (const copy of steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))) {
      for (const source of copy.args.split(/\s+/).slice(0, -1))
        expect(existsSync(join(repoRoot, source)), source).toBe(true);
    }
  });

  it('every package the bundle takes in imports only its production dependencies', () => {
    const problems: string[] = [];
    const checked = new Set<string>();
    for (const pkg of ['core', 'host', 'controller']) {
      const manifest = JSON.parse(read(`packages/${pkg}/package.json`)) as {
        dependencies?: Record<string, string>;
      };
      const allowed = new Set(Object.keys(manifest.dependencies ?? {}));
      const files = readdirSync(join(repoRoot, 'packages', pkg, 'src'), {
        recursive: true,
        encoding: 'utf8',
      }).filter((file) => file.endsWith('.ts'));
      for (const file of files) {
        const source = read(`packages/${pkg}/src/${file}`);
        const specifiers = [
          ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\bfrom\s+'([^']+)'/gms),
          ...source.matchAll(/^\s*import\s+'([^']+)'/gm),
          ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
        ].map((match) => match[1] as string);
        for (const specifier of specifiers) {
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          const name = specifier.startsWith('@')
            ? specifier.split('/').slice(0, 2).join('/')
            : specifier.split('/')[0];
          // Workspace packages are linked by npm ci itself.
          if (name?.startsWith('@probegate/')) continue;
          checked.add(`${pkg}:${name}`);
          if (!allowed.has(name ?? '')) problems.push(`packages/${pkg}/src/${file} imports ${specifier}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The scan found the real third-party imports (not a vacuous pass).
    expect([...checked]).toEqual(
      expect.arrayContaining(['core:typebox', 'host:execa', 'controller:prom-client']),
    );
  });

  it('.dockerignore keeps dependencies, builds and tests out of the context but keeps manifests in', () => {
    const ignore = read('.dockerignore').split('\n');
    for (const pattern of ['**/node_modules', '**/dist', '.git', 'packages/*/test'])
      expect(ignore).toContain(pattern);
    expect(ignore).toContain('!e2e/package.json');
    expect(ignore).not.toContain('packages');
    expect(ignore).not.toContain('package-lock.json');
  });
});

/** [Section] Key=Value entries of a systemd unit, repeated keys kept in order. */
function unitEntries(text: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const at = line.indexOf('=');
    const key = `${section}.${line.slice(0, at)}`;
    entries.set(key, [...(entries.get(key) ?? []), line.slice(at + 1)]);
  }
  return entries;
}

describe('the bundle (packages/controller/dist/probegate.mjs, what the image and the unit run)', () => {
  const bundle = join(repoRoot, 'packages/controller/dist/probegate.mjs');
  let alone: string;
  beforeAll(() => {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` first`);
    // A folder with no node_modules anywhere above it: every import must be inside the file.
    alone = mkdtempSync(join(tmpdir(), 'probegate-bundle-'));
    copyFileSync(bundle, join(alone, 'probegate.mjs'));
  });
  afterAll(() => rmSync(alone, { recursive: true, force: true }));

  it('starts with the shebang carrying the agent Node flags', () => {
    const first = readFileSync(bundle, 'utf8').slice(0, 200).split('\n')[0] ?? '';
    expect(first).toBe(`#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(' ')}`);
  });

  it.each([
    ['--help', /Usage: probegate <command>/],
    ['agent --help', /--pairs-file/],
    ['status --help', /Usage: probegate status/],
  ] as const)('runs `probegate %s` with no node_modules around it', async (command, expected) => {
    const args = command.split(' ');
    const result = await execa(process.execPath, [join(alone, 'probegate.mjs'), ...args], {
      cwd: alone,
      reject: false,
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(expected);
  });

  it('runs the agent from the bundle alone: loads the pairs file, gates in the kernel, serves metrics, stops on SIGTERM', async () => {
    // --help loads only part of the bundle (its CommonJS parts load when first used): run real work.
    const ns = await createNamespace('pgbun');
    const lines: string[] = [];
    const agent = startDaemon(
      'bundle-agent',
      [
        process.execPath,
        join(alone, 'probegate.mjs'),
        'agent',
        ...['--node', 'vm1', '--pairs-file', join(repoRoot, 'packaging/vm/pairs.example.yaml')],
        ...['--netns', ns, '--backend', 'iptables-nft', '--consul-addr', 'http://127.0.0.1:1'],
        ...['--metrics-port', '0', '--metrics-host', '127.0.0.1'],
      ],
      { cwd: alone, onLine: (line) => lines.push(line) },
    );
    try {
      const logged = (msg: string) =>
        lines.map((l) => JSON.parse(l) as { msg: string; port?: number }).find((l) => l.msg === msg);
      const serving = await waitFor(() => logged('serving /metrics /healthz /readyz'), {
        what: `the bundled agent serving metrics (${agent.tail()})`,
      });
      await waitFor(() => logged('agent started'), { what: `the bundled agent started (${agent.tail()})` });
      const metrics = await (await fetch(`http://127.0.0.1:${serving.port}/metrics`)).text();
      expect(metrics).toMatch(/^probegate_workqueue_depth /m);
      // Consul is unreachable, so every pair is closed: its DROP rules are in the namespace's kernel.
      const rules = await execa('ip', ['netns', 'exec', ns, 'iptables-nft-save', '-t', 'filter']);
      expect(rules.stdout).toMatch(/-j DROP/);
      await agent.stop(5_000);
      expect(agent.exitCode).toBe(0);
    } finally {
      await agent.stop();
      await destroyNamespace(ns);
    }
  });
});

describe('systemd unit (packaging/vm/probegate.service)', () => {
  const unitText = read('packaging/vm/probegate.service');
  const unit = unitEntries(unitText);
  const get = (key: string) => unit.get(key)?.at(-1);

  it('starts the agent in file mode and restarts it forever', () => {
    expect(get('Service.ExecStart')).toBe(
      `/usr/bin/node ${AGENT_NODE_FLAGS.join(' ')} /opt/probegate/packages/controller/dist/probegate.mjs agent --pairs-file /etc/probegate/pairs.yaml`,
    );
    expect(get('Service.Restart')).toBe('always');
    expect(get('Service.RestartSec')).toMatch(/^\d+s?$/);
    expect(get('Unit.StartLimitIntervalSec')).toBe('0');
    expect(get('Unit.After')).toContain('network-online.target');
    expect(get('Install.WantedBy')).toBe('multi-user.target');
  });

  it('bounds the capabilities to NET_ADMIN and NET_RAW and runs as an unprivileged user', () => {
    expect(get('Service.CapabilityBoundingSet')?.split(/\s+/).sort()).toEqual([
      'CAP_NET_ADMIN',
      'CAP_NET_RAW',
    ]);
    expect(get('Service.AmbientCapabilities')?.split(/\s+/).sort()).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect(get('Service.DynamicUser')).toBe('yes');
    expect(get('Service.NoNewPrivileges')).toBe('yes');
  });

  it('is hardened, but keeps the host network the agent works on', () => {
    for (const [key, value] of Object.entries({
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      SystemCallArchitectures: 'native',
    })) {
      expect(get(`Service.${key}`), key).toBe(value);
    }
    expect(get('Service.RestrictAddressFamilies')).toContain('AF_NETLINK');
    expect(unit.has('Service.PrivateNetwork')).toBe(false);
    expect(unit.has('Service.MemoryDenyWriteExecute')).toBe(false);
  });

  it('sets only variables the agent reads, in the unit and in the example environment file', () => {
    const names = [
      ...(unit.get('Service.Environment') ?? []).map((entry) => entry.split('=')[0] ?? ''),
      ...read('packaging/vm/probegate.env.example')
        .split('\n')
        .map((line) => /^#?([A-Z][A-Z0-9_]+)=/.exec(line.trim())?.[1])
        .filter((name): name is string => name !== undefined),
      ...(unitEntries(read('packaging/vm/consul-token.conf'))
        .get('Service.Environment')
        ?.map((entry) => entry.split('=')[0] ?? '') ?? []),
    ];
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !agentEnv.has(name))).toEqual([]);
    expect(AGENT_FLAGS).toHaveProperty('pairs-file');
  });

  describe('systemd-analyze verify', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'probegate-unit-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['the unit', []],
      [
        'the unit with the consul-token and iptables-legacy drop-ins',
        ['consul-token.conf', 'iptables-legacy.conf'],
      ],
    ] as const)('finds no problem in %s', async (_label, dropIns) => {
      // Point ExecStart at binaries that exist here: verify checks that they are executable.
      const main = join(repoRoot, 'packages/controller/src/cli/main.ts');
      writeFileSync(
        join(dir, 'probegate.service'),
        unitText.replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${main}`),
      );
      if (dropIns.length > 0) {
        const dropInDir = join(dir, 'probegate.service.d');
        rmSync(dropInDir, { recursive: true, force: true });
        await execa('mkdir', ['-p', dropInDir]);
        for (const file of dropIns) copyFileSync(join(repoRoot, 'packaging/vm', file), join(dropInDir, file));
      }
      const result = await execa('systemd-analyze', ['verify', '--man=no', join(dir, 'probegate.service')], {
        reject: false,
        env: { SYSTEMD_UNIT_PATH: `${dir}:` },
      });
      expect(String(result.stderr)).toBe('');
      expect(result.exitCode).toBe(0);
    });
  });
});

describe("the unit's capability set on the real host tools (in a test network namespace)", () => {
  const ns = `pgpkg-${process.pid}`;
  const unit = unitEntries(read('packaging/vm/probegate.service'));
  const caps = (unit.get('Service.AmbientCapabilities')?.at(-1) ?? '')
    .split(/\s+/)
    .map((cap) => `+${cap.replace(/^CAP_/, '').toLowerCase()}`)
    .join(',');

  /** Runs a command in the namespace as the unit would: given uid, only the unit's capabilities. */
  const asUnit = (uid: number, command: string[]) =>
    execa(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'setpriv',
        `--reuid=${uid}`,
        `--regid=${uid}`,
        '--clear-groups',
        `--inh-caps=-all,${caps}`,
        `--ambient-caps=${caps}`,
        `--bounding-set=-all,${caps}`,
        ...command,
      ],
      { reject: false },
    );

  beforeAll(async () => {
    requireRoot();
    await execa('ip', ['netns', 'add', ns]);
    await execa('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  it('lets an unprivileged user drive iptables (nft backend), nftables and the VIP on lo', async () => {
    const nobody = 65534;
    const steps: string[][] = [
      ['iptables-nft', '-w', '-N', 'PROBEGATE-TEST'],
      [
        'iptables-nft',
        '-w',
        '-A',
        'PROBEGATE-TEST',
        '-s',
        '198.18.0.1/32',
        '-p',
        'tcp',
        '--dport',
        '8080',
        '-j',
        'DROP',
      ],
      ['nft', 'add', 'table', 'inet', 'probegate_test'],
      ['ip', 'addr', 'add', '198.18.0.100/32', 'dev', 'lo', 'label', 'lo:pg'],
    ];
    for (const step of steps) {
      const result = await asUnit(nobody, step);
      expect(result.exitCode, `${step.join(' ')}: ${result.stderr}`).toBe(0);
    }
    const rules = await execa('ip', ['netns', 'exec', ns, 'iptables-nft', '-S', 'PROBEGATE-TEST']);
    expect(rules.stdout).toContain('-A PROBEGATE-TEST -s 198.18.0.1/32 -p tcp -m tcp --dport 8080 -j DROP');
    const addresses = await execa('ip', ['netns', 'exec', ns, 'ip', '-o', 'addr', 'show', 'dev', 'lo']);
    expect(addresses.stdout).toContain('198.18.0.100/32');
  });

  it('without the capabilities the same user is refused (the capabilities are what grants it)', async () => {
    const result = await execa(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'nft',
        'add',
        'table',
        'inet',
        'x',
      ],
      { reject: false },
    );
    expect(result.exitCode).not.toBe(0);
    expect(String(result.stderr)).toMatch(/Operation not permitted/);
  });

  it('iptables-legacy needs the root-owned xtables lock: refused as a user, fine as root with the same capabilities (the drop-in)', async () => {
    const asUser = await asUnit(65534, ['iptables-legacy', '-w', '-L', 'INPUT', '-n']);
    expect(asUser.exitCode).not.toBe(0);
    expect(String(asUser.stderr)).toMatch(/xtables\.lock/);
    const asRoot = await asUnit(0, ['iptables-legacy', '-w', '-L', 'INPUT', '-n']);
    expect(asRoot.exitCode, String(asRoot.stderr)).toBe(0);
  });
});

describe('VM pairs file example', () => {
  it('holds FailoverPair manifests whose specs core accepts, both pairs naming the same two hosts', async () => {
    const { validateFailoverPairSpec } = await import('@probegate/core');
    const docs = parseAllDocuments(read('packaging/vm/pairs.example.yaml')).map(
      (doc) =>
        doc.toJS() as { kind: string; spec: { primary: { node: string }; secondary: { node: string } } },
    );
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const doc of docs) {
      expect(doc.kind).toBe('FailoverPair');
      expect(validateFailoverPairSpec(doc.spec)).toMatchObject({ ok: true });
    }
    const hosts = new Set(docs.flatMap((doc) => [doc.spec.primary.node, doc.spec.secondary.node]));
    expect(hosts.size).toBe(2);
  });
});

describe('Consul settings reach the agent as the chart means them', () => {
  it('the default address is the node’s Consul agent once Kubernetes expands $(PROBEGATE_NODE_IP)', () => {
    const expand = (value: string, env: Record<string, string>) =>
      value.replaceAll(/\$\(([A-Z_]+)\)/g, (_all, name: string) => env[name] ?? '');
    const node = { PROBEGATE_NODE_IP: '198.18.0.4' };
    expect(
      resolveConsulConnection({}, { CONSUL_HTTP_ADDR: expand('$(PROBEGATE_NODE_IP):8500', node) }).address,
    ).toBe('http://198.18.0.4:8500');
    expect(
      resolveConsulConnection(
        {},
        { CONSUL_HTTP_ADDR: expand('$(PROBEGATE_NODE_IP):8501', node), CONSUL_HTTP_SSL: 'true' },
      ).address,
    ).toBe('https://198.18.0.4:8501');
  });
});
