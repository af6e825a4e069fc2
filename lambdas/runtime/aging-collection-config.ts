/**
 * The aging collector's deployment, in one environment variable written by the RejuvenationCoordinator
 * construct (`REJUV_AGING_COLLECTION`), read and validated once per container.
 */
import { z } from 'zod';
import { jsonEnvironmentVariable } from './json-environment.js';

export const AGING_COLLECTION_ENV = 'REJUV_AGING_COLLECTION';

export const AgingCollectionConfigSchema = z
  .object({
    documentName: z.string().regex(/^[a-zA-Z0-9_.:/-]{3,128}$/, 'SSM document name'),
    managedTag: z.object({ key: z.string().min(1).max(128), value: z.string().min(1).max(256) }).strict(),
    maxConcurrency: z.string().regex(/^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/, 'SSM MaxConcurrency'),
    maxErrors: z.string().regex(/^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/, 'SSM MaxErrors'),
    deliveryTimeoutSeconds: z.number().int().min(30).max(2_592_000),
    namespace: z.string().min(1).max(255),
    /** 1: high-resolution metrics, which the predictor may read at periods under a minute. */
    storageResolutionSeconds: z.union([z.literal(1), z.literal(60)]).default(60),
  })
  .strict();

export type AgingCollectionConfig = z.output<typeof AgingCollectionConfigSchema>;

export function agingCollectionConfig(env: NodeJS.ProcessEnv = process.env): AgingCollectionConfig {
  return jsonEnvironmentVariable(
    env,
    AGING_COLLECTION_ENV,
    AgingCollectionConfigSchema,
    'RejuvenationCoordinator',
  );
}
