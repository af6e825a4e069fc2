/**
 * The CLI's boundary: every option and argument is parsed by a schema before anything is contacted,
 * so bad input is reported with the offending option named and changes nothing.
 */
import { z } from 'zod';
import {
  AvailabilityZoneSchema,
  HostIdSchema,
  InstanceIdSchema,
  PoolIdSchema,
  ReasonSchema,
} from '../shared/domain/identifiers.js';
import { CampaignIdSchema } from '../shared/campaign/campaign-steps.js';
import { parseWith } from '../shared/domain/validation.js';
import { RELOAD_LEVELS } from '../shared/workflow/rejuvenation-request.js';

/** `--local`, or AWS by region, profile and stack name. */
export const TargetOptionsSchema = z
  .object({
    local: z.boolean().default(false),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'region: like eu-west-1')
      .optional(),
    profile: z
      .string()
      .regex(/^[A-Za-z0-9_.+=,@-]{1,64}$/, 'profile: 1-64 chars of A-Z a-z 0-9 _ . + = , @ -')
      .optional(),
    stack: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'stack: a CloudFormation stack name')
      .default('Rejuv'),
  })
  .strict();
export type TargetOptions = z.output<typeof TargetOptionsSchema>;

const RequestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'request id: 1-64 chars of A-Z a-z 0-9 _ -');

export const StartOptionsSchema = z
  .object({
    host: HostIdSchema,
    reason: ReasonSchema,
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    dryRun: z.boolean().default(false),
    allowSilentGuests: z.boolean().default(false),
    wait: z.boolean().default(true),
    /** The same request id twice starts one execution: a retried command is safe. */
    requestId: RequestIdSchema.optional(),
    /** Break glass: start outside the pool's windows and despite its blockers, if the policy names the caller. */
    breakGlassReason: ReasonSchema.optional(),
  })
  .strict();
export type StartOptions = z.output<typeof StartOptionsSchema>;

/** An execution by name or by ARN. */
export const ExecutionRefSchema = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:)?[A-Za-z0-9_-]{1,80}$/,
    'execution: an execution name (1-80 chars of A-Z a-z 0-9 _ -) or its ARN',
  );

export const HostsOptionsSchema = z.object({ pool: PoolIdSchema.optional() }).strict();

export const HostRegisterOptionsSchema = z.strictObject({
  host: HostIdSchema,
  instanceId: InstanceIdSchema,
  pool: PoolIdSchema,
  availabilityZone: AvailabilityZoneSchema.optional(),
});
export type HostRegisterOptions = z.output<typeof HostRegisterOptionsSchema>;

export const HostDeregisterOptionsSchema = z.strictObject({ host: HostIdSchema, reason: ReasonSchema });
export type HostDeregisterOptions = z.output<typeof HostDeregisterOptionsSchema>;

export const HostReleaseOptionsSchema = z.strictObject({
  host: HostIdSchema,
  /** Required, forced or not: whoever reads the audit trail must learn why the host was let back. */
  reason: ReasonSchema,
  force: z.boolean().default(false),
  /** The same request id twice runs the checks once: a retried release is safe. */
  requestId: RequestIdSchema.optional(),
});
export type HostReleaseOptions = z.output<typeof HostReleaseOptionsSchema>;

const VmNameListSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}(,[a-z0-9][a-z0-9-]{0,62}){0,255}$/,
    'comma-separated VM names as the census gives them (a-z 0-9 -)',
  );

export const HostInventoryOptionsSchema = z
  .strictObject({
    host: HostIdSchema,
    /** The adoptable VMs to write inventory entries for, by their census names. */
    adopt: VmNameListSchema.optional(),
    adoptAll: z.boolean().default(false),
    requestId: RequestIdSchema.optional(),
  })
  .refine((o) => !(o.adoptAll && o.adopt !== undefined), {
    message: '--adopt and --adopt-all: give one or the other',
  });
export type HostInventoryOptions = z.output<typeof HostInventoryOptionsSchema>;

export const CampaignStartOptionsSchema = z
  .strictObject({
    campaignId: CampaignIdSchema,
    reason: ReasonSchema,
    hosts: z.array(HostIdSchema).default([]),
    pools: z.array(PoolIdSchema).default([]),
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    /** Hosts of a pool in maintenance at once (the pool semaphore still applies on top). */
    perPool: z.coerce.number().int().min(1).max(10_000).default(1),
    /** Hosts of an availability zone in maintenance at once; omitted: zones are not limited. */
    perAz: z.coerce.number().int().min(1).max(10_000).optional(),
    /** `N` failed hosts, or `N%` of the campaign's hosts, tolerated before it halts. */
    tolerate: z
      .string()
      .regex(/^\d+(\.\d+)?%?$/, 'tolerate: a count (2) or a percentage (5%)')
      .default('0'),
  })
  .refine((o) => o.hosts.length + o.pools.length > 0, 'name --host or --pool (or both)');
export type CampaignStartOptions = z.output<typeof CampaignStartOptionsSchema>;

export const CampaignMoveOptionsSchema = z.strictObject({
  campaignId: CampaignIdSchema,
  reason: ReasonSchema.optional(),
});
export type CampaignMoveOptions = z.output<typeof CampaignMoveOptionsSchema>;

export const AUDIT_FORMATS = ['jsonl', 'csv'] as const;

/** A file or directory named on the command line; the command itself says when it is not there. */
const PathSchema = (what: string) =>
  z
    .string()
    .min(1, `${what}: a path`)
    .max(4096, `${what}: at most 4096 characters`)
    .refine((p) => ![...p].some((c) => c.charCodeAt(0) < 0x20), `${what}: no control characters`);

export const AuditExportOptionsSchema = z
  .object({
    host: HostIdSchema.optional(),
    since: z.iso
      .datetime({ offset: true, message: 'since: an ISO 8601 instant, e.g. 2026-11-01T00:00:00Z' })
      .optional(),
    format: z.enum(AUDIT_FORMATS, { message: 'format: jsonl or csv' }).optional(),
    /** A directory for a verifiable bundle: records, signed digests, public key. */
    bundle: PathSchema('bundle').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ((o.format === undefined) === (o.bundle === undefined))
      ctx.addIssue({
        code: 'custom',
        message:
          "required option '--format <format>' (jsonl or csv, to stdout) or '--bundle <dir>', not both",
      });
    // A bundle is verified whole: a chain cut by --host or --since would read as deleted or truncated.
    if (o.bundle !== undefined && (o.host !== undefined || o.since !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['bundle'],
        message: 'a bundle holds the whole trail: --host and --since do not apply',
      });
  });
export type AuditExportOptions = z.output<typeof AuditExportOptionsSchema>;

export const AuditVerifyOptionsSchema = z
  .object({
    host: HostIdSchema.optional(),
    /** A PEM public key the auditor holds, instead of the one KMS (or the bundle) gives. */
    publicKey: PathSchema('public key').optional(),
    /** Verify an exported bundle, offline: no AWS call at all. */
    bundle: PathSchema('bundle').optional(),
    /**
     * Minutes between scheduled seals, instead of the stack output AuditSealIntervalSeconds (or the
     * bundle's manifest): records older than this plus grace and margin must be covered by a digest.
     */
    sealInterval: z.coerce
      .number({ message: 'seal-interval: whole minutes, 1 to 1440' })
      .int('seal-interval: whole minutes, 1 to 1440')
      .min(1, 'seal-interval: whole minutes, 1 to 1440')
      .max(1440, 'seal-interval: whole minutes, 1 to 1440')
      .optional(),
  })
  .strict();
export type AuditVerifyOptions = z.output<typeof AuditVerifyOptionsSchema>;

export const LocalUpOptionsSchema = z
  .object({
    hosts: z.coerce.number().int().min(1).max(6, 'hosts: at most 6 on one machine'),
    vms: z.coerce.number().int().min(1).max(4, 'vms: at most 4 per host'),
    detach: z.boolean().default(false),
  })
  .strict();

/** Options as commander hands them over, checked against `schema`; a failure names the command. */
export function parseOptions<S extends z.ZodType>(schema: S, command: string, input: unknown): z.output<S> {
  return parseWith(schema, `${command} options`, input);
}
