/**
 * The operator API's ports and use cases, built once per container from the deployment's configuration:
 * the triggers' start, the host sync, and the host administration use cases (shared/operator).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createDynamoDbStore } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { SsmManagedInstances } from '../../shared/adapters/ssm/ssm-managed-instances.js';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/sfn-execution-starter.js';
import { SfnTaskCallbacks } from '../../shared/adapters/sfn/sfn-task-callbacks.js';
import { decideCampaignApproval } from '../../shared/campaign/campaign-approval.js';
import {
  campaignPools,
  campaignHostsOf,
  campaignStatus,
  moveCampaign,
  startCampaign,
  type CampaignOperationDeps,
} from '../../shared/campaign/campaign-operations.js';
import { systemClock } from '../../shared/domain/clock.js';
import { SsmHostCommands } from '../../shared/adapters/ssm/ssm-host-commands.js';
import { parseWith } from '../../shared/domain/validation.js';
import { syncHosts } from '../../shared/onboarding/sync-hosts.js';
import { deregisterHost } from '../../shared/operator/deregister-host.js';
import { OperatorConfigSchema, type OperatorUseCaseDeps } from '../../shared/operator/operator-deps.js';
import { registerHost } from '../../shared/operator/register-host.js';
import { releaseHost } from '../../shared/operator/release-host.js';
import { hostInventory } from '../../shared/operator/host-inventory.js';
import type { OperatorApiDeps } from '../../shared/operator/operator-api.js';
import { startFromOperator } from '../../shared/workflow/start-rejuvenation.js';
import { tracer } from './observability.js';
import { hostCensusConfig } from './host-census-config.js';
import { operatorGrantsConfig } from './operator-grants-config.js';
import { policyConfig } from './policy-config.js';
import { campaignApprovalSettings } from './policy-environment.js';
import { runtimeConfig } from './runtime-config.js';
import { triggerDepsFromEnvironment } from './trigger-deps.js';

let cached: OperatorApiDeps | undefined;

export function operatorApiDepsFromEnvironment(): OperatorApiDeps {
  if (cached !== undefined) return cached;
  const config = runtimeConfig();
  // The start is the triggers' own: the same claim, the same execution name, the same ports.
  const triggerDeps = triggerDepsFromEnvironment();
  const store = createDynamoDbStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tables);
  const ssm = tracer.captureAWSv3Client(new SSMClient({}));
  const instances = new SsmManagedInstances(ssm, tracer.captureAWSv3Client(new EC2Client({})));
  const useCaseDeps: OperatorUseCaseDeps = {
    hosts: store.hosts,
    audit: store.audit,
    hostLock: store.hostLock,
    hostCommands: new SsmHostCommands(ssm),
    clock: systemClock,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    config: parseWith(OperatorConfigSchema, 'operator configuration', {
      leaseDurationMs: config.workflow.leaseDurationMs,
      documents: config.workflow.documents,
      commandTimeoutSeconds: config.workflow.commandTimeoutSeconds,
      census: hostCensusConfig(),
    }),
  };
  const campaignArn = config.campaignStateMachineArn;
  const sfn = tracer.captureAWSv3Client(new SFNClient({}));
  const taskCallbacks = new SfnTaskCallbacks(sfn);
  const campaignDeps: CampaignOperationDeps | undefined =
    campaignArn === undefined
      ? undefined
      : {
          campaigns: store.campaigns,
          hosts: store.hosts,
          audit: store.audit,
          campaignExecutions: new SfnExecutionStarter(sfn, campaignArn),
          clock: systemClock,
          policy: policyConfig(),
          taskCallbacks,
        };
  cached = {
    grants: operatorGrantsConfig(),
    breakGlassPrincipals: policyConfig().breakGlassPrincipals,
    ...(campaignDeps === undefined
      ? {}
      : {
          campaigns: {
            poolsOf: async (action, input) =>
              action === 'campaign-start'
                ? [...new Set((await campaignHostsOf(campaignDeps, input)).map((h) => h.pool))]
                : campaignPools(campaignDeps, input),
            run: (action, principal, input) => {
              switch (action) {
                case 'campaign-start':
                  return startCampaign(campaignDeps, principal, input);
                case 'campaign-status':
                  return campaignStatus(campaignDeps, input);
                case 'campaign-pause':
                  return moveCampaign(campaignDeps, principal, 'pause', input);
                case 'campaign-resume':
                  return moveCampaign(campaignDeps, principal, 'resume', input);
                case 'campaign-cancel':
                  return moveCampaign(campaignDeps, principal, 'cancel', input);
                case 'campaign-approve':
                case 'campaign-reject':
                  return decideCampaignApproval(
                    { ...campaignDeps, taskCallbacks, ...campaignApprovalSettings() },
                    principal,
                    action === 'campaign-approve' ? 'approve' : 'reject',
                    input,
                  );
              }
            },
          },
        }),
    hosts: store.hosts,
    audit: store.audit,
    clock: systemClock,
    actions: {
      start: (principal, input) => startFromOperator(triggerDeps, { ...input, principal }),
      sync: (principal) =>
        syncHosts({ hosts: store.hosts, audit: store.audit, instances, clock: systemClock, principal }),
      register: (principal, input) => registerHost(useCaseDeps, principal, input),
      deregister: (principal, input) => deregisterHost(useCaseDeps, principal, input),
      release: (principal, input) => releaseHost(useCaseDeps, principal, input),
      inventory: (principal, input) => hostInventory(useCaseDeps, principal, input),
    },
  };
  return cached;
}
