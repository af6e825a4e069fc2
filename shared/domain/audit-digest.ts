/**
 * Signed digests of the audit trail, after CloudTrail's log file integrity validation. A digest lists, for
 * every chain that grew since the previous digest, the hash of each record appended, and the head of every
 * chain ever sealed; it names the previous digest and its signature, so digests form a chain of their own.
 * Its bytes are the canonical JSON of the document, signed as they are (RSA PKCS #1 v1.5 over SHA-256), so
 * `openssl dgst -sha256 -verify` checks one with the public key alone.
 */
import { z } from 'zod';
import { AuditChainIdSchema } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';

export const DIGEST_FORMAT = 'rejuv-audit-digest/1';
/**
 * KMS's name for RSA PKCS #1 v1.5 over SHA-256 (an RSA_2048 key): what `openssl dgst -sha256 -verify`
 * checks. KMS signs at most 4 KiB as a message, so the sealer sends the SHA-256 of the digest instead.
 */
export const DIGEST_SIGNING_ALGORITHM = 'RSASSA_PKCS1_V1_5_SHA_256';

const HashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'hash: 64 lowercase hex digits');

export const SealedHeadSchema = z
  .object({ chainId: AuditChainIdSchema, headSeq: z.number().int().positive(), headHash: HashSchema })
  .strict();
export type SealedHead = z.output<typeof SealedHeadSchema>;

export const SealedRecordsSchema = z
  .object({
    chainId: AuditChainIdSchema,
    /** Sequence number of the first record listed; the previous digest sealed everything before it. */
    fromSeq: z.number().int().positive(),
    /** The hash of each record from `fromSeq` on, in order. */
    recordHashes: z.array(HashSchema).min(1),
  })
  .strict();
export type SealedRecords = z.output<typeof SealedRecordsSchema>;

export const AuditDigestSchema = z
  .object({
    format: z.literal(DIGEST_FORMAT),
    seq: z.number().int().positive(),
    /** When the previous digest read the chains; null for the first digest. */
    windowStart: z.iso.datetime().nullable(),
    /** When this digest read the chains: every record it does not seal was appended after that. */
    windowEnd: z.iso.datetime(),
    keyId: z.string().min(1).max(2048),
    signingAlgorithm: z.literal(DIGEST_SIGNING_ALGORITHM),
    previous: z
      .object({ seq: z.number().int().positive(), key: z.string().min(1), signature: z.base64() })
      .strict()
      .nullable(),
    changed: z.array(SealedRecordsSchema),
    /** The head of every chain sealed so far, this digest's included: a deleted chain stays named here. */
    heads: z.array(SealedHeadSchema),
  })
  .strict();
export type AuditDigest = z.output<typeof AuditDigestSchema>;

/** A digest as stored: its exact bytes, and the signature over them. */
export interface SignedDigest {
  readonly key: string;
  readonly body: string;
  readonly signature: Uint8Array;
}

export const DIGEST_PREFIX = 'audit-digests/';

/** Zero-padded, so listing keys in order lists digests in sequence order. */
export function digestKey(seq: number): string {
  return `${DIGEST_PREFIX}${String(seq).padStart(10, '0')}.json`;
}

export function digestSeqOfKey(key: string): number | undefined {
  const match = /^audit-digests\/(\d{10})\.json$/.exec(key);
  return match === null ? undefined : Number(match[1]);
}

/** The bytes that are signed and stored: one text per digest. */
export function digestBody(digest: AuditDigest): string {
  return canonicalJson(digest);
}

/** The host a chain belongs to (`host#h-1` → `h-1`), or the chain id itself for other chains. */
export function hostOfChain(chainId: string): string {
  return chainId.startsWith('host#') ? chainId.slice('host#'.length) : chainId;
}
