/** Settings every step shares; the CDK construct passes them to each function as one environment variable. */
import { z } from 'zod';
import { PoolIdSchema } from '../domain/identifiers.js';
import { LeaseDurationSchema } from '../domain/lease.js';

export const HOST_DOCUMENTS = ['Preflight', 'WarmReboot', 'Verify', 'Recover'] as const;
export type HostDocument = (typeof HOST_DOCUMENTS)[number];

/**
 * The parameter each host document's step takes its `timeoutSeconds` from (`'{{ executionTimeout }}'`):
 * the SSM Agent kills a step at its own timeout, whatever SendCommand's TimeoutSeconds (delivery only)
 * says, so every send carries the document's deadline here.
 */
export const EXECUTION_TIMEOUT_PARAMETER = 'executionTimeout';

/** The parameters of a host document's send: its own, and its deadline as the step's execution timeout. */
export function withExecutionTimeout(
  parameters: Readonly<Record<string, string>>,
  timeoutSeconds: number,
): Record<string, string> {
  return { ...parameters, [EXECUTION_TIMEOUT_PARAMETER]: String(timeoutSeconds) };
}

const DocumentNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/, 'SSM document name');

export const WorkflowConfigSchema = z
  .object({
    /** How long a host lock and pool slot last without renewal; longer than the longest step. */
    leaseDurationMs: LeaseDurationSchema,
    defaultPoolLimit: z.number().int().min(1).max(100),
    poolLimits: z.record(PoolIdSchema, z.number().int().min(1).max(100)).default({}),
    /** The deployed names of the host documents. */
    documents: z.object(
      Object.fromEntries(HOST_DOCUMENTS.map((d) => [d, DocumentNameSchema])) as Record<
        HostDocument,
        typeof DocumentNameSchema
      >,
    ),
    /** Deadline of each host document, measured by the control plane from send to result. */
    commandTimeoutSeconds: z.object(
      Object.fromEntries(HOST_DOCUMENTS.map((d) => [d, z.number().int().min(5).max(7200)])) as Record<
        HostDocument,
        z.ZodNumber
      >,
    ),
    /** How long the host's agent may take to report back after the reload. */
    awaitHostTimeoutSeconds: z.number().int().min(5).max(7200),
    /** How long a trigger's dedupe key is remembered. */
    dedupeTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .default(24 * 3600),
  })
  .strict();

export type WorkflowConfig = z.output<typeof WorkflowConfigSchema>;
export type WorkflowConfigInput = z.input<typeof WorkflowConfigSchema>;

export function poolLimit(config: WorkflowConfig, pool: string): number {
  return config.poolLimits[pool] ?? config.defaultPoolLimit;
}
