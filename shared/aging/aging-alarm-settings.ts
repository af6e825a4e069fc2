/**
 * The thresholds of the per-host aging alarms the host sync keeps (aging-alarms.ts), per pool over fleet
 * defaults, as the construct writes them (one JSON environment variable) and checked at the boundary.
 *
 * The defaults are the static alarms `npm run bench:aging` compares the predictor with (bench/aging-traces.ts):
 * MemAvailable below 10% of MemTotal, SUnreclaim above 6.4% of MemTotal (80% of the predictor's 8% limit),
 * the order-9 unusable free space index above 0.9, each for 3 consecutive 5-minute periods.
 */
import { z } from 'zod';
import { PoolIdSchema } from '../domain/identifiers.js';

export const AGING_ALARMS_ENV = 'REJUV_AGING_ALARMS';

export interface AgingAlarmThresholds {
  /** ALARM when MemAvailable falls below this share of MemTotal, in percent. */
  readonly memAvailableBelowPercent: number;
  /** ALARM when unreclaimable slab rises above this share of MemTotal, in percent. */
  readonly sUnreclaimAbovePercent: number;
  /** ALARM when the unusable free space index for 2 MiB blocks (order 9) rises above this (0..1). */
  readonly fragmentationIndexAbove: number;
  /** The period of each evaluated datapoint (Average); at least the collection interval, or periods go missing. */
  readonly periodSeconds: number;
  /** How many recent periods are judged. */
  readonly evaluationPeriods: number;
  /** How many of them must breach (M of N); missing periods count as not breaching. */
  readonly datapointsToAlarm: number;
}

export const DEFAULT_AGING_ALARM_THRESHOLDS: AgingAlarmThresholds = {
  memAvailableBelowPercent: 10,
  sUnreclaimAbovePercent: 6.4,
  fragmentationIndexAbove: 0.9,
  periodSeconds: 300,
  evaluationPeriods: 3,
  datapointsToAlarm: 3,
};

const ThresholdFields = {
  memAvailableBelowPercent: z.number().gt(0).lt(100),
  sUnreclaimAbovePercent: z.number().gt(0).lt(100),
  fragmentationIndexAbove: z.number().gt(0).lt(1),
  // CloudWatch: 10, 20, 30 or a multiple of 60 seconds; the collector publishes every few minutes.
  periodSeconds: z
    .number()
    .int()
    .min(60)
    .max(86_400)
    .refine((p) => p % 60 === 0, 'periodSeconds must be a multiple of 60'),
  // CloudWatch: EvaluationPeriods × Period at most one day.
  evaluationPeriods: z.number().int().min(1).max(1440),
  datapointsToAlarm: z.number().int().min(1).max(1440),
};

const consistent = (t: AgingAlarmThresholds) =>
  t.datapointsToAlarm <= t.evaluationPeriods && t.periodSeconds * t.evaluationPeriods <= 86_400;
const CONSISTENCY =
  'datapointsToAlarm must not exceed evaluationPeriods, and periodSeconds × evaluationPeriods must be at most one day';

export const AgingAlarmThresholdsSchema = z.object(ThresholdFields).strict().refine(consistent, CONSISTENCY);
const PartialThresholdsSchema = z.object(ThresholdFields).partial().strict();

export const AgingAlarmSettingsSchema = z
  .object({
    /**
     * Names begin with it: the AlarmTrigger's rule matches it. With a 63-character host id and
     * `-fragmentation`, a name stays within CloudWatch's 255.
     */
    prefix: z.string().min(1).max(177),
    namespace: z.string().min(1).max(255),
    defaults: AgingAlarmThresholdsSchema,
    pools: z.record(PoolIdSchema, PartialThresholdsSchema).default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const [pool, overrides] of Object.entries(s.pools))
      if (!consistent({ ...s.defaults, ...overrides }))
        ctx.addIssue({ code: 'custom', path: ['pools', pool], message: CONSISTENCY });
  });

export type AgingAlarmSettings = z.output<typeof AgingAlarmSettingsSchema>;
export type AgingAlarmSettingsInput = z.input<typeof AgingAlarmSettingsSchema>;

/** A pool's thresholds: its own where it sets them, the defaults elsewhere. */
export function thresholdsFor(settings: AgingAlarmSettings, pool: string): AgingAlarmThresholds {
  return { ...settings.defaults, ...settings.pools[pool] };
}
