/** Collects hosts' aging measurements fleet-wide on a schedule (shared/aging/collect-round.ts). */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { CloudWatchAgingMetrics } from '../shared/adapters/cloudwatch/cloudwatch-aging-metrics.js';
import { createDocumentClient } from '../shared/adapters/dynamodb/document-client.js';
import { DynamoDbCollectionRounds } from '../shared/adapters/dynamodb/dynamodb-collection-rounds.js';
import { createDynamoDbStore } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { SsmFleetCommands } from '../shared/adapters/ssm/ssm-fleet-commands.js';
import {
  collectRound,
  type CollectRoundDeps,
  type CollectRoundResult,
} from '../shared/aging/collect-round.js';
import { systemClock } from '../shared/domain/clock.js';
import { parseWith } from '../shared/domain/validation.js';
import { agingCollectionConfig } from './runtime/aging-collection-config.js';
import { logger, tracer } from './runtime/observability.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { toStepError } from './runtime/step-errors.js';

/** Every delivery of one tick carries the same `time`: the round's key. */
const ScheduledEventSchema = z.object({ time: z.iso.datetime() });

let deps: CollectRoundDeps | undefined;

function collectorDeps(): CollectRoundDeps {
  if (deps !== undefined) return deps;
  const { tables } = runtimeConfig();
  const config = agingCollectionConfig();
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  deps = {
    fleet: new SsmFleetCommands(tracer.captureAWSv3Client(new SSMClient({}))),
    hosts: createDynamoDbStore(dynamo, tables).hosts,
    metrics: new CloudWatchAgingMetrics(
      tracer.captureAWSv3Client(new CloudWatchClient({})),
      config.namespace,
      config.storageResolutionSeconds,
    ),
    rounds: new DynamoDbCollectionRounds(createDocumentClient(dynamo), tables.idempotency),
    clock: systemClock,
    settings: config,
  };
  return deps;
}

export async function handler(event: unknown): Promise<CollectRoundResult> {
  try {
    const { time } = parseWith(ScheduledEventSchema, 'scheduled event', event);
    const result = await collectRound(collectorDeps(), time);
    if (result.finished !== undefined && result.finished.refused.length > 0)
      logger.warn('hosts refused by the aging collector', { refused: result.finished.refused });
    logger.info('aging collected', { result });
    return result;
  } catch (error) {
    logger.error('aging collection failed', { error: error as Error });
    throw toStepError(error);
  }
}
