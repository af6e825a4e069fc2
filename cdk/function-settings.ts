/**
 * Every function of the coordinator in one table: its description, its module, the runtime configuration
 * it reads, its own environment, its timeout and memory, and what it is granted beyond its table actions
 * (function-grants.ts): the host documents it sends, the load balancers it drains, the topic it notifies,
 * the workflow it starts. The coordinator builds each function from its row; nothing picks a setting by
 * comparing construct ids.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import {
  CAMPAIGN_STEPS,
  SCHEDULED,
  TRIGGERS,
  WORKFLOW_STEPS,
  type CampaignStepId,
  type ScheduledId,
  type TriggerId,
  type WorkflowStepId,
} from '../lambdas/step-catalog.js';
import { OPERATOR_GRANTS_ENV } from '../lambdas/runtime/operator-grants-config.js';
import { HOST_CENSUS_ENV } from '../lambdas/runtime/host-census-config.js';
import { AGING_COLLECTION_ENV } from '../lambdas/runtime/aging-collection-config.js';
import { RUNTIME_CONFIG_ENV } from '../lambdas/runtime/runtime-config.js';
import { POLICY_ENV } from '../lambdas/runtime/policy-config.js';
import { packedJson } from './limits/packed-json.js';
import { CAMPAIGN_APPROVAL_ENV } from '../lambdas/runtime/policy-environment.js';
import { PENDING_MAX_AGE_ENV } from '../lambdas/runtime/pending-drain-config.js';
import { AGING_NAMESPACE } from '../shared/aging/metric-data.js';
import { PREDICTION_SETTINGS_ENV } from '../shared/aging/fleet-prediction-settings.js';
import { AGING_ALARMS_ENV } from '../shared/aging/aging-alarm-settings.js';
import { HOST_DOCUMENTS, type HostDocument } from '../shared/workflow/workflow-config.js';
import type { CoordinatorSettings } from './coordinator-settings.js';
import type { FunctionId } from './function-grants.js';
import { RejuvFunction } from './rejuv-function.js';

/** The Census document's deadline, from send to result (it reads /proc and QEMU's argv). */
const CENSUS_TIMEOUT = Duration.minutes(2);

/** What a function's environment is made of, besides its row. */
export interface FunctionEnvironmentInputs {
  readonly stack: Stack;
  readonly settings: CoordinatorSettings;
  /** The name of the CollectAging document (a Ref). */
  readonly collectAgingDocumentName: string;
  /** The name of the Census document (a Ref). */
  readonly censusDocumentName: string;
  /** The operator grants as JSON: the `operators` prop and those of `grantOperate`, resolved at synth. */
  readonly operatorGrantsJson: string;
}

export interface FunctionSetting {
  /** Its description, as deployed (local mode and the tests find functions by it). */
  readonly description: string;
  /** The module under lambdas/ that exports its `handler`. */
  readonly module: string;
  /**
   * The runtime configuration it reads (`REJUV_CONFIG`): `starts` adds the ARNs of the state machines, for
   * the functions that start executions; `workflow` cannot name them (a workflow step naming its own
   * machine would be a cycle).
   */
  readonly runtimeConfig: 'workflow' | 'starts';
  /**
   * Its own environment variables, after `REJUV_CONFIG`.
   * @default - none
   */
  readonly environment?: (inputs: FunctionEnvironmentInputs) => Record<string, string>;
  /**
   * @default Duration.seconds(60)
   */
  readonly timeout?: (settings: CoordinatorSettings) => Duration;
  /**
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * The host documents it may send, to the instances carrying the managed tag.
   * @default - none
   */
  readonly sendsDocuments?: readonly HostDocument[];
  /**
   * Whether it may deregister and register the host in the target groups (`targetGroupArns`).
   * @default false
   */
  readonly drains?: boolean;
  /**
   * Whether it may publish to the notification topic.
   * @default false
   */
  readonly notifies?: boolean;
  /**
   * Whether it may start executions of the per-host state machine.
   * @default false
   */
  readonly startsRejuvenations?: boolean;
}

/** Admit, CampaignPlan and the operator API judge starts with the policy gate. */
// Packed: the policy and the grants grow with the props, and Lambda holds 4 KB of environment.
const policy = ({ settings }: FunctionEnvironmentInputs) => ({
  [POLICY_ENV]: packedJson(JSON.parse(settings.policyJson)),
});

/** The alarm trigger's settings, which every trigger is given. */
const triggerEnvironment = ({ settings }: FunctionEnvironmentInputs) => ({
  REJUV_ALARM_HOST_DIMENSION: settings.hostIdDimension,
  REJUV_ALARM_NAME_PREFIX: settings.agingAlarmNamePrefix,
  REJUV_ALARM_RELOAD_LEVEL: settings.alarmReloadLevel,
});

/** A row of one catalog (lambdas/step-catalog.ts): its description names the kind, its module the handler. */
const rowOf =
  <Id extends string>(kind: string, catalog: Readonly<Record<Id, string>>) =>
  (id: Id, row: Partial<FunctionSetting> = {}): FunctionSetting => ({
    description: `rejuv ${kind} ${id}`,
    module: catalog[id],
    runtimeConfig: 'workflow',
    ...row,
  });
const workflowStep = rowOf<WorkflowStepId>('workflow step', WORKFLOW_STEPS);
const campaignStep = rowOf<CampaignStepId>('campaign step', CAMPAIGN_STEPS);
const scheduled = rowOf<ScheduledId>('scheduled', SCHEDULED);
/** Triggers start executions, and every one is given the alarm trigger's settings. */
const trigger = (id: TriggerId, row: Partial<FunctionSetting> = {}): FunctionSetting =>
  rowOf<TriggerId>('trigger', TRIGGERS)(id, {
    runtimeConfig: 'starts',
    startsRejuvenations: true,
    ...row,
    environment: (inputs) => ({ ...triggerEnvironment(inputs), ...row.environment?.(inputs) }),
  });

export const FUNCTION_SETTINGS: Readonly<Record<FunctionId, FunctionSetting>> = {
  Admit: workflowStep('Admit', { environment: policy }),
  Advance: workflowStep('Advance'),
  HostCommandStart: workflowStep('HostCommandStart', { sendsDocuments: HOST_DOCUMENTS }),
  HostCommandPoll: workflowStep('HostCommandPoll'),
  DrainStart: workflowStep('DrainStart', { drains: true }),
  DrainCheck: workflowStep('DrainCheck', { drains: true }),
  Undrain: workflowStep('Undrain', { drains: true }),
  AwaitHost: workflowStep('AwaitHost'),
  Compensate: workflowStep('Compensate', { drains: true }),
  Quarantine: workflowStep('Quarantine'),
  Release: workflowStep('Release', { notifies: true }),
  Refuse: workflowStep('Refuse', { notifies: true }),
  DryRunReport: workflowStep('DryRunReport'),
  Reap: workflowStep('Reap', { notifies: true }),
  CampaignPlan: campaignStep('CampaignPlan', { environment: policy }),
  CampaignRecord: campaignStep('CampaignRecord'),
  CampaignAwaitApproval: campaignStep('CampaignAwaitApproval', { notifies: true }),
  AlarmTrigger: trigger('AlarmTrigger'),
  OperatorApi: trigger('OperatorApi', {
    environment: (inputs) => ({
      [OPERATOR_GRANTS_ENV]: inputs.operatorGrantsJson,
      [HOST_CENSUS_ENV]: inputs.stack.toJsonString({
        documentName: inputs.censusDocumentName,
        timeoutSeconds: CENSUS_TIMEOUT.toSeconds(),
      }),
      [CAMPAIGN_APPROVAL_ENV]: JSON.stringify({ allowSelfApproval: inputs.settings.allowSelfApproval }),
      ...policy(inputs),
    }),
    // A release runs Preflight and then Verify to their deadlines before it answers.
    timeout: (settings) => settings.operatorApiTimeout,
    sendsDocuments: ['Preflight', 'Verify'],
  }),
  AgingPredictor: trigger('AgingPredictor', {
    environment: ({ settings }) => ({ [PREDICTION_SETTINGS_ENV]: JSON.stringify(settings.prediction) }),
  }),
  HostSync: scheduled('HostSync', {
    environment: ({ settings }): Record<string, string> =>
      settings.agingAlarms === undefined ? {} : { [AGING_ALARMS_ENV]: JSON.stringify(settings.agingAlarms) },
  }),
  AgingCollector: scheduled('AgingCollector', {
    environment: ({ stack, settings, collectAgingDocumentName }) => ({
      [AGING_COLLECTION_ENV]: stack.toJsonString({
        documentName: collectAgingDocumentName,
        managedTag: settings.managedInstanceTag,
        maxConcurrency: settings.agingCollection.maxConcurrency,
        maxErrors: settings.agingCollection.maxErrors,
        deliveryTimeoutSeconds: settings.agingCollection.deliveryTimeout.toSeconds(),
        namespace: AGING_NAMESPACE,
        storageResolutionSeconds: settings.agingCollection.highResolution ? 1 : 60,
      }),
    }),
    // A round's outputs are read one host at a time: a large fleet takes a while.
    timeout: () => Duration.minutes(5),
  }),
  // The drainer starts executions as the triggers do, so it is told the state machine.
  PendingDrain: scheduled('PendingDrain', {
    runtimeConfig: 'starts',
    startsRejuvenations: true,
    environment: ({ settings }) => ({
      [PENDING_MAX_AGE_ENV]: String(settings.pendingRequests.maxAge.toSeconds()),
    }),
  }),
};

/** The functions of each kind, in the table's order. */
export function functionIdsWhere(predicate: (setting: FunctionSetting) => boolean): FunctionId[] {
  return (Object.keys(FUNCTION_SETTINGS) as FunctionId[]).filter((id) => predicate(FUNCTION_SETTINGS[id]));
}

const LAMBDAS_DIR = fileURLToPath(new URL('../lambdas/', import.meta.url));

/** One function built from its row, with the construct id `<FunctionId>Function`. */
export function newCoordinatorFunction(
  scope: Construct,
  id: FunctionId,
  props: {
    readonly runtimeConfig: string;
    readonly inputs: FunctionEnvironmentInputs;
    readonly logRetention: RetentionDays;
  },
): RejuvFunction {
  const row = FUNCTION_SETTINGS[id];
  return new RejuvFunction(scope, `${id}Function`, {
    entry: `${LAMBDAS_DIR}${row.module}.ts`,
    description: row.description,
    environment: { [RUNTIME_CONFIG_ENV]: props.runtimeConfig, ...row.environment?.(props.inputs) },
    ...(row.timeout === undefined ? {} : { timeout: row.timeout(props.inputs.settings) }),
    ...(row.memorySize === undefined ? {} : { memorySize: row.memorySize }),
    logRetention: props.logRetention,
  });
}
