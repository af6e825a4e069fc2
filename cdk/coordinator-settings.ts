/**
 * The coordinator's props as its parts and functions read them: defaults applied, every value checked at
 * synth time with the offending value in the message (aws-cdk's ValidationError, scoped to the
 * coordinator), so a bad setting fails `cdk synth` rather than a function's first run.
 */
import { Duration, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { PolicyConfigSchema, type PolicyConfigInput } from '../shared/policy/policy-config.js';
import { AGING_NAMESPACE } from '../shared/aging/metric-data.js';
import { OperatorGrantsSchema, type OperatorGrant } from '../shared/operator/operator-grants.js';
import type { HostDocument } from '../shared/workflow/workflow-config.js';
import type { ReloadLevel } from '../shared/workflow/rejuvenation-request.js';
import {
  FleetPredictionSettingsSchema,
  type FleetPredictionSettingsInput,
} from '../shared/aging/fleet-prediction-settings.js';
import { DEFAULT_EXHAUSTION_LIMITS } from '../shared/aging/predict-fleet.js';
import { DEFAULT_PREDICTION_CONFIG } from '../shared/aging/predictive-decision.js';
import { describeIssues } from '../shared/domain/validation.js';
import {
  AgingAlarmSettingsSchema,
  DEFAULT_AGING_ALARM_THRESHOLDS,
  type AgingAlarmSettings,
} from '../shared/aging/aging-alarm-settings.js';
import { checkInteger, invalidProp, isResolved } from './prop-validation.js';
import type {
  AgingAlarmsProps,
  AgingCollectionSettings,
  ManagedInstanceTag,
  PredictionProps,
  RejuvenationCoordinatorProps,
} from './rejuvenation-coordinator.js';

export const DEFAULT_COMMAND_TIMEOUTS: Readonly<Record<HostDocument, Duration>> = {
  Preflight: Duration.minutes(2),
  WarmReboot: Duration.minutes(15),
  Verify: Duration.minutes(5),
  Recover: Duration.minutes(15),
};

export interface CoordinatorSettings {
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
  /** Each pool's own maintenance limit, by pool id. */
  readonly poolLimits: Readonly<Record<string, number>>;
  readonly targetGroupArns: readonly string[];
  readonly hostSyncInterval: Duration;
  readonly predictionInterval: Duration;
}

/** What is left of Lambda's 4 KB of environment per function once the configuration is there. */
const MAX_POLICY_JSON_BYTES = 2048;

function validatePolicy(scope: IConstruct, policy: PolicyConfigInput | undefined): string {
  const parsed = PolicyConfigSchema.safeParse(policy ?? { pools: {} });
  if (!parsed.success)
    throw invalidProp(scope, 'InvalidPolicy', `policy: ${describeIssues(parsed.error).join('; ')}`);
  const json = JSON.stringify(policy ?? { pools: {} });
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_POLICY_JSON_BYTES)
    throw invalidProp(
      scope,
      'PolicyTooLarge',
      `policy: its JSON is ${bytes} bytes, over the ${MAX_POLICY_JSON_BYTES} a function's environment has room for (Lambda allows 4 KB per function)`,
    );
  return json;
}

const MAX_CONCURRENCY_PATTERN = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
const MAX_ERRORS_PATTERN = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;
/** CollectAging's own execution timeout and some slack: what an invocation needs after delivery. */
const COLLECT_RUN_ALLOWANCE_SECONDS = 90;

function validateAgingCollection(
  scope: IConstruct,
  props: AgingCollectionSettings = {},
): CoordinatorSettings['agingCollection'] {
  const interval = props.interval ?? Duration.minutes(5);
  if (isResolved(interval) && (interval.toSeconds() < 120 || interval.toSeconds() > 24 * 3600))
    throw invalidProp(
      scope,
      'InvalidAgingCollectionInterval',
      `agingCollection.interval must be 2 min to 24 h, got ${interval.toSeconds()} s`,
    );
  const maxConcurrency = props.maxConcurrency ?? '10%';
  if (!Token.isUnresolved(maxConcurrency) && !MAX_CONCURRENCY_PATTERN.test(maxConcurrency))
    throw invalidProp(
      scope,
      'InvalidAgingCollectionMaxConcurrency',
      `agingCollection.maxConcurrency must be a number from 1 or a percentage from 1% to 100%, got ${JSON.stringify(maxConcurrency)}`,
    );
  const maxErrors = props.maxErrors ?? '5%';
  if (!Token.isUnresolved(maxErrors) && !MAX_ERRORS_PATTERN.test(maxErrors))
    throw invalidProp(
      scope,
      'InvalidAgingCollectionMaxErrors',
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
  scope: IConstruct,
  props: AgingAlarmsProps = {},
  prefix: string,
  hostIdDimension: string,
): AgingAlarmSettings | undefined {
  if (props.enabled === false) return undefined;
  // The alarms' metrics carry the collector's HostId dimension: the trigger must look there for the host.
  if (!Token.isUnresolved(hostIdDimension) && hostIdDimension !== 'HostId')
    throw invalidProp(
      scope,
      'AgingAlarmsNeedHostIdDimension',
      `agingAlarms: the alarms read the collector's metrics, whose host dimension is HostId; hostIdDimension is ${JSON.stringify(hostIdDimension)} (set agingAlarms.enabled to false to keep your own alarms)`,
    );
  const parsed = AgingAlarmSettingsSchema.safeParse({
    prefix,
    namespace: AGING_NAMESPACE,
    defaults: { ...DEFAULT_AGING_ALARM_THRESHOLDS, ...props.defaults },
    pools: props.pools ?? {},
  });
  if (!parsed.success)
    throw invalidProp(scope, 'InvalidAgingAlarms', `agingAlarms: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

/** The predictor's settings as its function reads them, checked now rather than at its first run. */
function validatePrediction(
  scope: IConstruct,
  p: PredictionProps,
  highResolution: boolean,
): FleetPredictionSettingsInput {
  const ms = (d: Duration | undefined, fallback: number) => (d === undefined ? fallback : d.toMilliseconds());
  const windowMs = ms(p.window, DEFAULT_PREDICTION_CONFIG.windowMs);
  const periodSeconds = p.period === undefined ? 7200 : p.period.toSeconds();
  if (!Token.isUnresolved(periodSeconds) && periodSeconds < 60 && !highResolution)
    throw invalidProp(
      scope,
      'PredictionPeriodNeedsHighResolution',
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
  // The predictor reads these as JSON from its environment: they must be known at synth time.
  const parsed = FleetPredictionSettingsSchema.safeParse(settings);
  if (!parsed.success)
    throw invalidProp(scope, 'InvalidPrediction', `prediction: ${describeIssues(parsed.error).join('; ')}`);
  const interval = p.interval ?? Duration.hours(6);
  if (
    isResolved(interval) &&
    (interval.toSeconds() < 300 || interval.toMilliseconds() > settings.config.dedupeWindowMs)
  )
    throw invalidProp(
      scope,
      'InvalidPredictionInterval',
      `prediction.interval must be 5 min to the dedupe window (${settings.config.dedupeWindowMs / 60_000} min), got ${interval.toSeconds() / 60} min`,
    );
  return settings;
}

/** Throws unless `d` is within [minSeconds, maxSeconds]; a token passes. */
function checkDuration(
  scope: IConstruct,
  what: string,
  d: Duration,
  minSeconds: number,
  maxSeconds: number,
  range: string,
): Duration {
  if (isResolved(d) && (d.toSeconds() < minSeconds || d.toSeconds() > maxSeconds))
    throw invalidProp(scope, 'DurationOutOfRange', `${what} must be ${range}, got ${d.toSeconds()} s`);
  return d;
}

/** The props with their defaults, checked at synth time with the offending value in the message. */
export function coordinatorSettings(
  scope: IConstruct,
  props: RejuvenationCoordinatorProps,
): CoordinatorSettings {
  const limit = (what: string, n: number): number => checkInteger(scope, what, n, 1, 100);
  for (const [pool, s] of Object.entries(props.pools ?? {})) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(pool))
      throw invalidProp(scope, 'InvalidPoolId', `pool id ${JSON.stringify(pool)} is not a valid pool id`);
    limit(`pools.${pool}.maxHostsInMaintenance`, s.maxHostsInMaintenance);
  }
  const prefix = props.agingAlarmNamePrefix ?? 'rejuv-aging-';
  if (!Token.isUnresolved(prefix) && (prefix.length < 1 || prefix.length > 200))
    throw invalidProp(
      scope,
      'InvalidAgingAlarmNamePrefix',
      `agingAlarmNamePrefix must be 1-200 characters, got ${JSON.stringify(prefix)}`,
    );
  const commandTimeouts = { ...DEFAULT_COMMAND_TIMEOUTS, ...props.commandTimeouts };
  const leaseDuration = props.leaseDuration ?? Duration.hours(2);
  if (isResolved(leaseDuration, ...Object.values(commandTimeouts))) {
    const longest = Math.max(...Object.values(commandTimeouts).map((d) => d.toSeconds()));
    if (leaseDuration.toSeconds() <= longest) {
      throw invalidProp(
        scope,
        'LeaseShorterThanCommand',
        `leaseDuration (${leaseDuration.toSeconds()} s) must exceed the longest command timeout (${longest} s)`,
      );
    }
  }
  for (const [doc, d] of Object.entries(commandTimeouts))
    checkDuration(scope, `commandTimeouts.${doc}`, d, 5, 7200, '5 s to 2 h');
  const operators = OperatorGrantsSchema.safeParse(props.operators ?? []);
  if (!operators.success)
    throw invalidProp(
      scope,
      'InvalidOperators',
      `operators: ${operators.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  // A release waits for Preflight and Verify in one invocation, which Lambda ends after 15 minutes.
  const releaseChecks = commandTimeouts.Preflight.toSeconds() + commandTimeouts.Verify.toSeconds();
  if (isResolved(commandTimeouts.Preflight, commandTimeouts.Verify) && releaseChecks > 14 * 60)
    throw invalidProp(
      scope,
      'ReleaseChecksTooLong',
      `commandTimeouts.Preflight + commandTimeouts.Verify must be at most 14 min (a release runs both within one Lambda invocation), got ${releaseChecks} s`,
    );
  const approvalTimeout = checkDuration(
    scope,
    'campaignApproval.timeout',
    props.campaignApproval?.timeout ?? Duration.hours(24),
    60,
    29 * 24 * 3600,
    '1 min to 29 days (the campaign machine times out after 30)',
  );
  const maxAge = checkDuration(
    scope,
    'pendingRequests.maxAge',
    props.pendingRequests?.maxAge ?? Duration.days(7),
    60,
    90 * 24 * 3600,
    '1 min to 90 days',
  );
  const drainInterval = checkDuration(
    scope,
    'pendingRequests.drainInterval',
    props.pendingRequests?.drainInterval ?? Duration.minutes(5),
    60,
    24 * 3600,
    '1 min to 24 h',
  );
  const hostIdDimension = props.hostIdDimension ?? 'HostId';
  return {
    agingAlarms: validateAgingAlarms(scope, props.agingAlarms, prefix, hostIdDimension),
    pendingRequests: { maxAge, drainInterval },
    approvalTimeout,
    allowSelfApproval: props.campaignApproval?.allowSelfApproval ?? false,
    agingCollection: validateAgingCollection(scope, props.agingCollection),
    prediction: validatePrediction(
      scope,
      props.prediction ?? {},
      props.agingCollection?.highResolution ?? false,
    ),
    policyJson: validatePolicy(scope, props.policy),
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
    campaignPassesPerExecution: checkInteger(
      scope,
      'campaignPassesPerExecution',
      props.campaignPassesPerExecution ?? 25,
      1,
      40,
    ),
    poolLimits: Object.fromEntries(
      Object.entries(props.pools ?? {}).map(([p, s]) => [p, s.maxHostsInMaintenance]),
    ),
    targetGroupArns: props.targetGroupArns ?? [],
    hostSyncInterval: props.hostSyncInterval ?? Duration.minutes(5),
    predictionInterval: props.prediction?.interval ?? Duration.hours(6),
  };
}
