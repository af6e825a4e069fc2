/** Ports for the triggers: the host registry (to refuse unknown hosts), dedupe keys, and Step Functions. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoDbStore } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/sfn-execution-starter.js';
import { systemClock } from '../../shared/domain/clock.js';
import type { TriggerDeps } from '../../shared/workflow/start-rejuvenation.js';
import { tracer } from './observability.js';
import { runtimeConfig } from './runtime-config.js';

let cached: TriggerDeps | undefined;

export function triggerDepsFromEnvironment(): TriggerDeps {
  if (cached !== undefined) return cached;
  const config = runtimeConfig();
  if (config.stateMachineArn === undefined)
    throw new Error('the trigger configuration names no state machine');
  const store = createDynamoDbStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tables);
  cached = {
    hosts: store.hosts,
    idempotency: store.idempotency,
    executions: new SfnExecutionStarter(tracer.captureAWSv3Client(new SFNClient({})), config.stateMachineArn),
    dedupeTtlSeconds: config.workflow.dedupeTtlSeconds,
    clock: systemClock,
  };
  return cached;
}

export function forgetTriggerDeps(): void {
  cached = undefined;
}
