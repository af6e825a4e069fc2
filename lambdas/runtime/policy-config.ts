/**
 * The fleet policy the construct writes into the environment of the functions that judge it
 * (`REJUV_POLICY`: Admit, CampaignPlan, the operator API), read and validated once per container, and the
 * gate built on it with the CloudWatch alarms as its blockers.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchAlarmStates } from '../../shared/adapters/cloudwatch/cloudwatch-alarm-states.js';
import { PolicyConfigSchema, type PolicyConfig } from '../../shared/policy/policy-config.js';
import type { PolicyGate } from '../../shared/policy/policy-gate.js';
import { jsonEnvironmentVariable } from './json-environment.js';
import { tracer } from './observability.js';

export const POLICY_ENV = 'REJUV_POLICY';

let cachedConfig: PolicyConfig | undefined;
let cachedGate: PolicyGate | undefined;

export function policyConfig(env: NodeJS.ProcessEnv = process.env): PolicyConfig {
  cachedConfig ??= jsonEnvironmentVariable(env, POLICY_ENV, PolicyConfigSchema, 'RejuvenationCoordinator');
  return cachedConfig;
}

export function policyGateFromEnvironment(): PolicyGate {
  cachedGate ??= {
    config: policyConfig(),
    alarms: new CloudWatchAlarmStates(tracer.captureAWSv3Client(new CloudWatchClient({}))),
  };
  return cachedGate;
}

/** For local mode and tests, which change the environment between runs. */
export function forgetPolicyConfig(): void {
  cachedConfig = undefined;
  cachedGate = undefined;
}
