/**
 * RejuvenationCoordinator: everything rejuv needs in one account and region, made of parts: the tables,
 * the host documents, the per-host workflow and the campaigns, the operator API, trigger delivery, the
 * aging pipeline, the maintenance functions, the notifications and the audit digests, with
 * least-privilege permissions between them (function-access.ts) and `grant*` methods for its users.
 */
import { Duration, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { AccountRootPrincipal, ArnPrincipal, Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { FunctionUrl, IFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  CAMPAIGN_STEPS,
  WORKFLOW_STEPS,
  type CampaignStepId,
  type WorkflowStepId,
} from '../lambdas/step-catalog.js';
import type { PolicyConfigInput } from '../shared/policy/policy-config.js';
import type { AgingResource } from '../shared/aging/aging-resources.js';
import { ANY_POOL, OperatorGrantSchema, type OperatorGrant } from '../shared/operator/operator-grants.js';
import { PoolIdSchema } from '../shared/domain/identifiers.js';
import { HOST_DOCUMENTS, type HostDocument } from '../shared/workflow/workflow-config.js';
import type { ReloadLevel } from '../shared/workflow/rejuvenation-request.js';
import type { ExhaustionLimits } from '../shared/aging/predict-fleet.js';
import type { AgingAlarmThresholds } from '../shared/aging/aging-alarm-settings.js';
import { AgingPipeline } from './aging-pipeline.js';
import { AuditDigests, denyAuditRewrites } from './audit-digests.js';
import { Campaigns } from './campaigns.js';
import { coordinatorSettings, type CoordinatorSettings } from './coordinator-settings.js';
import { CoordinatorTables } from './coordinator-tables.js';
import { grantFunctionAccess } from './function-access.js';
import type { FunctionId } from './function-grants.js';
import {
  FUNCTION_SETTINGS,
  newCoordinatorFunction,
  type FunctionEnvironmentInputs,
} from './function-settings.js';
import { HostDocuments } from './host-documents.js';
import { MaintenanceFunctions } from './maintenance-functions.js';
import {
  checkFunctionEnvironments,
  COORDINATOR_ENVIRONMENT_SETTINGS,
} from './limits/function-environment.js';
import { packedJson } from './limits/packed-json.js';
import { Notifications } from './notifications.js';
import { OperatorApi } from './operator-api.js';
import { PerHostWorkflow } from './per-host-workflow.js';
import { invalidProp } from './prop-validation.js';
import type { RejuvFunction } from './rejuv-function.js';
import { TriggerDelivery } from './trigger-delivery.js';

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
  /** The Census document, which the operator API sends for `rejuv hosts inventory` (see HostDocuments). */
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
  /** The prefix of the per-host aging alarms the host sync puts and deletes; undefined when it keeps none. */
  readonly keptAgingAlarmNamePrefix: string | undefined;
  private readonly operatorApi: OperatorApi;
  /** The `operators` prop, then every `grantOperate`: the operator API reads them all, resolved at synth. */
  private readonly operatorGrants: OperatorGrant[];

  constructor(scope: Construct, id: string, props: RejuvenationCoordinatorProps = {}) {
    super(scope, id);
    const settings = coordinatorSettings(this, props);
    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;
    this.keptAgingAlarmNamePrefix = settings.agingAlarms?.prefix;

    this.tables = new CoordinatorTables(this, 'Tables', {
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const notifications = new Notifications(this, 'OperatorNotifications', {
      ...(props.notificationTopic === undefined ? {} : { topic: props.notificationTopic }),
    });
    this.notificationTopic = notifications.topic;
    const hostDocuments = new HostDocuments(this, 'HostDocuments', {
      managedInstanceTag: settings.managedInstanceTag,
    });
    this.documents = hostDocuments.documents;
    this.collectAgingDocument = hostDocuments.collectAging;
    this.censusDocument = hostDocuments.census;

    // Functions are built from their rows (function-settings.ts), each kind once the state machines it
    // names exist: the workflow steps, then the campaign steps, then those that start executions.
    const functions = {} as Record<FunctionId, RejuvFunction>;
    const runtimeConfig = this.runtimeConfigs(settings);
    this.operatorGrants = [...settings.operators];
    const inputs: FunctionEnvironmentInputs = {
      stack: Stack.of(this),
      settings,
      collectAgingDocumentName: this.collectAgingDocument.ref,
      censusDocumentName: this.censusDocument.ref,
      // Built at synth, so grants added by grantOperate after construction count; packed to fit Lambda's
      // 4 KB of environment, unless a grant names a principal CloudFormation resolves (a token cannot be
      // packed at synth: the functions read plain JSON too).
      operatorGrantsJson: Lazy.string({
        produce: () =>
          Token.isUnresolved(JSON.stringify(this.operatorGrants))
            ? Stack.of(this).toJsonString(this.operatorGrants)
            : packedJson(this.operatorGrants),
      }),
    };
    const build = (ids: readonly FunctionId[]) => {
      for (const fnId of ids) {
        functions[fnId] = newCoordinatorFunction(this, fnId, {
          runtimeConfig:
            FUNCTION_SETTINGS[fnId].runtimeConfig === 'starts'
              ? runtimeConfig.starts()
              : runtimeConfig.workflow,
          inputs,
          logRetention,
        });
        if (FUNCTION_SETTINGS[fnId].startsRejuvenations === true)
          this.stateMachine.grantStartExecution(functions[fnId]);
      }
    };

    build(Object.keys(WORKFLOW_STEPS) as WorkflowStepId[]);
    this.stateMachine = new PerHostWorkflow(this, 'Workflow', {
      steps: functions,
      pollInterval: settings.pollInterval,
      logRetention,
    }).stateMachine;
    build(Object.keys(CAMPAIGN_STEPS) as CampaignStepId[]);
    this.campaignStateMachine = new Campaigns(this, 'Campaigns', {
      steps: functions,
      hostWorkflow: this.stateMachine,
      replanInterval: settings.pollInterval,
      passesPerExecution: settings.campaignPassesPerExecution,
      approvalTimeout: settings.approvalTimeout,
      logRetention,
    }).stateMachine;
    build(['AlarmTrigger', 'OperatorApi', 'AgingPredictor', 'HostSync', 'AgingCollector', 'PendingDrain']);
    this.functions = functions;

    new AgingPipeline(this, 'AgingPipeline', {
      collector: functions.AgingCollector,
      predictor: functions.AgingPredictor,
      collectionEnabled: settings.agingCollection.enabled,
      collectionInterval: settings.agingCollection.interval,
      predictionInterval: settings.predictionInterval,
    });
    new MaintenanceFunctions(this, 'Maintenance', {
      hostSync: functions.HostSync,
      pendingDrain: functions.PendingDrain,
      hostSyncInterval: settings.hostSyncInterval,
      drainInterval: settings.pendingRequests.drainInterval,
      stateMachine: this.stateMachine,
    });
    this.operatorApi = new OperatorApi(this, 'OperatorApi', {
      handler: functions.OperatorApi,
      operators: settings.operators,
      campaignStateMachine: this.campaignStateMachine,
    });
    this.operatorApiUrl = this.operatorApi.url;
    const delivery = new TriggerDelivery(this, 'TriggerDelivery', {
      alarmTrigger: functions.AlarmTrigger,
      reap: functions.Reap,
      stateMachine: this.stateMachine,
      agingAlarmNamePrefix: settings.agingAlarmNamePrefix,
      notifications,
    });
    this.deadLetterQueue = delivery.deadLetterQueue;
    this.deadLetterAlarm = delivery.deadLetterAlarm;

    grantFunctionAccess({
      functions,
      tables: this.tables,
      documents: hostDocuments,
      notificationTopic: this.notificationTopic,
      targetGroupArns: settings.targetGroupArns,
      agingAlarmNamePrefix: this.keptAgingAlarmNamePrefix,
    });

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
    checkFunctionEnvironments(
      this,
      [...Object.values(functions), this.auditDigests.sealer],
      COORDINATOR_ENVIRONMENT_SETTINGS,
    );
    denyAuditRewrites(this.tables.tables.audit, [
      ...(Object.keys(WORKFLOW_STEPS) as WorkflowStepId[]).map((id) => functions[id]),
      functions.OperatorApi,
      functions.PendingDrain,
      this.auditDigests.sealer,
    ]);
  }

  /**
   * Lets `grantee` act through the operator API (`rejuv` in AWS mode: start, release, register, deregister,
   * campaigns) on one pool, or on every pool, which also syncs the registry: an operator grant for its IAM
   * user or role, which the API checks every caller against, and the permission to call the function URL.
   * The same as listing it in `operators`; grants add up.
   *
   * @param grantee an IAM user or role (a role covers every session assumed from it)
   * @param pool a pool id, or `'*'` for every pool
   * @default pool '*'
   */
  grantOperate(grantee: IGrantable, pool: string = ANY_POOL): Grant {
    if (!Token.isUnresolved(pool) && pool !== ANY_POOL && !PoolIdSchema.safeParse(pool).success)
      throw invalidProp(
        this,
        'InvalidOperatorPool',
        `grantOperate: pool ${JSON.stringify(pool)} is not a pool id or '*'`,
      );
    const arn = iamArnOf(grantee);
    if (arn === undefined)
      throw invalidProp(
        this,
        'OperatorNotAnIamPrincipal',
        `grantOperate: ${grantee.grantPrincipal.toString()} is not an IAM user or role; the operator API knows callers by their IAM ARN`,
      );
    const principals = [arn];
    const grant = { principals, pools: [pool] };
    // A token (a role of this app) is known at deploy time only; a literal ARN is checked as the API will.
    const parsed = OperatorGrantSchema.safeParse(grant);
    if (!parsed.success && !Token.isUnresolved(arn) && !Token.isUnresolved(pool))
      throw invalidProp(
        this,
        'InvalidOperatorGrant',
        `grantOperate: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    if (this.operatorGrants.length >= 100)
      throw invalidProp(this, 'TooManyOperatorGrants', 'grantOperate: at most 100 operator grants');
    this.operatorGrants.push(grant);
    return this.operatorApi.grantInvoke(grantee);
  }

  /**
   * Lets `grantee` read what `rejuv` shows (hosts, executions, campaigns, the audit trail): every table's
   * items (dynamodb:GetItem, Query, Scan...), both state machines' executions and their histories, and the
   * stack's outputs, where the CLI finds them (cloudformation:DescribeStacks).
   */
  grantRead(grantee: IGrantable): Grant {
    return Object.values(this.tables.tables)
      .map((table) => table.grantReadData(grantee))
      .reduce((all, grant) => all.combine(grant))
      .combine(this.stateMachine.grantRead(grantee))
      .combine(this.campaignStateMachine.grantRead(grantee))
      .combine(this.grantDescribeStack(grantee));
  }

  /**
   * Lets `grantee` verify the audit trail (`rejuv audit verify`, `audit export --bundle`): read the audit
   * table, list and read every digest version in the Object Lock bucket, get the signing key's public half
   * (or verify with it), and read the stack's outputs that name them.
   */
  grantVerifyAudit(grantee: IGrantable): Grant {
    return this.tables.tables.audit
      .grantReadData(grantee)
      .combine(this.auditDigests.grantVerify(grantee))
      .combine(this.grantDescribeStack(grantee));
  }

  /** The CLI finds the tables, machines, bucket, key and URL in the stack's outputs. */
  private grantDescribeStack(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['cloudformation:DescribeStacks'],
      resourceArns: [Stack.of(this).stackId],
    });
  }

  /**
   * The runtime configuration the functions read (`REJUV_CONFIG`): the tables, the workflow's settings and
   * documents, the topic, the target groups; for the functions that start executions, also the state
   * machines, which exist only once their own steps do.
   */
  private runtimeConfigs(settings: CoordinatorSettings): { workflow: string; starts: () => string } {
    const stack = Stack.of(this);
    const configFor = (stateMachineArn?: string, campaignStateMachineArn?: string): string =>
      stack.toJsonString({
        tables: Object.fromEntries(Object.entries(this.tables.tables).map(([k, t]) => [k, t.tableName])),
        workflow: {
          leaseDurationMs: settings.leaseDuration.toMilliseconds(),
          defaultPoolLimit: settings.defaultMaxHostsInMaintenance,
          poolLimits: settings.poolLimits,
          documents: Object.fromEntries(HOST_DOCUMENTS.map((d) => [d, this.documents[d].ref])),
          commandTimeoutSeconds: Object.fromEntries(
            HOST_DOCUMENTS.map((d) => [d, settings.commandTimeouts[d].toSeconds()]),
          ),
          awaitHostTimeoutSeconds: settings.awaitHostTimeout.toSeconds(),
        },
        notificationTopicArn: this.notificationTopic.topicArn,
        targetGroupArns: settings.targetGroupArns,
        ...(stateMachineArn === undefined ? {} : { stateMachineArn }),
        ...(campaignStateMachineArn === undefined ? {} : { campaignStateMachineArn }),
      });
    let starts: string | undefined;
    return {
      workflow: configFor(),
      starts: () =>
        (starts ??= configFor(this.stateMachine.stateMachineArn, this.campaignStateMachine.stateMachineArn)),
    };
  }
}

/** The ARN of an IAM role or user, or of a principal given by its ARN: what the operator API matches callers on. */
function iamArnOf(grantee: IGrantable): string | undefined {
  const principal = grantee.grantPrincipal;
  if ('roleArn' in principal && typeof principal.roleArn === 'string') return principal.roleArn;
  if ('userArn' in principal && typeof principal.userArn === 'string') return principal.userArn;
  // An account's root is an ArnPrincipal too, but no caller the function URL reports is one.
  if (principal instanceof AccountRootPrincipal) return undefined;
  return principal instanceof ArnPrincipal ? principal.arn : undefined;
}
