/**
 * The audit sealer's deployment, in one environment variable written by the AuditDigests construct
 * (`REJUV_AUDIT_SEAL`), read and validated once per container.
 */
import { z } from 'zod';
import { jsonEnvironmentVariable } from './json-environment.js';

export const SEAL_CONFIG_ENV = 'REJUV_AUDIT_SEAL';

export const SealConfigSchema = z
  .object({
    auditTable: z.string().min(3).max(255),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'S3 bucket name'),
    keyArn: z.string().regex(/^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key\/.+$/, 'KMS key ARN'),
    retentionDays: z.number().int().min(1).max(36_500),
  })
  .strict();

export type SealConfig = z.output<typeof SealConfigSchema>;

export function sealConfig(env: NodeJS.ProcessEnv = process.env): SealConfig {
  return jsonEnvironmentVariable(env, SEAL_CONFIG_ENV, SealConfigSchema, 'AuditDigests');
}
