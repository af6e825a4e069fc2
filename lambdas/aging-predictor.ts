/** The scheduled predictive trigger (shared/aging/predict-fleet.ts): the schedule's event is not read. */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbStore } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { CloudWatchAgingMetrics } from '../shared/adapters/cloudwatch/cloudwatch-aging-metrics.js';
import {
  FleetPredictionSettingsSchema,
  PREDICTION_SETTINGS_ENV,
} from '../shared/aging/fleet-prediction-settings.js';
import { predictFleet, type FleetPredictionResult } from '../shared/aging/predict-fleet.js';
import { jsonEnvironmentVariable } from './runtime/json-environment.js';
import { logger, tracer } from './runtime/observability.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { toStepError } from './runtime/step-errors.js';
import { triggerDepsFromEnvironment } from './runtime/trigger-deps.js';

const cloudWatch = tracer.captureAWSv3Client(new CloudWatchClient({}));
const dynamoDb = tracer.captureAWSv3Client(new DynamoDBClient({}));

export async function handler(_event: unknown): Promise<FleetPredictionResult> {
  try {
    const settings = jsonEnvironmentVariable(
      process.env,
      PREDICTION_SETTINGS_ENV,
      FleetPredictionSettingsSchema,
      'RejuvenationCoordinator',
    );
    const trigger = triggerDepsFromEnvironment();
    const result = await predictFleet(
      {
        // The whole registry (a Scan); the trigger's own view of it only reads single hosts.
        hosts: createDynamoDbStore(dynamoDb, runtimeConfig().tables).hosts,
        metrics: new CloudWatchAgingMetrics(cloudWatch),
        trigger,
        clock: trigger.clock,
      },
      settings,
    );
    if (result.failed.length > 0) logger.warn('hosts not judged or not started', { failed: result.failed });
    logger.info('fleet predicted', { result: { ...result, failed: result.failed.length } });
    return result;
  } catch (error) {
    logger.error('prediction failed', { error: error as Error });
    throw toStepError(error);
  }
}
