/**
 * An audit export an auditor can verify with openssl alone: the records, each line exactly the bytes its
 * hash covers; every digest as stored with its signature beside it; the public key; and a manifest saying
 * when it was exported and how often the sealer ran, which verification judges uncovered records by (the
 * bundle is judged as of its export: a record appended just before it is not yet due a digest).
 * `readAuditBundle` reads one back for the same offline verification the CLI does.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { StoredRecord } from '../domain/audit-chain.js';
import type { SignedDigest } from '../domain/audit-digest.js';
import type { TrailEvidence } from '../domain/audit-digest-verification.js';
import { AuditRecordSchema, hashRecord } from '../domain/audit-record.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { AuditBundleUnreadableError } from '../domain/errors.js';
import { describeIssues } from '../domain/validation.js';

export const BUNDLE_FORMAT = 'rejuv-audit-bundle/1';

const BundleManifestSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    exportedAt: z.iso.datetime(),
    /** The deployed seal interval when the bundle was written (the stack output AuditSealIntervalSeconds). */
    sealIntervalSeconds: z.number().int().positive(),
  })
  .strict();
export type BundleManifest = z.output<typeof BundleManifestSchema>;

export type AuditBundle = TrailEvidence & { readonly manifest: BundleManifest };

export function writeAuditBundle(
  dir: string,
  evidence: TrailEvidence & { publicKey: string },
  exported: { readonly at: Date; readonly sealIntervalMs: number },
): void {
  mkdirSync(join(dir, 'digests'), { recursive: true });
  const lines: string[] = [];
  for (const records of evidence.chains.values())
    for (const entry of records)
      if ('record' in entry) {
        const { hash: _hash, ...unsealed } = entry.record;
        lines.push(canonicalJson(unsealed));
      }
  writeFileSync(join(dir, 'records.jsonl'), lines.map((l) => `${l}\n`).join(''));
  for (const d of evidence.digests) {
    const name = d.key.split('/').pop() ?? d.key;
    writeFileSync(join(dir, 'digests', name), d.body);
    writeFileSync(join(dir, 'digests', name.replace(/\.json$/, '.sig')), d.signature);
  }
  writeFileSync(join(dir, 'public-key.pem'), evidence.publicKey);
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    exportedAt: exported.at.toISOString(),
    sealIntervalSeconds: Math.round(exported.sealIntervalMs / 1000),
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * The bundle as evidence; a record line that is not a JSON object, or a digest without its signature, is
 * an AuditBundleUnreadableError (a missing file or directory is the file system's own error).
 */
export function readAuditBundle(dir: string): AuditBundle {
  const manifest = readManifest(dir);
  const chains = new Map<string, StoredRecord[]>();
  for (const [i, line] of readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n').entries()) {
    if (line === '') continue;
    const unsealed = parseRecordLine(line, i + 1);
    // The hash is not in the line: it is the SHA-256 of the line, as an auditor recomputes it.
    const parsed = AuditRecordSchema.safeParse({ ...unsealed, hash: hashOfLine(unsealed) });
    const chainId = String(unsealed['chainId']);
    const seq = Number(unsealed['seq']);
    const list = chains.get(chainId) ?? [];
    list.push(parsed.success ? { seq, record: parsed.data } : { seq, corrupt: describeIssues(parsed.error) });
    chains.set(chainId, list);
  }
  const digests: SignedDigest[] = readdirSync(join(dir, 'digests'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      key: `audit-digests/${f}`,
      body: readFileSync(join(dir, 'digests', f), 'utf8'),
      signature: readSignature(dir, f.replace(/\.json$/, '.sig')),
    }));
  return { digests, chains, publicKey: readFileSync(join(dir, 'public-key.pem'), 'utf8'), manifest };
}

function readManifest(dir: string): BundleManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) throw new AuditBundleUnreadableError('manifest.json', 'it is not JSON');
    throw error;
  }
  const manifest = BundleManifestSchema.safeParse(parsed);
  if (!manifest.success)
    throw new AuditBundleUnreadableError('manifest.json', describeIssues(manifest.error).join('; '));
  return manifest.data;
}

function parseRecordLine(line: string, lineNumber: number): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new AuditBundleUnreadableError('records.jsonl', `line ${lineNumber} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new AuditBundleUnreadableError('records.jsonl', `line ${lineNumber} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function readSignature(dir: string, name: string): Buffer {
  try {
    return readFileSync(join(dir, 'digests', name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new AuditBundleUnreadableError(`digests/${name}`, 'the signature of a digest is missing');
    throw error;
  }
}

function hashOfLine(unsealed: Record<string, unknown>): string {
  return hashRecord(unsealed as Parameters<typeof hashRecord>[0]);
}
