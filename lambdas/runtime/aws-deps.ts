/**
 * Builds the workflow's ports from the deployment's configuration, once per container. Clients use the
 * SDK's own endpoint resolution, so local mode points them elsewhere with AWS_ENDPOINT_URL_* variables
 * and runs exactly this code.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CompositeDrainer } from '../../shared/adapters/drain/composite-drainer.js';
import { CordonDrainer } from '../../shared/adapters/drain/cordon-drainer.js';
import { createDynamoDbStore } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { Elbv2Drainer } from '../../shared/adapters/elbv2/elbv2-drainer.js';
import { SnsNotifier } from '../../shared/adapters/sns/sns-notifier.js';
import { SsmHostAgents } from '../../shared/adapters/ssm/ssm-host-agents.js';
import { SsmHostCommands } from '../../shared/adapters/ssm/ssm-host-commands.js';
import { systemClock } from '../../shared/domain/clock.js';
import type { Drainer } from '../../shared/ports/drainer.js';
import type { WorkflowDeps } from '../../shared/workflow/workflow-deps.js';
import { tracer } from './observability.js';
import { runtimeConfig } from './runtime-config.js';

let cached: WorkflowDeps | undefined;

export function workflowDepsFromEnvironment(): WorkflowDeps {
  if (cached !== undefined) return cached;
  const config = runtimeConfig();
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  const ssm = tracer.captureAWSv3Client(new SSMClient({}));
  const sns = tracer.captureAWSv3Client(new SNSClient({}));
  const store = createDynamoDbStore(dynamo, config.tables, systemClock);
  const drainers: Drainer[] = [new CordonDrainer(store.hosts)];
  if (config.targetGroupArns.length > 0) {
    drainers.push(
      new Elbv2Drainer(
        tracer.captureAWSv3Client(new ElasticLoadBalancingV2Client({})),
        config.targetGroupArns,
      ),
    );
  }
  cached = {
    store,
    commands: new SsmHostCommands(ssm),
    agents: new SsmHostAgents(ssm),
    drainer: new CompositeDrainer(drainers),
    notifier: new SnsNotifier(sns, config.notificationTopicArn),
    clock: systemClock,
    config: config.workflow,
  };
  return cached;
}

/** For local mode and tests, which change the environment between runs. */
export function forgetWorkflowDeps(): void {
  cached = undefined;
}
