/**
 * The fleet policy: per pool, when hosts may be taken out of service (weekly windows in a time zone,
 * absolute blackouts), how soon a host may go again (cooldown), which alarms block a pool, whether a
 * person must approve; and, for the whole fleet, who may break glass. Validated once at the boundary;
 * everything downstream works on the parsed form (instants as epoch milliseconds).
 */
import { z } from 'zod';
import { parseWith } from '../domain/validation.js';
import { isKnownTimeZone, WEEKDAYS, type Weekday } from './zoned-time.js';

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

const TimeOfDaySchema = z.string().regex(HH_MM, 'a time of day as HH:MM (00:00-24:00)');

export const MaintenanceWindowSchema = z
  .object({
    /** The days the window opens on; a window whose end is not after its start closes the next day. */
    days: z.array(z.enum(WEEKDAYS)).min(1, 'at least one day').max(7),
    start: TimeOfDaySchema,
    end: TimeOfDaySchema,
    timeZone: z.string().refine(isKnownTimeZone, 'an IANA time zone such as Europe/Berlin'),
  })
  .strict()
  .refine((w) => w.start !== w.end, { message: 'start and end are the same time: an empty window' })
  .refine((w) => w.start !== '24:00', {
    message: 'a window cannot start at 24:00; use 00:00',
    path: ['start'],
  })
  .transform((w) => ({
    days: [...new Set(w.days)] as Weekday[],
    startMinute: minuteOfDay(w.start),
    endMinute: minuteOfDay(w.end),
    timeZone: w.timeZone,
  }));
export type MaintenanceWindow = z.output<typeof MaintenanceWindowSchema>;

const InstantSchema = z.iso
  .datetime({ offset: true, message: 'an ISO 8601 instant with Z or an offset' })
  .transform((s) => Date.parse(s));

export const BlackoutSchema = z
  .object({ start: InstantSchema, end: InstantSchema, reason: z.string().min(1).max(200).optional() })
  .strict()
  .refine((b) => b.end > b.start, { message: 'end must be after start', path: ['end'] })
  .transform((b) => ({ startMs: b.start, endMs: b.end, reason: b.reason }));
export type Blackout = z.output<typeof BlackoutSchema>;

/** Alarm name patterns: `*` any run of characters, `?` one character; nothing else is special. */
const AlarmPatternSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.:/#*?+=@ -]+$/, 'alarm name characters, with * and ? as wildcards');

export const PoolPolicySchema = z
  .object({
    /** Omitted: any time. */
    windows: z.array(MaintenanceWindowSchema).max(50).optional(),
    blackouts: z.array(BlackoutSchema).max(500).default([]),
    cooldownMinutes: z
      .number()
      .int()
      .min(0)
      .max(365 * 24 * 60)
      .default(0),
    /**
     * A host starts only if this much of its window (and of the time before the next blackout) is left,
     * so a host started in a window finishes in it. In real minutes, whatever the clocks do.
     */
    startMarginMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(0),
    blockerAlarmPatterns: z.array(AlarmPatternSchema).max(100).default([]),
    requiresApproval: z.boolean().default(false),
  })
  .strict();
export type PoolPolicy = z.output<typeof PoolPolicySchema>;

const PrincipalArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\/[\w+=,.@/-]{1,256}$/,
    'an IAM user or role ARN (arn:aws:iam::123456789012:role/Name)',
  );

export const PolicyConfigSchema = z
  .object({
    pools: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a pool id'), PoolPolicySchema),
    /** The policy of every pool not listed. Omitted: any time, no cooldown, no blockers, no approval. */
    defaultPool: PoolPolicySchema.optional(),
    breakGlassPrincipals: z.array(PrincipalArnSchema).max(50).default([]),
  })
  .strict();
export type PolicyConfig = z.output<typeof PolicyConfigSchema>;
/** The policy as it is written (times as HH:MM, instants as ISO 8601): what the construct's prop takes. */
export type PolicyConfigInput = z.input<typeof PolicyConfigSchema>;

/** Parses a policy; throws ValidationError naming every bad field, e.g. `pools.web.windows.0.start`. */
export function parsePolicyConfig(input: unknown): PolicyConfig {
  return parseWith(PolicyConfigSchema, 'fleet policy', input);
}

/** What `decide` needs of a pool: its own rules and the fleet's break-glass principals. */
export interface ResolvedPoolPolicy extends PoolPolicy {
  readonly poolId: string;
  readonly breakGlassPrincipals: readonly string[];
}

const OPEN_POOL: PoolPolicy = PoolPolicySchema.parse({});

export function policyForPool(config: PolicyConfig, poolId: string): ResolvedPoolPolicy {
  const own = config.pools[poolId] ?? config.defaultPool ?? OPEN_POOL;
  return { ...own, poolId, breakGlassPrincipals: config.breakGlassPrincipals };
}
