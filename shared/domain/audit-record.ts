/**
 * Audit records and their hashes. A record's hash covers every field but the hash itself, including its
 * chain, its sequence number and the previous record's hash, so altering, removing or moving any record
 * breaks a link that `verifyChain` can name.
 */
import { z } from 'zod';
import { canonicalDigest } from './canonical-json.js';
import { HostStateSchema } from './host.js';
import { ExecutionIdSchema, PrincipalSchema, ReasonSchema } from './identifiers.js';

export const GENESIS_HASH = '0'.repeat(64);

export const AuditChainIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9#:._-]{1,128}$/, 'audit chain id: 1-128 chars of A-Z a-z 0-9 # : . _ -');

export function hostChainId(hostId: string): string {
  return `host#${hostId}`;
}

export const AUDIT_TRIGGERS = ['alarm', 'operator', 'predictive', 'system', 'campaign'] as const;
export const AUDIT_OUTCOMES = [
  'started',
  'succeeded',
  'failed',
  'refused',
  'skipped',
  'compensated',
  /** An alarm's or a prediction's request that could not run yet, kept to run later (pending-entry.ts). */
  'queued',
  /** Queued requests given up on, with the reason. */
  'dropped',
] as const;

const DetailValueSchema = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);

export const AuditEventSchema = z
  .object({
    /** Unique per event; an append retried with the same id is recorded once. */
    eventId: z.string().regex(/^[A-Za-z0-9:._#-]{1,200}$/, 'event id: 1-200 chars of A-Z a-z 0-9 : . _ # -'),
    at: z.iso.datetime(),
    principal: PrincipalSchema,
    trigger: z.enum(AUDIT_TRIGGERS),
    step: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'step: 1-64 chars, starting with a letter'),
    outcome: z.enum(AUDIT_OUTCOMES),
    executionId: ExecutionIdSchema.optional(),
    reason: ReasonSchema.optional(),
    fromState: HostStateSchema.optional(),
    toState: HostStateSchema.optional(),
    durationMs: z.number().int().nonnegative().optional(),
    commandId: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'command id: 1-64 chars of A-Z a-z 0-9 -')
      .optional(),
    detail: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), DetailValueSchema)
      .refine((d) => Object.keys(d).length <= 64, 'detail: at most 64 fields')
      .optional(),
  })
  .strict();

export type AuditEvent = z.output<typeof AuditEventSchema>;
export type AuditEventInput = z.input<typeof AuditEventSchema>;

const HashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'hash: 64 lowercase hex digits');

export const AuditRecordSchema = AuditEventSchema.extend({
  chainId: AuditChainIdSchema,
  seq: z.number().int().positive(),
  prevHash: HashSchema,
  hash: HashSchema,
}).strict();

export type AuditRecord = z.output<typeof AuditRecordSchema>;
export type UnsealedAuditRecord = Omit<AuditRecord, 'hash'>;

export function hashRecord(record: UnsealedAuditRecord): string {
  return canonicalDigest(record);
}

export function sealRecord(record: UnsealedAuditRecord): AuditRecord {
  return { ...record, hash: hashRecord(record) };
}
