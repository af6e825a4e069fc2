/** Ports of the campaign state machine's steps, built once per container from the deployment's configuration. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { createDynamoDbStore } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { SnsNotifier } from '../../shared/adapters/sns/sns-notifier.js';
import type { ApprovalStepDeps } from '../../shared/campaign/campaign-approval.js';
import type { CampaignStepDeps } from '../../shared/campaign/campaign-steps.js';
import { systemClock } from '../../shared/domain/clock.js';
import { tracer } from './observability.js';
import { policyGateFromEnvironment } from './policy-config.js';
import { runtimeConfig } from './runtime-config.js';

let cached: CampaignStepDeps | undefined;

/** `withPolicy`: CampaignPlan judges the policy; CampaignRecord's environment does not carry it. */
export function campaignDepsFromEnvironment(withPolicy = false): CampaignStepDeps {
  if (cached !== undefined) return cached;
  const config = runtimeConfig();
  const store = createDynamoDbStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tables);
  cached = {
    campaigns: store.campaigns,
    idempotency: store.idempotency,
    dedupeTtlSeconds: config.workflow.dedupeTtlSeconds,
    clock: systemClock,
    ...(withPolicy ? { policy: { gate: policyGateFromEnvironment(), hosts: store.hosts } } : {}),
  };
  return cached;
}

let cachedApproval: ApprovalStepDeps | undefined;

/** The approval step's ports: the campaign, its audit chain, and the topic that asks for a decision. */
export function approvalStepDepsFromEnvironment(): ApprovalStepDeps {
  if (cachedApproval !== undefined) return cachedApproval;
  const config = runtimeConfig();
  const store = createDynamoDbStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.tables);
  cachedApproval = {
    campaigns: store.campaigns,
    audit: store.audit,
    notifier: new SnsNotifier(tracer.captureAWSv3Client(new SNSClient({})), config.notificationTopicArn),
    clock: systemClock,
  };
  return cachedApproval;
}
