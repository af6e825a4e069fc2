/** Onboards hosts from SSM's inventory on a schedule (shared/onboarding/sync-hosts.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
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
    instances: new SsmManagedInstances(tracer.captureAWSv3Client(new SSMClient({}))),
    clock: systemClock,
  };
  return deps;
}

/** The scheduled event only says "now": it is not read. */
export async function handler(_event: unknown): Promise<HostSyncResult> {
  try {
    const result = await syncHosts(hostSyncDeps());
    if (result.refused.length > 0)
      logger.warn('instances refused for onboarding', { refused: result.refused });
    logger.info('hosts synced', { result });
    return result;
  } catch (error) {
    logger.error('host sync failed', { error: error as Error });
    throw toStepError(error);
  }
}
