/**
 * The predictive trigger's settings as its construct writes them (one JSON environment variable), checked
 * at the boundary: the decision's parameters, the period of the points read, the exhaustion limits and
 * the reload level.
 */
import { z } from 'zod';
import { RELOAD_LEVELS } from '../workflow/rejuvenation-request.js';
import { AGING_RESOURCES } from './aging-resources.js';
import { DEFAULT_EXHAUSTION_LIMITS, type FleetPredictionSettings } from './predict-fleet.js';
import { DEFAULT_PREDICTION_CONFIG, PredictionConfigSchema } from './predictive-decision.js';

const share = z.number().gt(0).max(1);

export const FleetPredictionSettingsSchema = z
  .object({
    config: PredictionConfigSchema.default(DEFAULT_PREDICTION_CONFIG),
    /**
     * GetMetricData's Period: a multiple of 60 seconds, or 1, 5, 10 or 30 on high-resolution metrics (the
     * construct allows those only when the collector publishes at high resolution).
     */
    periodSeconds: z
      .number()
      .int()
      .min(1)
      .refine(
        (p) => (p >= 60 ? p % 60 === 0 : [1, 5, 10, 30].includes(p)),
        'periodSeconds must be 1, 5, 10, 30 or a multiple of 60',
      )
      .default(7200),
    limits: z
      .object({
        memAvailableFloorOfTotal: share,
        sUnreclaimCeilingOfTotal: share,
        fragmentationCeiling: share,
        qemuRssCeilingOfTotal: share,
      })
      .strict()
      .default(DEFAULT_EXHAUSTION_LIMITS),
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    /** The resources judged; the others are read but never fire. */
    resources: z
      .array(z.enum(AGING_RESOURCES))
      .min(1, 'at least one resource')
      .refine((r) => new Set(r).size === r.length, 'each resource once')
      .default([...AGING_RESOURCES]),
  })
  .strict()
  .refine((s) => s.config.windowMs / (s.periodSeconds * 1000) >= s.config.minPoints, {
    message: 'the window holds fewer periods than minPoints: no series could ever be judged',
  });

export const PREDICTION_SETTINGS_ENV = 'REJUV_PREDICTION';

export type FleetPredictionSettingsInput = z.input<typeof FleetPredictionSettingsSchema>;
export type { FleetPredictionSettings };
