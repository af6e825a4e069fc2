/**
 * The state one execution carries from step to step. Every Lambda gets it, validates it, and returns it
 * updated; the state machine stores it at `$.ctx`. The host's version travels with it so that each
 * transition can be conditional on exactly the version the previous step left.
 */
import { z } from 'zod';
import { HostStateSchema } from '../domain/host.js';
import { ExecutionIdSchema, InstanceIdSchema, PoolIdSchema } from '../domain/identifiers.js';
import { LeaseSchema } from '../domain/lease.js';
import { RejuvenationRequestSchema } from './rejuvenation-request.js';

export const WorkflowContextSchema = z
  .object({
    executionId: ExecutionIdSchema,
    request: RejuvenationRequestSchema,
    instanceId: InstanceIdSchema,
    pool: PoolIdSchema,
    hostState: HostStateSchema,
    hostVersion: z.number().int().nonnegative(),
    lock: LeaseSchema,
    poolSlot: LeaseSchema,
    startedAt: z.iso.datetime(),
  })
  .strict();

export type WorkflowContext = z.output<typeof WorkflowContextSchema>;

/** The error a Catch clause hands to compensation, as Step Functions shapes it. */
export const CaughtErrorSchema = z.object({
  Error: z.string().max(256),
  Cause: z.string().max(32_768).optional(),
});
export type CaughtError = z.output<typeof CaughtErrorSchema>;
