/** Onboards hosts from SSM's inventory on a schedule (shared/onboarding/sync-hosts.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchAgingAlarms } from '../shared/adapters/cloudwatch/cloudwatch-aging-alarms.js';
import { AGING_ALARMS_ENV, AgingAlarmSettingsSchema } from '../shared/aging/aging-alarm-settings.js';
import { jsonEnvironmentVariable } from './runtime/json-environment.js';
import { createDynamoDbStore } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { SsmManagedInstances } from '../shared/adapters/ssm/ssm-managed-instances.js';
import { systemClock } from '../shared/domain/clock.js';
import { syncHosts, type HostSyncDeps, type HostSyncResult } from '../shared/onboarding/sync-hosts.js';
import { logger, tracer } from './runtime/observability.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { toStepError } from './runtime/step-errors.js';

let deps: HostSyncDeps | undefined;

function hostSyncDeps(): HostSyncDeps {
  if (deps !== undefined) return deps;
  const store = createDynamoDbStore(
    tracer.captureAWSv3Client(new DynamoDBClient({})),
    runtimeConfig().tables,
  );
  deps = {
    hosts: store.hosts,
    audit: store.audit,
    instances: new SsmManagedInstances(
      tracer.captureAWSv3Client(new SSMClient({})),
      tracer.captureAWSv3Client(new EC2Client({})),
    ),
    clock: systemClock,
    // Absent when the construct's agingAlarms are disabled: the sync leaves alarms alone.
    ...(process.env[AGING_ALARMS_ENV] === undefined
      ? {}
      : {
          agingAlarms: {
            alarms: new CloudWatchAgingAlarms(tracer.captureAWSv3Client(new CloudWatchClient({}))),
            settings: jsonEnvironmentVariable(
              process.env,
              AGING_ALARMS_ENV,
              AgingAlarmSettingsSchema,
              'RejuvenationCoordinator',
            ),
          },
        }),
  };
  return deps;
}

/** The scheduled event only says "now": it is not read. */
export async function handler(_event: unknown): Promise<HostSyncResult> {
  try {
    const result = await syncHosts(hostSyncDeps());
    if (result.refused.length > 0)
      logger.warn('instances refused for onboarding', { refused: result.refused });
    if ((result.alarms?.failed.length ?? 0) > 0)
      logger.error('aging alarms not kept for some hosts', { failed: result.alarms?.failed });
    if ((result.alarms?.foreign.length ?? 0) > 0)
      logger.warn('alarms under the aging prefix the sync did not make (left alone)', {
        foreign: result.alarms?.foreign,
      });
    logger.info('hosts synced', { result });
    return result;
  } catch (error) {
    logger.error('host sync failed', { error: error as Error });
    throw toStepError(error);
  }
}
