/** What starts one host's rejuvenation: the execution input, from an alarm or an operator. */
import { z } from 'zod';
import { AUDIT_TRIGGERS } from '../domain/audit-record.js';
import { canonicalDigest } from '../domain/canonical-json.js';
import { HostIdSchema, PrincipalSchema, ReasonSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';

export const RELOAD_LEVELS = ['vmm-process', 'kernel'] as const;
export type ReloadLevel = (typeof RELOAD_LEVELS)[number];

export const RejuvenationRequestSchema = z
  .object({
    hostId: HostIdSchema,
    trigger: z.enum(AUDIT_TRIGGERS),
    principal: PrincipalSchema,
    reason: ReasonSchema,
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    /** Runs every check and records what would be done, touching no VM and moving no host state. */
    dryRun: z.boolean().default(false),
    /**
     * Proceeds when Preflight finds a guest whose heartbeat is already silent, instead of refusing; Verify
     * then reports that guest without failing the rejuvenation for it.
     */
    allowSilentGuests: z.boolean().default(false),
    /**
     * Asks the policy gate to break glass (set aside the maintenance windows and the blockers) for this
     * request's principal, with this reason. Only the operator API sets it, for its authenticated caller;
     * the trigger's claim covers it like every field, so no one else can add it to an execution's input.
     */
    breakGlassReason: ReasonSchema.optional(),
  })
  .strict();

export type RejuvenationRequest = z.output<typeof RejuvenationRequestSchema>;
export type RejuvenationRequestInput = z.input<typeof RejuvenationRequestSchema>;

/**
 * What a trigger's claim holds of the request it starts, and what Admit compares the execution's input
 * with: the SHA-256 of the request's canonical JSON, taken after parsing, so that defaults filled in or
 * a reason's surrounding spaces trimmed give the same digest as the request the trigger sent.
 */
export function requestDigest(request: RejuvenationRequestInput): string {
  return canonicalDigest(parseWith(RejuvenationRequestSchema, 'rejuvenation request', request));
}
