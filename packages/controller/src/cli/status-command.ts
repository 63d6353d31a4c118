import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { FailoverPairStatus } from '@probegate/core';
import { resolveConsulConnection } from '../arbiter/consul-config.js';
import { readPublishedStatus } from '../file/consul-status-sink.js';
import { describeInvalid, parsePairsFile } from '../file/pairs-file.js';
import {
  type FailoverPairManifest,
  GROUP,
  isInvalid,
  PLURAL,
  toPairObject,
  VERSION,
} from '../kube/failover-pair-object.js';
import { CONSUL_FLAGS, consulFlagValues } from './consul-flags.js';
import { type Flags, parseCommand, UsageError, usage } from './options.js';

export const STATUS_FLAGS = {
  'pairs-file': {
    type: 'string',
    env: 'PROBEGATE_PAIRS_FILE',
    help: 'VM mode: read the pairs from this file and their state from Consul KV',
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    help: 'Kubernetes mode: kubeconfig (default: in-cluster / ~/.kube/config)',
  },
  namespace: { type: 'string', short: 'n', help: 'only this namespace (Kubernetes mode; default all)' },
  output: { type: 'string', short: 'o', default: 'table', help: 'table | json' },
  ...CONSUL_FLAGS,
} as const satisfies Flags;

/** One row of `probegate status`. */
export interface PairStatusRow {
  pair: string;
  activeNode: string;
  primary: string;
  secondary: string;
  members: FailoverPairStatus['members'];
  lastTransition: FailoverPairStatus['lastTransition'] | undefined;
  transitions: number;
}

const memberCell = (status: FailoverPairStatus | undefined, node: string) => {
  const m = status?.members?.find((x) => x.node === node);
  return m ? `${node} ${m.state}/${m.consulHealth} gate=${m.gate} vip=${m.vip}` : `${node} (no report)`;
};

export function rowsToTable(rows: PairStatusRow[]): string {
  const header = ['PAIR', 'ACTIVE', 'PRIMARY', 'SECONDARY', 'LAST TRANSITION'];
  const body = rows.map((r) => {
    const status = { members: r.members } as FailoverPairStatus;
    const t = r.lastTransition;
    return [
      r.pair,
      r.activeNode || '<none>',
      memberCell(status, r.primary),
      memberCell(status, r.secondary),
      t ? `${t.time} ${t.from ?? '<none>'} -> ${t.to ?? '<none>'} (${t.reason}) #${r.transitions}` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  return [header, ...body]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(argv, STATUS_FLAGS);
  if (help) {
    process.stdout.write(
      usage(
        'status',
        'Shows every pair: who is active, each member (health, gate, VIP) and the last transition.',
        STATUS_FLAGS,
      ),
    );
    return 0;
  }
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError(`--output: '${values.output}' is not table or json`);
  const rows: PairStatusRow[] = [];
  const pairsFile = values['pairs-file'];
  if (pairsFile) {
    const parsed = parsePairsFile(await readFile(pairsFile, 'utf8'), basename(pairsFile));
    for (const bad of parsed.invalid) process.stderr.write(`skipped invalid pair: ${describeInvalid(bad)}\n`);
    const connection = resolveConsulConnection(consulFlagValues(values));
    for (const pair of parsed.pairs) {
      const status = await readPublishedStatus(connection, pair.key);
      rows.push(row(pair.key, pair.spec.primary.node, pair.spec.secondary.node, status));
    }
  } else {
    const kc = new KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
    const api = kc.makeApiClient(CustomObjectsApi);
    const list = (
      values.namespace
        ? await api.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            plural: PLURAL,
            namespace: values.namespace,
          })
        : await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
    ) as { items: FailoverPairManifest[] };
    for (const item of list.items) {
      const pair = toPairObject(item);
      if (isInvalid(pair)) continue;
      rows.push(row(pair.key, pair.spec.primary.node, pair.spec.secondary.node, item.status));
    }
  }
  process.stdout.write(
    values.output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : `${rowsToTable(rows)}\n`,
  );
  return 0;
}

function row(
  pair: string,
  primary: string,
  secondary: string,
  status: Partial<FailoverPairStatus> | undefined,
): PairStatusRow {
  return {
    pair,
    activeNode: status?.activeNode ?? '',
    primary,
    secondary,
    members: status?.members ?? [],
    lastTransition: status?.lastTransition,
    transitions: status?.transitions ?? 0,
  };
}
