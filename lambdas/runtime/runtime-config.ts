/**
 * Everything a function needs to know about its deployment, in one environment variable written by the
 * RejuvenationCoordinator construct (`REJUV_CONFIG`), read and validated once per container.
 */
import { z } from 'zod';
import { jsonEnvironmentVariable } from './json-environment.js';
import { TABLE_IDS } from '../../shared/store/table-definitions.js';
import { WorkflowConfigSchema } from '../../shared/workflow/workflow-config.js';

export const RUNTIME_CONFIG_ENV = 'REJUV_CONFIG';

export const RuntimeConfigSchema = z
  .object({
    tables: z.object(
      Object.fromEntries(TABLE_IDS.map((id) => [id, z.string().min(3).max(255)])) as Record<
        (typeof TABLE_IDS)[number],
        z.ZodString
      >,
    ),
    workflow: WorkflowConfigSchema,
    notificationTopicArn: z
      .string()
      .regex(/^arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'SNS topic ARN'),
    /** Target groups a host's instance is drained from; empty when the pool has no load balancer. */
    targetGroupArns: z
      .array(z.string().regex(/^arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/.+$/))
      .default([]),
    /** The state machine the triggers start; absent for step functions. */
    stateMachineArn: z
      .string()
      .regex(/^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:.+$/)
      .optional(),
    /** The campaign state machine the operator API starts; absent for the other functions. */
    campaignStateMachineArn: z
      .string()
      .regex(/^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:.+$/)
      .optional(),
  })
  .strict();

export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;

let cached: RuntimeConfig | undefined;

export function runtimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  if (cached !== undefined) return cached;
  cached = jsonEnvironmentVariable(env, RUNTIME_CONFIG_ENV, RuntimeConfigSchema, 'RejuvenationCoordinator');
  return cached;
}

/** For local mode and tests, which set the environment and then want it read afresh. */
export function forgetRuntimeConfig(): void {
  cached = undefined;
}
