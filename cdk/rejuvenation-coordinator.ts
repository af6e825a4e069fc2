/**
 * RejuvenationCoordinator: everything rejuv needs in one account and region: the tables, the host
 * documents, the workflow functions and state machine, the alarm rule, the trigger functions, the
 * operator topic and the dead-letter queue of the trigger events, with least-privilege permissions
 * between them.
 */
import { ArnFormat, CfnElement, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ArnPrincipal, Effect, PolicyStatement, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { fileURLToPath } from 'node:url';
import {
  CAMPAIGN_STEPS,
  SCHEDULED,
  TRIGGERS,
  type CampaignStepId,
  WORKFLOW_STEPS,
  type ScheduledId,
  type TriggerId,
  type WorkflowStepId,
} from '../lambdas/step-catalog.js';
import { OPERATOR_GRANTS_ENV } from '../lambdas/runtime/operator-grants-config.js';
import { HOST_CENSUS_ENV } from '../lambdas/runtime/host-census-config.js';
import { AGING_COLLECTION_ENV } from '../lambdas/runtime/aging-collection-config.js';
import { RUNTIME_CONFIG_ENV } from '../lambdas/runtime/runtime-config.js';
import { POLICY_ENV } from '../lambdas/runtime/policy-config.js';
import { PolicyConfigSchema, type PolicyConfigInput } from '../shared/policy/policy-config.js';
import { CAMPAIGN_APPROVAL_ENV } from '../lambdas/runtime/policy-environment.js';
import { COLLECTION_KEY_PREFIX } from '../shared/adapters/dynamodb/dynamodb-collection-rounds.js';
import { AGING_NAMESPACE } from '../shared/aging/metric-data.js';
import type { AgingResource } from '../shared/aging/aging-resources.js';
import { OperatorGrantsSchema, type OperatorGrant } from '../shared/operator/operator-grants.js';
import { PENDING_BY_QUEUE_INDEX, type TableId } from '../shared/store/table-definitions.js';
import { PENDING_MAX_AGE_ENV } from '../lambdas/runtime/pending-drain-config.js';
import { HOST_DOCUMENTS, type HostDocument } from '../shared/workflow/workflow-config.js';
import type { ReloadLevel } from '../shared/workflow/rejuvenation-request.js';
import { AuditDigests, denyAuditRewrites } from './audit-digests.js';
import { CoordinatorTables } from './coordinator-tables.js';
import { hostDocumentContent } from './host-documents.js';
import { REAPED_STATUSES } from '../shared/workflow/reap-ended-execution.js';
import {
  COLLECTION_ROUND_GRANT,
  PENDING_INDEX_GRANT,
  CLOUDWATCH_READS,
  SSM_READS,
  SSM_TAG_READS,
  TABLE_GRANTS,
  type FunctionId,
  type TableAction,
  type TableGrant,
} from './function-grants.js';
import {
  ALARM_RULE_MAX_EVENT_AGE_MS,
  ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS,
} from '../shared/workflow/alarm-delivery.js';
import { acknowledgeFindings, type Acknowledgement } from './nag.js';
import {
  FleetPredictionSettingsSchema,
  PREDICTION_SETTINGS_ENV,
  type FleetPredictionSettingsInput,
} from '../shared/aging/fleet-prediction-settings.js';
import { DEFAULT_EXHAUSTION_LIMITS, type ExhaustionLimits } from '../shared/aging/predict-fleet.js';
import { DEFAULT_PREDICTION_CONFIG } from '../shared/aging/predictive-decision.js';
import { describeIssues } from '../shared/domain/validation.js';
import {
  AGING_ALARMS_ENV,
  AgingAlarmSettingsSchema,
  DEFAULT_AGING_ALARM_THRESHOLDS,
  type AgingAlarmSettings,
  type AgingAlarmThresholds,
} from '../shared/aging/aging-alarm-settings.js';
import { RejuvFunction } from './rejuv-function.js';
import { buildCampaignWorkflow } from './campaign-workflow.js';
import { buildRejuvenationWorkflow } from './rejuvenation-workflow.js';

export interface PoolSettings {
  /** At most this many hosts of the pool are out of service for rejuvenation at once. */
  readonly maxHostsInMaintenance: number;
}

/** The scheduled predictive trigger (shared/aging/predict-fleet.ts); defaults from `npm run bench:aging`. */
export interface PredictionProps {
  /**
   * Time between two evaluations of the fleet.
   * @default Duration.hours(6)
   */
  readonly interval?: Duration;
  /**
   * A host is started when the conservative projection of a resource reaches its limit within this long.
   * @default Duration.days(14)
   */
  readonly horizon?: Duration;
  /**
   * How much recent history each evaluation reads and judges.
   * @default Duration.days(7)
   */
  readonly window?: Duration;
  /**
   * The period of the points read (GetMetricData's Period, statistic Average): a multiple of a minute, or
   * 1, 5, 10 or 30 seconds with `agingCollection.highResolution` (CloudWatch keeps standard-resolution
   * metrics per minute).
   * @default Duration.hours(2)
   */
  readonly period?: Duration;
  /**
   * Fewer points than this in the window and a series is not judged (at least 10).
   * @default 48
   */
  readonly minPoints?: number;
  /**
   * A QEMU process's first this-long is not judged: its guest is still touching its RAM, a rise that
   * stops by itself.
   * @default Duration.days(3)
   */
  readonly processWarmup?: Duration;
  /**
   * At most one predictive start per host per this long.
   * @default Duration.days(1)
   */
  readonly dedupeWindow?: Duration;
  /**
   * One-sided significance level of the Mann-Kendall test, after the autocorrelation correction.
   * @default 0.001
   */
  readonly alpha?: number;
  /**
   * Where each resource runs out, as shares of the host's MemTotal (fragmentation: the index itself).
   * @default - MemAvailable 2%, SUnreclaim 8%, fragmentation 0.95, a QEMU process's RSS 100%
   */
  readonly limits?: Partial<ExhaustionLimits>;
  /**
   * Reload level of the predicted rejuvenations.
   * @default 'vmm-process'
   */
  readonly level?: ReloadLevel;
  /**
   * The resources judged; the others are still read but never fire. Leave one out where its series is
   * not the host's own (lab hosts sharing one kernel) or where it fires on noise (fragmentation on
   * a busy machine: see the recorded traces of `npm run bench:aging`).
   * @default - all: memAvailable, sUnreclaim, fragmentation, qemuRss
   */
  readonly resources?: readonly AgingResource[];
}

export interface ManagedInstanceTag {
  readonly key: string;
  readonly value: string;
}

/** The fleet-wide aging collection: CollectAging sent by tag on a schedule, published to CloudWatch. */
export interface AgingCollectionSettings {
  /**
   * Whether the schedule runs. The function is deployed either way.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Time between two rounds; each run publishes the previous round and starts the next, so a host's
   * measurement reaches CloudWatch one interval after it was taken. At least 2 minutes (CollectAging runs
   * up to 60 s, and an invocation may wait for its agent until 90 s before the next run).
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;
  /**
   * SSM MaxConcurrency of a round: how many hosts run CollectAging at once, a number or a percentage of
   * the managed instances (SSM ramps up to it: one host, then two more, exponentially).
   * @default '10%'
   */
  readonly maxConcurrency?: string;
  /**
   * SSM MaxErrors of a round: once more invocations than this failed, SSM starts no more (they end
   * Terminated and are refused for the round). A number, or a percentage of the managed instances,
   * rounded down by the local emulation: on a fleet of fewer than 20 hosts '5%' stops at the first error.
   * @default '5%'
   */
  readonly maxErrors?: string;
  /**
   * Publishes the measurements as high-resolution metrics (StorageResolution 1), so the predictor may
   * read them at periods under a minute (`prediction.period`). PutMetricData costs the same; alarms on
   * them at periods under a minute cost more.
   * @default false
   */
  readonly highResolution?: boolean;
}

/**
 * The per-host aging alarms the host sync keeps (`<agingAlarmNamePrefix><hostId>-<resource>`): one per
 * resource, on the host's series, so every managed host has them without anyone writing one.
 */
export interface AgingAlarmsProps {
  /**
   * Whether the host sync keeps the alarms. When false it leaves every alarm as it is.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Thresholds of every pool not listed in `pools`, over the documented defaults.
   * @default - MemAvailable below 10% of MemTotal, SUnreclaim above 6.4% of MemTotal, the order-9 unusable
   * free space index above 0.9, each for 3 of 3 periods of 5 minutes
   */
  readonly defaults?: Partial<AgingAlarmThresholds>;
  /**
   * A pool's own thresholds, by pool id, over `defaults`.
   * @default - every pool uses `defaults`
   */
  readonly pools?: Readonly<Record<string, Partial<AgingAlarmThresholds>>>;
}

/** Alarm and prediction requests that could not run yet (shared/workflow/queue-refused.ts). */
export interface PendingRequestSettings {
  /**
   * A queued request still waiting after this long is dropped, with the reason on the host's audit chain.
   * @default Duration.days(7)
   */
  readonly maxAge?: Duration;
  /**
   * Time between two scheduled passes of the drainer; it also runs whenever a per-host execution ends.
   * @default Duration.minutes(5)
   */
  readonly drainInterval?: Duration;
}

/** Campaign approvals (pools whose policy has `requiresApproval`). */
export interface CampaignApprovalSettings {
  /**
   * How long a campaign waits for its approval; then it ends `rejected` (expired), no host started.
   * At most 29 days (the campaign machine's own timeout is 30).
   * @default Duration.hours(24)
   */
  readonly timeout?: Duration;
  /**
   * Whether the operator who started a campaign may approve it too.
   * @default false - four-eyes: another operator with a grant on every pool of the campaign approves
   */
  readonly allowSelfApproval?: boolean;
}

export interface RejuvenationCoordinatorProps {
  /**
   * Pools with their own maintenance limit, by pool id.
   * @default - no pool has its own limit; every pool uses `defaultMaxHostsInMaintenance`
   */
  readonly pools?: Readonly<Record<string, PoolSettings>>;
  /**
   * Maintenance limit of pools not listed in `pools`.
   * @default 1
   */
  readonly defaultMaxHostsInMaintenance?: number;
  /**
   * CloudWatch alarms whose state change into ALARM starts a rejuvenation: every alarm whose name
   * begins with this prefix.
   * @default 'rejuv-aging-'
   */
  readonly agingAlarmNamePrefix?: string;
  /**
   * The alarm metric dimension whose value names the host to rejuvenate.
   * @default 'HostId'
   */
  readonly hostIdDimension?: string;
  /**
   * Reload level for alarm-triggered runs.
   * @default 'vmm-process'
   */
  readonly alarmReloadLevel?: ReloadLevel;
  /**
   * Topic for operator notifications: quarantines, failures, completions, dead-lettered trigger events.
   * The dead-letter alarm publishes to it, so it must let CloudWatch alarms publish (topic policy and,
   * if encrypted, a key policy granting `cloudwatch.amazonaws.com` kms:Decrypt and kms:GenerateDataKey*).
   * @default - a new topic encrypted with its own KMS key, which CloudWatch alarms may use
   */
  readonly notificationTopic?: ITopic;
  /**
   * Drain strategy: the target groups a host's instance is deregistered from before its VMs are paused.
   * The host is always cordoned in the registry as well.
   * @default - no load balancer; cordon only
   */
  readonly targetGroupArns?: readonly string[];
  /**
   * Only instances carrying this tag may receive rejuv's documents.
   * @default { key: 'rejuv:managed', value: 'true' }
   */
  readonly managedInstanceTag?: ManagedInstanceTag;
  /**
   * How long a host lock and pool slot last; must exceed the longest step.
   * @default Duration.hours(2)
   */
  readonly leaseDuration?: Duration;
  /**
   * Deadlines of the host documents, measured from send to result.
   * @default - Preflight 2 min, WarmReboot 15 min, Verify 5 min, Recover 15 min
   */
  readonly commandTimeouts?: Partial<Readonly<Record<HostDocument, Duration>>>;
  /**
   * How long the host's agent may take to report back after the reload.
   * @default Duration.minutes(10)
   */
  readonly awaitHostTimeout?: Duration;
  /**
   * Pause between two looks at a running host command, a drain, or the agent.
   * @default Duration.seconds(10)
   */
  readonly pollInterval?: Duration;
  /**
   * Refuse table deletion.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the tables when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long function and state machine logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
  /**
   * How long each signed audit digest is locked (S3 Object Lock, COMPLIANCE): nobody can delete it before.
   * @default 2555 (seven years)
   */
  readonly auditDigestRetentionDays?: number;
  /**
   * Time between two scheduled seals of the audit trail (every execution's end seals as well).
   * @default Duration.minutes(15)
   */
  readonly auditSealInterval?: Duration;
  /**
   * Time between two syncs of the host registry with SSM's managed instances (tagged `rejuv:managed=true`
   * and `rejuv:pool=<pool>`): new instances are registered, hosts offline or untagged are marked.
   * @default Duration.minutes(5)
   */
  readonly hostSyncInterval?: Duration;
  /**
   * The fleet-wide aging collection: every interval, CollectAging to every instance with the managed tag
   * under SSM's rate controls, each reply judged against the host the registry names for its instance, the
   * accepted ones published to CloudWatch (namespace `Rejuv/Aging`, dimensions HostId and Pool) and the
   * refusals counted by reason (`CollectorRefusals`).
   * @default - every 5 minutes, MaxConcurrency '10%', MaxErrors '5%'
   */
  readonly agingCollection?: AgingCollectionSettings;
  /**
   * Who may act through the operator API, on which pools: each grant names IAM users or roles (a role
   * covers its assumed-role sessions) and pool ids, or `*` for every pool (needed to sync the registry).
   * Each principal is also allowed to invoke the API's function URL. Anyone else the function URL lets
   * in (an account identity policy allowing lambda:InvokeFunctionUrl) is refused and audited.
   * @default - nobody may act through the operator API
   */
  readonly operators?: readonly OperatorGrant[];
  /**
   * The host sync's per-host aging alarms: after each sync every managed host has its alarms with its
   * pool's thresholds, and those of hosts deregistered or no longer managed are deleted.
   * @default - enabled, with the defaults of AgingAlarmsProps
   */
  readonly agingAlarms?: AgingAlarmsProps;
  /**
   * The scheduled predictive trigger: reads every host's aging series and starts a rejuvenation with
   * trigger `predictive` for each host predicted to run out of a resource within the horizon.
   * @default - every 6 hours, the defaults of PredictionProps
   */
  readonly prediction?: PredictionProps;
  /**
   * Passes (plan, then run or wait) one campaign execution runs before it continues as a new execution,
   * keeping each under Step Functions' 25,000-event history quota: a pass of 40 hosts writes about 530
   * events. Between 1 and 40.
   * @default 25
   */
  readonly campaignPassesPerExecution?: number;
  /**
   * Alarm and prediction requests refused because their pool stayed full or the policy gate said not now
   * are queued, one entry per host, and run by the pending drainer when the pool has room.
   * @default - dropped after 7 days; the drainer runs every 5 minutes and at every execution end
   */
  readonly pendingRequests?: PendingRequestSettings;
  /**
   * The policy gate (shared/policy): per pool, maintenance windows in a time zone, blackouts, a cooldown
   * per host, blocker alarm patterns (an alarm in ALARM matching one holds the pool), whether a campaign
   * needs an approval; and `breakGlassPrincipals`, the IAM users or roles who may start a host outside
   * its windows and despite its blockers with `breakGlassReason` (audited as break-glass). Admit judges
   * every trigger's start with it; CampaignPlan judges each host before starting it. Validated at synth,
   * and again by each function when it starts. Its JSON must stay within 2 KB: Lambda holds 4 KB of
   * environment per function, and the policy travels in `REJUV_POLICY`.
   * @example { pools: { web: { windows: [{ days: ['sat', 'sun'], start: '01:00', end: '05:00', timeZone: 'Europe/Berlin' }], cooldownMinutes: 1440, blockerAlarmPatterns: ['web-5xx-*'] } }, breakGlassPrincipals: ['arn:aws:iam::123456789012:role/OnCall'] }
   * @default - no gate: every start the pool limits let through is allowed
   */
  readonly policy?: PolicyConfigInput;
  /**
   * How campaigns over pools that require approval wait for it.
   * @default - 24 hours, four-eyes
   */
  readonly campaignApproval?: CampaignApprovalSettings;
}

const DEFAULT_COMMAND_TIMEOUTS: Readonly<Record<HostDocument, Duration>> = {
  Preflight: Duration.minutes(2),
  WarmReboot: Duration.minutes(15),
  Verify: Duration.minutes(5),
  Recover: Duration.minutes(15),
};

/** The Census document's deadline, from send to result; it reads /proc and QEMU's argv, in seconds. */
const CENSUS_TIMEOUT = Duration.minutes(2);

/** Who may send which host documents: the workflow all of them, the operator API the checks of a release. */
const SENDS_DOCUMENTS: Readonly<Partial<Record<FunctionId, readonly HostDocument[]>>> = {
  HostCommandStart: HOST_DOCUMENTS,
  OperatorApi: ['Preflight', 'Verify'],
};
const DRAINS: ReadonlySet<WorkflowStepId> = new Set(['DrainStart', 'DrainCheck', 'Undrain', 'Compensate']);
const NOTIFIES: ReadonlySet<FunctionId> = new Set(['Release', 'Refuse', 'Reap', 'CampaignAwaitApproval']);

const LAMBDAS_DIR = fileURLToPath(new URL('../lambdas/', import.meta.url));

export class RejuvenationCoordinator extends Construct {
  readonly tables: CoordinatorTables;
  readonly stateMachine: StateMachine;
  /** Campaigns: runs the per-host state machine as a child execution for each host of one or more pools. */
  readonly campaignStateMachine: StateMachine;
  readonly notificationTopic: ITopic;
  readonly documents: Readonly<Record<HostDocument, CfnDocument>>;
  /**
   * The read-only CollectAging document (host aging measurements for CloudWatch). Not part of the
   * workflow: the AgingCollector function sends it to the fleet on its schedule (`agingCollection`).
   */
  readonly collectAgingDocument: CfnDocument;
  /**
   * The read-only (unless asked to adopt) Census document: every VM process on a host, and inventory
   * entries written for the adoptable ones. Not part of the workflow: the operator API sends it for
   * `rejuv hosts inventory`.
   */
  readonly censusDocument: CfnDocument;
  readonly functions: Readonly<Record<FunctionId, IFunction>>;
  /** Trigger events EventBridge could not deliver, and trigger invocations Lambda gave up on. */
  readonly deadLetterQueue: Queue;
  /** In ALARM while the dead-letter queue holds a message; notifies the notification topic. */
  readonly deadLetterAlarm: Alarm;
  /** The signing key, the Object Lock bucket and the sealer of the audit digests. */
  readonly auditDigests: AuditDigests;
  /** The operator API's endpoint: AWS authenticates callers with SigV4 (AuthType AWS_IAM). */
  readonly operatorApiUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: RejuvenationCoordinatorProps = {}) {
    super(scope, id);
    const settings = validate(props);
    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;

    this.tables = new CoordinatorTables(this, 'Tables', {
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const ownTopic = props.notificationTopic === undefined ? this.createNotificationTopic() : undefined;
    this.notificationTopic = props.notificationTopic ?? (ownTopic as Topic);

    const documents = {} as Record<HostDocument, CfnDocument>;
    for (const document of HOST_DOCUMENTS) {
      documents[document] = new CfnDocument(this, `${document}Document`, {
        documentType: 'Command',
        documentFormat: 'JSON',
        content: hostDocumentContent(document),
        updateMethod: 'NewVersion',
      });
    }
    this.documents = documents;
    this.collectAgingDocument = new CfnDocument(this, 'CollectAgingDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: hostDocumentContent('CollectAging'),
      updateMethod: 'NewVersion',
    });
    this.censusDocument = new CfnDocument(this, 'CensusDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: hostDocumentContent('Census'),
      updateMethod: 'NewVersion',
    });

    const stack = Stack.of(this);
    const configFor = (stateMachineArn?: string, campaignStateMachineArn?: string): string =>
      stack.toJsonString({
        tables: Object.fromEntries(Object.entries(this.tables.tables).map(([k, t]) => [k, t.tableName])),
        workflow: {
          leaseDurationMs: settings.leaseDuration.toMilliseconds(),
          defaultPoolLimit: settings.defaultMaxHostsInMaintenance,
          poolLimits: Object.fromEntries(
            Object.entries(props.pools ?? {}).map(([p, s]) => [p, s.maxHostsInMaintenance]),
          ),
          documents: Object.fromEntries(HOST_DOCUMENTS.map((d) => [d, documents[d].ref])),
          commandTimeoutSeconds: Object.fromEntries(
            HOST_DOCUMENTS.map((d) => [d, settings.commandTimeouts[d].toSeconds()]),
          ),
          awaitHostTimeoutSeconds: settings.awaitHostTimeout.toSeconds(),
        },
        notificationTopicArn: this.notificationTopic.topicArn,
        targetGroupArns: props.targetGroupArns ?? [],
        ...(stateMachineArn === undefined ? {} : { stateMachineArn }),
        ...(campaignStateMachineArn === undefined ? {} : { campaignStateMachineArn }),
      });

    const functions = {} as Record<FunctionId, RejuvFunction>;
    const workflowConfig = configFor();
    const policyEnvironment = { [POLICY_ENV]: settings.policyJson };
    for (const [stepId, module] of Object.entries(WORKFLOW_STEPS) as [WorkflowStepId, string][]) {
      functions[stepId] = new RejuvFunction(this, `${stepId}Function`, {
        entry: `${LAMBDAS_DIR}${module}.ts`,
        description: `rejuv workflow step ${stepId}`,
        environment: {
          [RUNTIME_CONFIG_ENV]: workflowConfig,
          ...(stepId === 'Admit' ? policyEnvironment : {}),
        },
        logRetention,
      });
    }

    const stateMachineLogs = new LogGroup(this, 'StateMachineLogs', { retention: logRetention });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        buildRejuvenationWorkflow(this, functions, {
          pollInterval: settings.pollInterval,
          poolSlotRetryInterval: Duration.seconds(30),
          poolSlotMaxAttempts: 20,
        }),
      ),
      tracingEnabled: true,
      logs: { destination: stateMachineLogs, level: LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.hours(24),
    });

    for (const [stepId, module] of Object.entries(CAMPAIGN_STEPS) as [CampaignStepId, string][]) {
      functions[stepId] = new RejuvFunction(this, `${stepId}Function`, {
        entry: `${LAMBDAS_DIR}${module}.ts`,
        description: `rejuv campaign step ${stepId}`,
        environment: {
          [RUNTIME_CONFIG_ENV]: workflowConfig,
          ...(stepId === 'CampaignPlan' ? policyEnvironment : {}),
        },
        logRetention,
      });
    }
    // A campaign continues as new by starting its own machine, which it must name: a Ref to itself in its
    // own definition and role would be a cycle. The name is derived from the construct path, as CDK
    // generates physical names, so two coordinators never share one.
    const campaignStateMachineName =
      Names.uniqueResourceName(this, { maxLength: 70, separator: '-' }) + '-campaign';
    this.campaignStateMachine = new StateMachine(this, 'CampaignStateMachine', {
      stateMachineName: campaignStateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        buildCampaignWorkflow(this, functions, this.stateMachine, {
          replanInterval: settings.pollInterval,
          passesPerExecution: settings.campaignPassesPerExecution,
          self: StateMachine.fromStateMachineName(
            this,
            'CampaignStateMachineByName',
            campaignStateMachineName,
          ),
          approvalTimeout: settings.approvalTimeout,
        }),
      ),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'CampaignStateMachineLogs', { retention: logRetention }),
        level: LogLevel.ALL,
        includeExecutionData: true,
      },
      // A campaign over a fleet takes as long as the fleet needs: Standard executions last up to a year.
      timeout: Duration.days(30),
    });

    const triggerConfig = configFor(
      this.stateMachine.stateMachineArn,
      this.campaignStateMachine.stateMachineArn,
    );
    for (const [triggerId, module] of Object.entries(TRIGGERS) as [TriggerId, string][]) {
      functions[triggerId] = new RejuvFunction(this, `${triggerId}Function`, {
        entry: `${LAMBDAS_DIR}${module}.ts`,
        description: `rejuv trigger ${triggerId}`,
        environment: {
          [RUNTIME_CONFIG_ENV]: triggerConfig,
          REJUV_ALARM_HOST_DIMENSION: settings.hostIdDimension,
          REJUV_ALARM_NAME_PREFIX: settings.agingAlarmNamePrefix,
          REJUV_ALARM_RELOAD_LEVEL: settings.alarmReloadLevel,
          ...(triggerId === 'OperatorApi'
            ? {
                [OPERATOR_GRANTS_ENV]: JSON.stringify(settings.operators),
                [HOST_CENSUS_ENV]: stack.toJsonString({
                  documentName: this.censusDocument.ref,
                  timeoutSeconds: CENSUS_TIMEOUT.toSeconds(),
                }),
                [CAMPAIGN_APPROVAL_ENV]: JSON.stringify({ allowSelfApproval: settings.allowSelfApproval }),
                ...policyEnvironment,
              }
            : {}),
          ...(triggerId === 'AgingPredictor'
            ? { [PREDICTION_SETTINGS_ENV]: JSON.stringify(settings.prediction) }
            : {}),
        },
        // A release runs Preflight and then Verify to their deadlines before it answers.
        ...(triggerId === 'OperatorApi' ? { timeout: settings.operatorApiTimeout } : {}),
        logRetention,
      });
      this.stateMachine.grantStartExecution(functions[triggerId]);
    }
    const agingCollection = stack.toJsonString({
      documentName: this.collectAgingDocument.ref,
      managedTag: settings.managedInstanceTag,
      maxConcurrency: settings.agingCollection.maxConcurrency,
      maxErrors: settings.agingCollection.maxErrors,
      deliveryTimeoutSeconds: settings.agingCollection.deliveryTimeout.toSeconds(),
      namespace: AGING_NAMESPACE,
      storageResolutionSeconds: settings.agingCollection.highResolution ? 1 : 60,
    });
    for (const [scheduledId, module] of Object.entries(SCHEDULED) as [ScheduledId, string][]) {
      functions[scheduledId] = new RejuvFunction(this, `${scheduledId}Function`, {
        entry: `${LAMBDAS_DIR}${module}.ts`,
        description: `rejuv scheduled ${scheduledId}`,
        environment: {
          // The drainer starts executions as the triggers do, so it is told the state machine.
          [RUNTIME_CONFIG_ENV]: scheduledId === 'PendingDrain' ? triggerConfig : workflowConfig,
          ...(scheduledId === 'AgingCollector' ? { [AGING_COLLECTION_ENV]: agingCollection } : {}),
          ...(scheduledId === 'HostSync' && settings.agingAlarms !== undefined
            ? { [AGING_ALARMS_ENV]: JSON.stringify(settings.agingAlarms) }
            : {}),
          ...(scheduledId === 'PendingDrain'
            ? { [PENDING_MAX_AGE_ENV]: String(settings.pendingRequests.maxAge.toSeconds()) }
            : {}),
        },
        // A round's outputs are read one host at a time: a large fleet takes a while.
        ...(scheduledId === 'AgingCollector' ? { timeout: Duration.minutes(5) } : {}),
        logRetention,
      });
    }
    if (settings.agingCollection.enabled) {
      new Rule(this, 'AgingCollectionSchedule', {
        description: 'Publishes the previous aging collection round and starts the next',
        schedule: Schedule.rate(settings.agingCollection.interval),
        targets: [new LambdaFunction(functions.AgingCollector)],
      });
    }
    new Rule(this, 'HostSyncSchedule', {
      description: 'Syncs the host registry with the managed instances SSM reports',
      schedule: Schedule.rate(props.hostSyncInterval ?? Duration.minutes(5)),
      targets: [new LambdaFunction(functions.HostSync)],
    });
    this.stateMachine.grantStartExecution(functions.PendingDrain);
    new Rule(this, 'PendingDrainSchedule', {
      description: 'Runs queued alarm and prediction requests whose pool has room',
      schedule: Schedule.rate(settings.pendingRequests.drainInterval),
      targets: [new LambdaFunction(functions.PendingDrain)],
    });
    new Rule(this, 'PendingDrainOnExecutionEnd', {
      description: 'An ended execution may have freed a pool slot: run the queued requests that fit',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [new LambdaFunction(functions.PendingDrain)],
    });
    new Rule(this, 'AgingPredictionSchedule', {
      description: "Judges every host's aging series and starts the hosts predicted to run out",
      schedule: Schedule.rate(props.prediction?.interval ?? Duration.hours(6)),
      targets: [new LambdaFunction(functions.AgingPredictor)],
    });
    this.campaignStateMachine.grantStartExecution(functions.OperatorApi);
    // Approve, reject and cancel answer the approval step's task token. The Service Authorization Reference
    // lists no resource type for these actions (IAM requires "*"); the token itself names the one task.
    functions.OperatorApi.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        resources: ['*'],
      }),
    );
    this.functions = functions;
    this.operatorApiUrl = this.exposeOperatorApi(functions.OperatorApi, settings.operators);

    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      // SQS-managed keys: EventBridge cannot send to a queue encrypted with the AWS managed SQS KMS key.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deliverTriggerEvents(functions, settings.agingAlarmNamePrefix);
    this.deadLetterAlarm = this.alarmOnDeadLetters(ownTopic);

    this.grantTables(functions);
    if (settings.agingAlarms !== undefined)
      this.grantAgingAlarms(functions.HostSync, settings.agingAlarms.prefix);
    this.grantHostAccess(functions, settings.managedInstanceTag, props.targetGroupArns ?? []);
    for (const fnId of NOTIFIES) this.notificationTopic.grantPublish(functions[fnId]);
    this.acknowledgeWildcards(functions);
    this.acknowledgeCampaignWildcards(functions);

    // Tamper evidence of the audit trail: signed, write-once digests, and no function may rewrite a record.
    this.auditDigests = new AuditDigests(this, 'AuditDigests', {
      auditTable: this.tables.tables.audit,
      stateMachine: this.stateMachine,
      logRetention,
      ...(props.auditDigestRetentionDays === undefined
        ? {}
        : { retentionDays: props.auditDigestRetentionDays }),
      ...(props.auditSealInterval === undefined ? {} : { sealInterval: props.auditSealInterval }),
    });
    denyAuditRewrites(this.tables.tables.audit, [
      ...(Object.keys(WORKFLOW_STEPS) as WorkflowStepId[]).map((id) => functions[id]),
      functions.OperatorApi,
      functions.PendingDrain,
      this.auditDigests.sealer,
    ]);
  }

  /**
   * The function URL AWS authenticates (SigV4, AuthType AWS_IAM), invocable by the granted principals;
   * what each may do is decided per pool inside, where refusals are audited.
   */
  private exposeOperatorApi(fn: RejuvFunction, operators: readonly OperatorGrant[]): FunctionUrl {
    const url = fn.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    const principals = [...new Set(operators.flatMap((g) => g.principals))];
    for (const arn of principals) fn.grantInvokeUrl(new ArnPrincipal(arn));
    return url;
  }

  /**
   * The topic encrypted with a key of its own: CloudWatch alarms cannot publish to a topic encrypted
   * with the AWS managed SNS key, whose key policy nobody can extend.
   */
  private createNotificationTopic(): Topic {
    const key = new Key(this, 'NotificationsKey', {
      description: 'rejuv notifications topic: lets the functions and the dead-letter alarm publish',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    return new Topic(this, 'Notifications', { enforceSSL: true, masterKey: key });
  }

  /**
   * A lost alarm event is a missed rejuvenation and a lost execution-status event leaves a host
   * orphaned, so both paths keep what they cannot deliver: EventBridge retries the invoke and then
   * dead-letters the event; Lambda, which takes the event asynchronously, retries a failing handler
   * and then sends the invocation record (event and error) to the same queue.
   */
  private deliverTriggerEvents(functions: Record<FunctionId, RejuvFunction>, prefix: string): void {
    // The alarm trigger refuses state changes older than these two queues can hold (alarm-delivery.ts).
    const delivery = {
      retryAttempts: 8,
      maxEventAge: Duration.millis(ALARM_RULE_MAX_EVENT_AGE_MS),
      deadLetterQueue: this.deadLetterQueue,
    };
    new Rule(this, 'AgingAlarmRule', {
      description: 'CloudWatch aging alarms entering ALARM start a rejuvenation',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix }], state: { value: ['ALARM'] } },
      },
      targets: [new LambdaFunction(functions.AlarmTrigger, delivery)],
    });
    new Rule(this, 'ExecutionEndedRule', {
      description: 'Executions that end without their own cleanup (stopped, timed out, failed) are reaped',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...REAPED_STATUSES], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new LambdaFunction(functions.Reap, delivery)],
    });
    // Both handlers are idempotent (a dedupe key per alarm change; reaping an already reaped host
    // changes nothing), so Lambda's retries are safe.
    for (const fn of [functions.AlarmTrigger, functions.Reap]) {
      fn.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: Duration.millis(ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS),
        onFailure: new SqsDestination(this.deadLetterQueue),
      });
    }
  }

  /** A dead-lettered event must reach a person: the queue's depth alarms on the notification topic. */
  private alarmOnDeadLetters(ownTopic: Topic | undefined): Alarm {
    const alarm = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription:
        'rejuv: a trigger event was dead-lettered (an aging alarm that started no rejuvenation, or an ended execution whose host was not reaped). Read the messages in the dead-letter queue.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.notificationTopic));
    // The topic policy that enforces TLS replaces SNS's default policy, so the alarm is let in by name.
    ownTopic?.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [ownTopic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': alarm.alarmArn } },
      }),
    );
    acknowledgeFindings(this.deadLetterQueue, [
      {
        finding: 'AwsSolutions-SQS3',
        reason:
          'it is the dead-letter queue of the trigger rules and functions; nothing reads it but an operator',
      },
    ]);
    return alarm;
  }

  /** Every wildcard that remains, and why it cannot be narrowed. */
  private acknowledgeWildcards(functions: Record<FunctionId, RejuvFunction>): void {
    const stack = Stack.of(this);
    const logicalId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    for (const [fnId, fn] of Object.entries(functions) as [FunctionId, RejuvFunction][]) {
      const acknowledgements: Acknowledgement[] = [
        {
          finding: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'X-Ray PutTraceSegments/PutTelemetryRecords, the SSM command and instance reads, ELB DescribeTargetHealth, CloudWatch PutMetricData (limited by its namespace condition) and Step Functions SendTaskSuccess/Failure/Heartbeat (the operator API answering a campaign approval token) support no resource-level permissions',
        },
      ];
      if (NOTIFIES.has(fnId) && this.notificationTopic instanceof Topic) {
        acknowledgements.push({
          finding: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
          reason:
            'publishing to the encrypted notification topic needs a data key; granted on that topic key only',
        });
      }
      if (SENDS_DOCUMENTS[fnId] !== undefined || fnId === 'AgingCollector') {
        // cdk-nag writes unresolved pseudo parameters as <AWS::Region>, resolved ones as themselves.
        const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
        const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
        for (const [service, resource] of [
          ['ssm', 'managed-instance/*'],
          ['ec2', 'instance/*'],
        ] as const) {
          acknowledgements.push({
            finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:${service}:${nagRegion}:${nagAccount}:${resource}]`,
            reason:
              'hosts are not known at deploy time; SendCommand to them is limited by the condition on the managed-instance tag',
          });
        }
      }
      if (SSM_TAG_READS.includes(fnId) && SENDS_DOCUMENTS[fnId] === undefined) {
        const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
        const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
        acknowledgements.push({
          finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${nagRegion}:${nagAccount}:managed-instance/*]`,
          reason: 'the sync discovers hosts: it reads the tags of managed instances not known at deploy time',
        });
      }
      acknowledgeFindings(fn.role as IRole, acknowledgements);
    }
    acknowledgeFindings(this.stateMachine, [
      {
        finding: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray and CloudWatch Logs delivery need Resource *',
      },
      ...Object.values(functions).map((fn) => ({
        finding: `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        reason: 'invokes any version of its own step functions',
      })),
    ]);
  }

  /** The wildcards of the campaign machine's role, which CDK writes for `.sync` and the Lambda invokes. */
  private acknowledgeCampaignWildcards(functions: Record<FunctionId, RejuvFunction>): void {
    const stack = Stack.of(this);
    const logicalId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    // cdk-nag writes unresolved pseudo parameters as <AWS::Region>, resolved ones as themselves.
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    acknowledgeFindings(this.campaignStateMachine, [
      {
        finding: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray and CloudWatch Logs delivery need Resource *',
      },
      ...(Object.keys(CAMPAIGN_STEPS) as CampaignStepId[]).map((id) => ({
        finding: `AwsSolutions-IAM5[Resource::<${logicalId(functions[id])}.Arn>:*]`,
        reason: 'invokes any version of its own step functions',
      })),
      {
        finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(this.stateMachine)}"}]}]}*]`,
        reason:
          'a .sync start describes and stops the child executions it starts, whose names it makes per host',
      },
    ]);
  }

  /**
   * The host sync writes only alarms under the prefix; DescribeAlarms cannot be limited to names. No alarm
   * actions: CloudWatch sends every alarm's state changes to EventBridge, where AgingAlarmRule takes them.
   */
  private grantAgingAlarms(fn: RejuvFunction, prefix: string): void {
    const stack = Stack.of(this);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
        resources: [
          stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: `${prefix}*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    fn.addToRolePolicy(new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }));
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    acknowledgeFindings(fn.role as IRole, [
      {
        finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:${nagRegion}:${nagAccount}:alarm:${prefix}*]`,
        reason:
          'hosts come and go at run time: the sync puts and deletes their alarms, all under the aging alarm prefix',
      },
    ]);
  }

  /** Exactly the table actions each function's store operations make (function-grants.ts). */
  private grantTables(functions: Record<FunctionId, RejuvFunction>): void {
    functions.AgingCollector.addToRolePolicy(
      new PolicyStatement({
        actions: COLLECTION_ROUND_GRANT.map((a) => `dynamodb:${a}`),
        resources: [this.tables.tables.idempotency.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${COLLECTION_KEY_PREFIX}*`] },
        },
      }),
    );
    functions.AgingCollector.addToRolePolicy(
      new PolicyStatement({
        // PutMetricData has no resource-level permissions; the namespace condition is what limits it.
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': AGING_NAMESPACE } },
      }),
    );
    for (const fnId of PENDING_INDEX_GRANT) {
      functions[fnId].addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${this.tables.tables.pending.tableArn}/index/${PENDING_BY_QUEUE_INDEX}`],
        }),
      );
    }
    for (const [fnId, grant] of Object.entries(TABLE_GRANTS) as [FunctionId, TableGrant][]) {
      for (const [tableId, actions] of Object.entries(grant) as [TableId, readonly TableAction[]][]) {
        functions[fnId].addToRolePolicy(
          new PolicyStatement({
            actions: actions.map((a) => `dynamodb:${a}`),
            resources: [this.tables.tables[tableId].tableArn],
          }),
        );
      }
    }
  }

  private grantHostAccess(
    functions: Record<FunctionId, RejuvFunction>,
    tag: ManagedInstanceTag,
    targetGroupArns: readonly string[],
  ): void {
    const stack = Stack.of(this);
    const documentArn = (d: HostDocument): string =>
      stack.formatArn({ service: 'ssm', resource: 'document', resourceName: this.documents[d].ref });
    for (const [fnId, sent] of Object.entries(SENDS_DOCUMENTS) as [FunctionId, readonly HostDocument[]][]) {
      functions[fnId].addToRolePolicy(
        new PolicyStatement({ actions: ['ssm:SendCommand'], resources: sent.map((d) => documentArn(d)) }),
      );
      functions[fnId].addToRolePolicy(
        new PolicyStatement({
          actions: ['ssm:SendCommand'],
          resources: [
            stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }),
            stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
          ],
          conditions: { StringEquals: { [`ssm:resourceTag/${tag.key}`]: tag.value } },
        }),
      );
    }
    // The operator API sends Census for `rejuv hosts inventory` (to the instances its checks may reach).
    functions.OperatorApi.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          stack.formatArn({ service: 'ssm', resource: 'document', resourceName: this.censusDocument.ref }),
        ],
      }),
    );
    // The collector sends CollectAging, and only it, to the managed instances.
    functions.AgingCollector.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          stack.formatArn({
            service: 'ssm',
            resource: 'document',
            resourceName: this.collectAgingDocument.ref,
          }),
        ],
      }),
    );
    functions.AgingCollector.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }),
          stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
        ],
        conditions: { StringEquals: { [`ssm:resourceTag/${tag.key}`]: tag.value } },
      }),
    );
    for (const [fnId, actions] of Object.entries(SSM_READS) as [FunctionId, readonly string[]][]) {
      // These SSM actions support no resource-level permissions.
      functions[fnId].addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: ['*'] }));
    }
    for (const [fnId, actions] of Object.entries(CLOUDWATCH_READS) as [FunctionId, readonly string[]][])
      functions[fnId].addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: ['*'] }));
    for (const fnId of SSM_TAG_READS) {
      functions[fnId].addToRolePolicy(
        new PolicyStatement({
          actions: ['ssm:ListTagsForResource'],
          resources: [stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' })],
        }),
      );
    }
    if (targetGroupArns.length > 0) {
      for (const fnId of DRAINS) {
        functions[fnId].addToRolePolicy(
          new PolicyStatement({
            // Drain records where the host was in a tag on the target group, so undrain can put it back there.
            actions: [
              'elasticloadbalancing:RegisterTargets',
              'elasticloadbalancing:DeregisterTargets',
              'elasticloadbalancing:AddTags',
              'elasticloadbalancing:RemoveTags',
            ],
            resources: [...targetGroupArns],
          }),
        );
        functions[fnId].addToRolePolicy(
          new PolicyStatement({
            effect: Effect.ALLOW,
            actions: ['elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeTags'],
            resources: ['*'],
          }),
        );
      }
    }
  }
}

interface Settings {
  readonly defaultMaxHostsInMaintenance: number;
  readonly agingAlarmNamePrefix: string;
  readonly hostIdDimension: string;
  readonly alarmReloadLevel: ReloadLevel;
  readonly managedInstanceTag: ManagedInstanceTag;
  readonly leaseDuration: Duration;
  readonly commandTimeouts: Readonly<Record<HostDocument, Duration>>;
  readonly awaitHostTimeout: Duration;
  readonly pollInterval: Duration;
  readonly campaignPassesPerExecution: number;
  readonly operators: readonly OperatorGrant[];
  readonly operatorApiTimeout: Duration;
  readonly agingCollection: {
    readonly enabled: boolean;
    readonly interval: Duration;
    readonly maxConcurrency: string;
    readonly maxErrors: string;
    readonly deliveryTimeout: Duration;
    readonly highResolution: boolean;
  };
  readonly prediction: FleetPredictionSettingsInput;
  /** Undefined when the host sync keeps no alarms. */
  readonly agingAlarms: AgingAlarmSettings | undefined;
  readonly pendingRequests: { readonly maxAge: Duration; readonly drainInterval: Duration };
  readonly approvalTimeout: Duration;
  readonly allowSelfApproval: boolean;
  /** The policy as its functions read it (`REJUV_POLICY`): the prop's own JSON, checked. */
  readonly policyJson: string;
}

/** What is left of Lambda's 4 KB of environment per function once the configuration is there. */
const MAX_POLICY_JSON_BYTES = 2048;

function validatePolicy(policy: PolicyConfigInput | undefined): string {
  const parsed = PolicyConfigSchema.safeParse(policy ?? { pools: {} });
  if (!parsed.success) throw new Error(`policy: ${describeIssues(parsed.error).join('; ')}`);
  const json = JSON.stringify(policy ?? { pools: {} });
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_POLICY_JSON_BYTES)
    throw new Error(
      `policy: its JSON is ${bytes} bytes, over the ${MAX_POLICY_JSON_BYTES} a function's environment has room for (Lambda allows 4 KB per function)`,
    );
  return json;
}

const MAX_CONCURRENCY_PATTERN = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
const MAX_ERRORS_PATTERN = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;
/** CollectAging's own execution timeout and some slack: what an invocation needs after delivery. */
const COLLECT_RUN_ALLOWANCE_SECONDS = 90;

function validateAgingCollection(props: AgingCollectionSettings = {}): Settings['agingCollection'] {
  const interval = props.interval ?? Duration.minutes(5);
  if (interval.toSeconds() < 120 || interval.toSeconds() > 24 * 3600)
    throw new Error(`agingCollection.interval must be 2 min to 24 h, got ${interval.toSeconds()} s`);
  const maxConcurrency = props.maxConcurrency ?? '10%';
  if (!MAX_CONCURRENCY_PATTERN.test(maxConcurrency))
    throw new Error(
      `agingCollection.maxConcurrency must be a number from 1 or a percentage from 1% to 100%, got ${JSON.stringify(maxConcurrency)}`,
    );
  const maxErrors = props.maxErrors ?? '5%';
  if (!MAX_ERRORS_PATTERN.test(maxErrors))
    throw new Error(
      `agingCollection.maxErrors must be a number from 0 or a percentage from 0% to 100%, got ${JSON.stringify(maxErrors)}`,
    );
  return {
    enabled: props.enabled ?? true,
    highResolution: props.highResolution ?? false,
    interval,
    maxConcurrency,
    maxErrors,
    // A round must have ended when the next run reads it: delivery gives up before the run allowance.
    deliveryTimeout: Duration.seconds(Math.max(30, interval.toSeconds() - COLLECT_RUN_ALLOWANCE_SECONDS)),
  };
}

/** The host sync's alarm settings as its function reads them, checked now rather than at its first sync. */
function validateAgingAlarms(
  props: AgingAlarmsProps = {},
  prefix: string,
  hostIdDimension: string,
): AgingAlarmSettings | undefined {
  if (props.enabled === false) return undefined;
  // The alarms' metrics carry the collector's HostId dimension: the trigger must look there for the host.
  if (hostIdDimension !== 'HostId')
    throw new Error(
      `agingAlarms: the alarms read the collector's metrics, whose host dimension is HostId; hostIdDimension is ${JSON.stringify(hostIdDimension)} (set agingAlarms.enabled to false to keep your own alarms)`,
    );
  const parsed = AgingAlarmSettingsSchema.safeParse({
    prefix,
    namespace: AGING_NAMESPACE,
    defaults: { ...DEFAULT_AGING_ALARM_THRESHOLDS, ...props.defaults },
    pools: props.pools ?? {},
  });
  if (!parsed.success) throw new Error(`agingAlarms: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

/** The predictor's settings as its function reads them, checked now rather than at its first run. */
function validatePrediction(p: PredictionProps, highResolution: boolean): FleetPredictionSettingsInput {
  const ms = (d: Duration | undefined, fallback: number) => (d === undefined ? fallback : d.toMilliseconds());
  const windowMs = ms(p.window, DEFAULT_PREDICTION_CONFIG.windowMs);
  const periodSeconds = p.period === undefined ? 7200 : p.period.toSeconds();
  if (periodSeconds < 60 && !highResolution)
    throw new Error(
      `prediction.period under a minute (${periodSeconds} s) needs agingCollection.highResolution: CloudWatch keeps standard-resolution metrics per minute`,
    );
  const settings = {
    config: {
      ...DEFAULT_PREDICTION_CONFIG,
      horizonMs: ms(p.horizon, DEFAULT_PREDICTION_CONFIG.horizonMs),
      windowMs,
      dedupeWindowMs: ms(p.dedupeWindow, DEFAULT_PREDICTION_CONFIG.dedupeWindowMs),
      alpha: p.alpha ?? DEFAULT_PREDICTION_CONFIG.alpha,
      minPoints: p.minPoints ?? DEFAULT_PREDICTION_CONFIG.minPoints,
      processWarmupMs: ms(p.processWarmup, DEFAULT_PREDICTION_CONFIG.processWarmupMs),
      // A shorter window than the default needs a proportionally shorter span to be judged at all: the
      // points of a window span less than the window itself, so a span as long as it is never reached.
      minSpanMs: Math.min(
        DEFAULT_PREDICTION_CONFIG.minSpanMs,
        Math.round((windowMs * DEFAULT_PREDICTION_CONFIG.minSpanMs) / DEFAULT_PREDICTION_CONFIG.windowMs),
      ),
    },
    periodSeconds,
    limits: { ...DEFAULT_EXHAUSTION_LIMITS, ...p.limits },
    level: p.level ?? 'vmm-process',
    ...(p.resources === undefined ? {} : { resources: [...p.resources] }),
  };
  const parsed = FleetPredictionSettingsSchema.safeParse(settings);
  if (!parsed.success) throw new Error(`prediction: ${describeIssues(parsed.error).join('; ')}`);
  const interval = p.interval ?? Duration.hours(6);
  if (interval.toSeconds() < 300 || interval.toMilliseconds() > settings.config.dedupeWindowMs)
    throw new Error(
      `prediction.interval must be 5 min to the dedupe window (${settings.config.dedupeWindowMs / 60_000} min), got ${interval.toSeconds() / 60} min`,
    );
  return settings;
}

/** Props are checked at synth time, with the offending value in the message. */
function validate(props: RejuvenationCoordinatorProps): Settings {
  const limit = (what: string, n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > 100)
      throw new Error(`${what} must be an integer from 1 to 100, got ${n}`);
    return n;
  };
  for (const [pool, s] of Object.entries(props.pools ?? {})) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(pool))
      throw new Error(`pool id ${JSON.stringify(pool)} is not a valid pool id`);
    limit(`pools.${pool}.maxHostsInMaintenance`, s.maxHostsInMaintenance);
  }
  const prefix = props.agingAlarmNamePrefix ?? 'rejuv-aging-';
  if (prefix.length < 1 || prefix.length > 200)
    throw new Error(`agingAlarmNamePrefix must be 1-200 characters, got ${JSON.stringify(prefix)}`);
  const commandTimeouts = { ...DEFAULT_COMMAND_TIMEOUTS, ...props.commandTimeouts };
  const leaseDuration = props.leaseDuration ?? Duration.hours(2);
  const longest = Math.max(...Object.values(commandTimeouts).map((d) => d.toSeconds()));
  if (leaseDuration.toSeconds() <= longest) {
    throw new Error(
      `leaseDuration (${leaseDuration.toSeconds()} s) must exceed the longest command timeout (${longest} s)`,
    );
  }
  for (const [doc, d] of Object.entries(commandTimeouts)) {
    if (d.toSeconds() < 5 || d.toSeconds() > 7200)
      throw new Error(`commandTimeouts.${doc} must be 5 s to 2 h, got ${d.toSeconds()} s`);
  }
  const operators = OperatorGrantsSchema.safeParse(props.operators ?? []);
  if (!operators.success)
    throw new Error(
      `operators: ${operators.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  // A release waits for Preflight and Verify in one invocation, which Lambda ends after 15 minutes.
  const releaseChecks = commandTimeouts.Preflight.toSeconds() + commandTimeouts.Verify.toSeconds();
  if (releaseChecks > 14 * 60)
    throw new Error(
      `commandTimeouts.Preflight + commandTimeouts.Verify must be at most 14 min (a release runs both within one Lambda invocation), got ${releaseChecks} s`,
    );
  const approvalTimeout = props.campaignApproval?.timeout ?? Duration.hours(24);
  if (approvalTimeout.toSeconds() < 60 || approvalTimeout.toSeconds() > 29 * 24 * 3600)
    throw new Error(
      `campaignApproval.timeout must be 1 min to 29 days (the campaign machine times out after 30), got ${approvalTimeout.toSeconds()} s`,
    );
  const maxAge = props.pendingRequests?.maxAge ?? Duration.days(7);
  if (maxAge.toSeconds() < 60 || maxAge.toSeconds() > 90 * 24 * 3600)
    throw new Error(`pendingRequests.maxAge must be 1 min to 90 days, got ${maxAge.toSeconds()} s`);
  const drainInterval = props.pendingRequests?.drainInterval ?? Duration.minutes(5);
  if (drainInterval.toSeconds() < 60 || drainInterval.toSeconds() > 24 * 3600)
    throw new Error(
      `pendingRequests.drainInterval must be 1 min to 24 h, got ${drainInterval.toSeconds()} s`,
    );
  const hostIdDimension = props.hostIdDimension ?? 'HostId';
  return {
    agingAlarms: validateAgingAlarms(props.agingAlarms, prefix, hostIdDimension),
    pendingRequests: { maxAge, drainInterval },
    approvalTimeout,
    allowSelfApproval: props.campaignApproval?.allowSelfApproval ?? false,
    agingCollection: validateAgingCollection(props.agingCollection),
    prediction: validatePrediction(props.prediction ?? {}, props.agingCollection?.highResolution ?? false),
    policyJson: validatePolicy(props.policy),
    operators: operators.data,
    operatorApiTimeout: Duration.seconds(releaseChecks + 60),
    defaultMaxHostsInMaintenance: limit(
      'defaultMaxHostsInMaintenance',
      props.defaultMaxHostsInMaintenance ?? 1,
    ),
    agingAlarmNamePrefix: prefix,
    hostIdDimension,
    alarmReloadLevel: props.alarmReloadLevel ?? 'vmm-process',
    managedInstanceTag: props.managedInstanceTag ?? { key: 'rejuv:managed', value: 'true' },
    leaseDuration,
    commandTimeouts,
    awaitHostTimeout: props.awaitHostTimeout ?? Duration.minutes(10),
    pollInterval: props.pollInterval ?? Duration.seconds(10),
    campaignPassesPerExecution: campaignPasses(props.campaignPassesPerExecution ?? 25),
  };
}

function campaignPasses(passes: number): number {
  if (!Token.isUnresolved(passes) && (!Number.isInteger(passes) || passes < 1 || passes > 40))
    throw new Error(`campaignPassesPerExecution must be an integer from 1 to 40, got ${passes}`);
  return passes;
}
