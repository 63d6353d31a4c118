import { LineCounter, parseAllDocuments } from 'yaml';
import {
  describeProblems,
  type FailoverPairManifest,
  isInvalid,
  toPairObject,
} from '../kube/failover-pair-object.js';
import type { InvalidPair, PairObject } from '../reconcile/pair.js';

export interface ParsedPairsFile {
  pairs: PairObject[];
  invalid: InvalidPair[];
}

/**
 * A pairs file is one or more FailoverPair manifests in multi-document YAML: the same objects
 * one would `kubectl apply`. Each is validated on its own with the CRD's rules; a bad one is
 * reported with its line and skipped, the others are kept.
 */
export function parsePairsFile(text: string, fileName: string): ParsedPairsFile {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines });
  const pairs: PairObject[] = [];
  const invalid: InvalidPair[] = [];
  const seen = new Map<string, string>();
  documents.forEach((doc, index) => {
    const line = lines.linePos(doc.range[0]).line;
    const location = `${fileName}:${line}`;
    if (doc.errors.length > 0) {
      invalid.push({
        key: `<document ${index + 1}>`,
        generation: 0,
        location,
        problems: doc.errors.map((e) => ({
          path: '(yaml)',
          value: e.code,
          message: e.message.split('\n')[0] ?? '',
        })),
      });
      return;
    }
    const value = doc.toJS() as FailoverPairManifest | null;
    if (value === null || value === undefined) return; // empty document (e.g. trailing ---)
    if (typeof value !== 'object' || Array.isArray(value)) {
      invalid.push({
        key: `<document ${index + 1}>`,
        generation: 0,
        location,
        problems: [{ path: '(root)', value, message: 'expected a FailoverPair manifest (a mapping)' }],
      });
      return;
    }
    const parsed = toPairObject({ ...value, status: undefined }, 'default', location);
    if (isInvalid(parsed)) {
      invalid.push(parsed);
      return;
    }
    const earlier = seen.get(parsed.key);
    if (earlier) {
      invalid.push({
        key: parsed.key,
        generation: 0,
        location,
        problems: [
          { path: 'metadata.name', value: parsed.name, message: `duplicate of the pair at ${earlier}` },
        ],
      });
      return;
    }
    seen.set(parsed.key, location);
    pairs.push(parsed);
  });
  return { pairs, invalid };
}

export const describeInvalid = (p: InvalidPair): string =>
  `${p.location ?? p.key}: ${p.key}: ${describeProblems(p)}`;
