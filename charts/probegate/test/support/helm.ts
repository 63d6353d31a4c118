// Runs the real helm binary (provisioned by scripts/testenv/provision.sh) on the chart, with
// helm's own state in a scratch folder so tests never touch the machine's helm config.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { component } from '@probegate/testenv';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';

export const chartDir = resolve(import.meta.dirname, '../..');
export const repoRoot = resolve(chartDir, '../..');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface HelmResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

let home: string | undefined;
function helmHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'probegate-helm-'));
  return home;
}

/** Removes helm's scratch state (call from afterAll). */
export function cleanupHelm(): void {
  if (home) rmSync(home, { recursive: true, force: true });
  home = undefined;
}

/** Runs helm with the given arguments; never throws on a non-zero exit. */
export async function helm(args: string[]): Promise<HelmResult> {
  const dir = helmHome();
  const result = await execa(component('helm'), args, {
    reject: false,
    env: {
      HELM_CACHE_HOME: join(dir, 'cache'),
      HELM_CONFIG_HOME: join(dir, 'config'),
      HELM_DATA_HOME: join(dir, 'data'),
    },
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Writes values to a file helm can read with -f. */
export function valuesFile(values: unknown): string {
  const file = join(helmHome(), `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

export const RELEASE = 'pg';
export const NAMESPACE = 'probegate-system';

/** `helm template` of the chart with extra values files; helm's error when it fails. */
export async function template(valueFiles: string[] = [], extra: string[] = []): Promise<HelmResult> {
  return helm([
    'template',
    RELEASE,
    chartDir,
    '--namespace',
    NAMESPACE,
    '--include-crds',
    ...valueFiles.flatMap((file) => ['-f', file]),
    ...extra,
  ]);
}

/** Rendered manifests; throws with helm's message when rendering fails. */
export async function render(valueFiles: string[] = []): Promise<Manifest[]> {
  const result = await template(valueFiles);
  if (result.exitCode !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML rendered: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null);
}

export function only(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((manifest) => manifest.kind === kind);
}

export function one(manifests: Manifest[], kind: string): Manifest {
  const found = only(manifests, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as Manifest;
}

/**
 * NOTES.txt as helm renders it for an install. `helm install --dry-run=client` still asks a
 * cluster for its version, so render the very same template text through `helm template`, from
 * a copy of the chart where it is wrapped into a ConfigMap.
 */
export async function renderNotes(valueFiles: string[] = []): Promise<string> {
  const copy = join(helmHome(), `chart-${Math.random().toString(36).slice(2)}`);
  cpSync(chartDir, copy, { recursive: true, filter: (source) => !source.includes('/test') });
  const notes = readFileSync(join(copy, 'templates/NOTES.txt'), 'utf8');
  rmSync(join(copy, 'templates/NOTES.txt'));
  writeFileSync(
    join(copy, 'templates/notes-preview.yaml'),
    `{{- define "notes-preview" }}${notes}{{ end }}\n` +
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-preview\n' +
      'data:\n  notes: {{ include "notes-preview" . | toJson }}\n',
  );
  const result = await helm([
    'template',
    RELEASE,
    copy,
    '--namespace',
    NAMESPACE,
    '--show-only',
    'templates/notes-preview.yaml',
    ...valueFiles.flatMap((file) => ['-f', file]),
  ]);
  rmSync(copy, { recursive: true, force: true });
  if (result.exitCode !== 0) throw new Error(`rendering NOTES.txt failed:\n${result.stderr}`);
  const [configMap] = parseManifests(result.stdout) as Array<Manifest & { data: { notes: string } }>;
  if (!configMap) throw new Error('NOTES.txt rendered nothing');
  return configMap.data.notes;
}
