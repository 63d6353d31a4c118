import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../kube/failover-pair-object.js';
import { SWITCHOVER_ANNOTATION, splitPairKey } from '../reconcile/pair.js';
import { type Flags, parseCommand, UsageError, usage } from './options.js';

export const SWITCHOVER_FLAGS = {
  to: { type: 'string', help: 'node that should serve (it must be a healthy member)' },
  clear: {
    type: 'boolean',
    help: 'remove the switchover request (the pair follows its failback policy again)',
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    help: 'kubeconfig (default: in-cluster / ~/.kube/config)',
  },
} as const satisfies Flags;

const SUMMARY = `Asks for a manual switchover of a pair (Kubernetes mode) by setting the annotation
${SWITCHOVER_ANNOTATION}: the agents move activity in break-before-make order (close gate, unbind VIP,
release lock; then acquire, bind, open on the target). The request stays until --clear. In VM mode,
set the same annotation in the pairs file on both nodes.`;

export async function switchoverCommand(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(argv, SWITCHOVER_FLAGS);
  if (help) {
    process.stdout.write(usage('switchover', SUMMARY, SWITCHOVER_FLAGS, '<namespace/name>'));
    return 0;
  }
  const [target] = positionals;
  if (!target) throw new UsageError('switchover needs the pair as <namespace/name>');
  const { namespace, name } = splitPairKey(target.includes('/') ? target : `default/${target}`);
  if (!values.clear && !values.to) throw new UsageError('switchover needs --to <node> (or --clear)');
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body: { metadata: { annotations: { [SWITCHOVER_ANNOTATION]: values.clear ? null : values.to } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  process.stdout.write(
    values.clear
      ? `switchover request cleared on ${namespace}/${name}\n`
      : `asked ${namespace}/${name} to switch over to ${values.to}\n`,
  );
  return 0;
}
