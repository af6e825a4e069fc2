/**
 * Runs the queued alarm and prediction requests whose pool has room (shared/workflow/drain-pending.ts):
 * on a schedule, and whenever a per-host execution ends (a slot may just have been freed).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoDbStore } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { SfnExecutionStarter } from '../shared/adapters/sfn/sfn-execution-starter.js';
import { systemClock } from '../shared/domain/clock.js';
import { parseWith } from '../shared/domain/validation.js';
import {
  drainPending,
  type DrainPendingDeps,
  type DrainPendingResult,
} from '../shared/workflow/drain-pending.js';
import { poolLimit } from '../shared/workflow/workflow-config.js';
import { logger, tracer } from './runtime/observability.js';
import { PENDING_MAX_AGE_ENV, PendingDrainEnvSchema } from './runtime/pending-drain-config.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { toStepError } from './runtime/step-errors.js';

let deps: DrainPendingDeps | undefined;

function drainDeps(): DrainPendingDeps {
  if (deps !== undefined) return deps;
  const config = runtimeConfig();
  if (config.stateMachineArn === undefined)
    throw new Error('the pending drainer configuration names no state machine');
  const env = parseWith(PendingDrainEnvSchema, 'pending drainer environment', process.env);
  const store = createDynamoDbStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tables);
  deps = {
    pending: store.pending,
    hosts: store.hosts,
    poolSemaphore: store.poolSemaphore,
    idempotency: store.idempotency,
    executions: new SfnExecutionStarter(tracer.captureAWSv3Client(new SFNClient({})), config.stateMachineArn),
    audit: store.audit,
    clock: systemClock,
    poolLimit: (pool) => poolLimit(config.workflow, pool),
    maxAgeMs: env[PENDING_MAX_AGE_ENV] * 1000,
    dedupeTtlSeconds: config.workflow.dedupeTtlSeconds,
  };
  return deps;
}

/** The scheduled event and the execution-end event both only say "look now": neither is read. */
export async function handler(_event: unknown): Promise<DrainPendingResult> {
  try {
    const result = await drainPending(drainDeps());
    logger.info('pending requests drained', { result });
    return result;
  } catch (error) {
    logger.error('pending drain failed', { error: error as Error });
    throw toStepError(error);
  }
}
