/**
 * Metric alarms for the local CloudWatch: PutMetricAlarm (one metric, or Metrics with metric math's
 * arithmetic), DeleteAlarms, DescribeAlarms (by names or prefix, state, type; pages), and their
 * evaluation on the stored datapoints, with CloudWatch's "CloudWatch Alarm State Change" event for every
 * change of state (EventBridge gets those whatever the alarm's actions).
 *
 * Evaluation: the newest EvaluationPeriods periods (aligned to the epoch, the newest the one holding
 * `now`, so a datapoint just put counts at once where CloudWatch would wait for its minute's evaluation),
 * one statistic per period; ALARM when at least DatapointsToAlarm of them breach, missing periods counted
 * by TreatMissingData (notBreaching: good; breaching: bad; ignore: the state stays when none is present;
 * missing: INSUFFICIENT_DATA when none is present). A new alarm starts INSUFFICIENT_DATA and is evaluated
 * at once; an update keeps its state. Alarms are evaluated when put, after every PutMetricData, and when
 * the environment says time passed (`evaluateAlarms`).
 *
 * SetAlarmState sets an existing alarm's state as AWS does (until the next evaluation that finds data
 * says otherwise; with TreatMissingData `ignore` and no data, the state set stays) and sends its event.
 *
 * Not emulated (refused, so nothing passes for what it is not): alarm actions, anomaly detection
 * thresholds, extended statistics (percentiles), metric math functions, composite alarms, alarm history,
 * tags. The evaluation is exact on the datapoints, not on CloudWatch's look-back for late data.
 */
import { randomUUID } from 'node:crypto';
import { invalid, isObject, missing, type Body } from './cloudwatch-errors.js';
import { offsetPage } from './json-protocol/offset-page.js';
import { AwsServiceError } from './json-protocol/aws-json-server.js';
import { periodValues, STATS, type Datapoint, type Stat } from './cloudwatch-statistics.js';
import {
  evaluateMetricMath,
  MetricMathError,
  parseMetricMath,
  referencedIds,
  type MetricMathNode,
} from './metric-math.js';

const COMPARISONS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
type Comparison = (typeof COMPARISONS)[number];
const MISSING = ['breaching', 'notBreaching', 'ignore', 'missing'] as const;
type TreatMissingData = (typeof MISSING)[number];
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
const STATE_VALUES: readonly AlarmStateValue[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];
const MAX_METRICS = 10;
const MAX_NAMES = 100;

const combination = (message: string) =>
  new AwsServiceError('InvalidParameterCombinationException', message, {
    code: 'InvalidParameterCombination',
    status: 400,
  });

interface MetricRead {
  readonly namespace: string;
  readonly metricName: string;
  /** Sorted by name. */
  readonly dimensions: readonly { Name: string; Value: string }[];
  readonly period: number;
  readonly stat: Stat;
  readonly unit?: string;
}

interface Query {
  readonly id: string;
  readonly returnData: boolean;
  readonly label?: string;
  readonly metric?: MetricRead;
  readonly expression?: string;
  readonly parsed?: MetricMathNode;
}

interface AlarmState {
  readonly value: AlarmStateValue;
  readonly reason: string;
  readonly reasonData: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

interface StoredAlarm {
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly actionsEnabled: boolean;
  /** The single-metric form's metric, or undefined when the alarm has Metrics. */
  readonly single?: MetricRead;
  readonly queries: readonly Query[];
  readonly comparison: Comparison;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
  readonly configuredAt: number;
  state: AlarmState;
  transitionedAt: number;
}

/** The "CloudWatch Alarm State Change" event, as CloudWatch sends it to EventBridge. */
export interface AlarmStateChangeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'CloudWatch Alarm State Change';
  readonly source: 'aws.cloudwatch';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface LocalAlarmsOptions {
  readonly alarmArn: (name: string) => string;
  readonly account: string;
  readonly region: string;
  readonly now: () => Date;
  /** Every datapoint stored for one metric (dimensions sorted by name). */
  readonly points: (
    namespace: string,
    metricName: string,
    dimensions: readonly { Name: string; Value: string }[],
  ) => readonly Datapoint[];
}

function text(value: unknown, parameter: string, max: number): string {
  if (value === undefined || value === null || value === '') throw missing(parameter);
  if (typeof value !== 'string' || value.length > max)
    throw invalid(`The value for parameter ${parameter} must be a string of 1 to ${max} characters.`);
  return value;
}

function positiveInteger(value: unknown, parameter: string): number {
  if (value === undefined || value === null) throw missing(parameter);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw invalid(`The value ${String(value)} for parameter ${parameter} must be an integer of at least 1.`);
  return value;
}

function period(value: unknown, parameter: string): number {
  const p = positiveInteger(value, parameter);
  if (p >= 60 ? p % 60 !== 0 : ![10, 20, 30].includes(p))
    throw invalid(`The parameter ${parameter} must be 10, 20, 30 or a multiple of 60.`);
  return p;
}

function dimensions(value: unknown, parameter: string): { Name: string; Value: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 30) throw invalid(`${parameter} must be a list of at most 30.`);
  return value
    .map((d: unknown, i) => {
      if (!isObject(d)) throw invalid(`${parameter}.member.${i + 1} must be a structure.`);
      return {
        Name: text(d['Name'], `${parameter}.member.${i + 1}.Name`, 255),
        Value: text(d['Value'], `${parameter}.member.${i + 1}.Value`, 1024),
      };
    })
    .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

function stat(value: unknown, parameter: string): Stat {
  if (value === undefined) throw missing(parameter);
  if (!STATS.includes(value as Stat))
    throw invalid(
      `The value ${String(value)} for parameter ${parameter} is not emulated (percentiles and extended statistics are not).`,
    );
  return value as Stat;
}

function metricOf(
  m: Body,
  parameter: string,
  periodValue: unknown,
  statValue: unknown,
  unit: unknown,
): MetricRead {
  // The single-metric form's fields are top-level (Statistic), a MetricStat's nested (Stat).
  const at = (field: string) => (parameter === '' ? field : `${parameter}.${field}`);
  return {
    namespace: text(m['Namespace'], at('Namespace'), 255),
    metricName: text(m['MetricName'], at('MetricName'), 255),
    dimensions: dimensions(m['Dimensions'], at('Dimensions')),
    period: period(periodValue, at('Period')),
    stat: stat(statValue, parameter === '' ? 'Statistic' : at('Stat')),
    ...(typeof unit === 'string' ? { unit } : {}),
  };
}

function queriesOf(value: unknown): Query[] {
  if (!Array.isArray(value) || value.length === 0) throw missing('Metrics');
  if (value.length > MAX_METRICS)
    throw invalid(`The collection Metrics must not have a size greater than ${MAX_METRICS}.`);
  const ids = new Set<string>();
  const queries = value.map((q: unknown, i): Query => {
    const p = `Metrics.member.${i + 1}`;
    if (!isObject(q)) throw invalid(`${p} must be a structure.`);
    const id = text(q['Id'], `${p}.Id`, 255);
    if (!/^[a-z][a-zA-Z0-9_]*$/.test(id)) throw invalid(`The value ${id} for parameter ${p}.Id is invalid.`);
    if (ids.has(id)) throw invalid(`The value ${id} for parameter ${p}.Id is not unique.`);
    ids.add(id);
    const base = {
      id,
      returnData: q['ReturnData'] !== false,
      ...(typeof q['Label'] === 'string' ? { label: q['Label'] } : {}),
    };
    const ms = q['MetricStat'];
    const expression = q['Expression'];
    if ((ms === undefined) === (expression === undefined))
      throw combination(`${p}: exactly one of MetricStat and Expression is required.`);
    if (expression !== undefined) {
      const source = text(expression, `${p}.Expression`, 2048);
      try {
        return { ...base, expression: source, parsed: parseMetricMath(source) };
      } catch (error) {
        if (error instanceof MetricMathError) throw invalid(`${p}.Expression: ${error.message}`);
        throw error;
      }
    }
    if (!isObject(ms) || !isObject(ms['Metric'])) throw missing(`${p}.MetricStat.Metric`);
    return {
      ...base,
      metric: metricOf(ms['Metric'], `${p}.MetricStat.Metric`, ms['Period'], ms['Stat'], ms['Unit']),
    };
  });
  if (queries.filter((q) => q.returnData).length !== 1)
    throw invalid('Exactly one element of the Metrics list must return data.');
  return queries;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** As CloudWatch writes state timestamps: 2026-11-25T10:00:00.985+0000. */
const stateTimestamp = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
/** As CloudWatch writes datapoint times in a reason: 25/11/26 10:00:00. */
function reasonTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCFullYear() % 100)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

const COMPARISON_WORDS: Readonly<Record<Comparison, string>> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

function breaches(comparison: Comparison, value: number, threshold: number): boolean {
  switch (comparison) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

export interface RunningLocalAlarms {
  putMetricAlarm(body: Body): void;
  deleteAlarms(body: Body): void;
  describeAlarms(body: Body): unknown;
  setAlarmState(body: Body): void;
  /** Evaluates every alarm now; each change of state is sent to the listeners. */
  evaluateAll(): void;
  onStateChange(listener: (event: AlarmStateChangeEvent) => void): void;
  /** The alarm's state value (for tests). */
  stateOf(name: string): AlarmStateValue | undefined;
}

export function localAlarms(options: LocalAlarmsOptions): RunningLocalAlarms {
  const alarms = new Map<string, StoredAlarm>();
  const listeners: ((event: AlarmStateChangeEvent) => void)[] = [];

  /** The returned series' values in the evaluation range, oldest first (undefined: no data). */
  const evaluationValues = (alarm: StoredAlarm, nowMs: number): { t: number; v: number | undefined }[] => {
    const returned = alarm.queries.find((q) => q.returnData) as Query;
    // The period of an expression is its metrics' (rejuv's alarms read all at one period).
    const periodSeconds = (alarm.queries.find((q) => q.metric !== undefined)?.metric as MetricRead).period;
    const p = periodSeconds * 1000;
    const newest = Math.floor(nowMs / p) * p;
    const start = newest - (alarm.evaluationPeriods - 1) * p;
    const end = newest + p;
    const series = new Map<string, Map<number, number>>();
    for (const q of alarm.queries) {
      if (q.metric === undefined) continue;
      const m = q.metric;
      series.set(
        q.id,
        periodValues(
          options.points(m.namespace, m.metricName, m.dimensions),
          m.stat,
          m.period,
          start,
          end,
          m.unit,
        ),
      );
    }
    const values =
      returned.parsed === undefined
        ? (series.get(returned.id) ?? new Map())
        : evaluateMetricMath(returned.parsed, series);
    return Array.from({ length: alarm.evaluationPeriods }, (_, i) => {
      const t = start + i * p;
      return { t, v: values.get(t) };
    });
  };

  const evaluate = (alarm: StoredAlarm, nowMs: number): void => {
    const range = evaluationValues(alarm, nowMs);
    const present = range.filter((r): r is { t: number; v: number } => r.v !== undefined);
    const bad = present.filter((r) => breaches(alarm.comparison, r.v, alarm.threshold)).length;
    const missingCount = range.length - present.length;
    const breaching = bad + (alarm.treatMissingData === 'breaching' ? missingCount : 0);
    let value: AlarmStateValue;
    if (present.length === 0 && alarm.treatMissingData === 'missing') value = 'INSUFFICIENT_DATA';
    else if (present.length === 0 && alarm.treatMissingData === 'ignore') value = alarm.state.value;
    else value = breaching >= alarm.datapointsToAlarm ? 'ALARM' : 'OK';
    if (value === alarm.state.value) return;
    const recent = [...present].reverse();
    const reason =
      present.length === 0
        ? `no datapoints were received for ${alarm.evaluationPeriods} periods and ${alarm.evaluationPeriods} missing datapoints were treated as [${alarm.treatMissingData === 'notBreaching' ? 'NonBreaching' : alarm.treatMissingData === 'breaching' ? 'Breaching' : 'Missing'}].`
        : `Threshold Crossed: ${value === 'ALARM' ? breaching : present.length - bad} out of the last ${alarm.evaluationPeriods} datapoints [${recent.map((r) => `${r.v} (${reasonTime(r.t)})`).join(', ')}] ${value === 'ALARM' ? 'was' : 'was not'} ${COMPARISON_WORDS[alarm.comparison]} the threshold (${alarm.threshold}) (minimum ${alarm.datapointsToAlarm} datapoint${alarm.datapointsToAlarm === 1 ? '' : 's'} for ${alarm.state.value} -> ${value} transition).`;
    const reasonData = JSON.stringify({
      version: '1.0',
      queryDate: stateTimestamp(nowMs),
      startDate: stateTimestamp(range[0]?.t ?? nowMs),
      ...(alarm.single === undefined ? {} : { statistic: alarm.single.stat, period: alarm.single.period }),
      recentDatapoints: recent.map((r) => r.v),
      threshold: alarm.threshold,
      evaluatedDatapoints: recent.map((r) => ({ timestamp: stateTimestamp(r.t), value: r.v })),
    });
    const previous = alarm.state;
    alarm.state = { value, reason, reasonData, at: nowMs };
    alarm.transitionedAt = nowMs;
    const event = stateChangeEvent(alarm, previous, nowMs);
    for (const listener of listeners) listener(event);
  };

  const stateChangeEvent = (
    alarm: StoredAlarm,
    previous: AlarmState,
    nowMs: number,
  ): AlarmStateChangeEvent => {
    const state = (s: AlarmState) => ({
      value: s.value,
      reason: s.reason,
      reasonData: s.reasonData,
      timestamp: stateTimestamp(s.at),
    });
    const metricStat = (m: MetricRead) => ({
      metric: {
        namespace: m.namespace,
        name: m.metricName,
        dimensions: Object.fromEntries(m.dimensions.map((d) => [d.Name, d.Value])),
      },
      period: m.period,
      stat: m.stat,
      ...(m.unit === undefined ? {} : { unit: m.unit }),
    });
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: options.account,
      time: new Date(nowMs).toISOString().replace(/\.\d+Z$/, 'Z'),
      region: options.region,
      resources: [alarm.arn],
      detail: {
        alarmName: alarm.name,
        state: state(alarm.state),
        previousState: state(previous),
        configuration: {
          ...(alarm.description === undefined ? {} : { description: alarm.description }),
          metrics: alarm.queries.map((q) => ({
            id: alarm.single === undefined ? q.id : randomUUID(),
            ...(q.metric === undefined ? {} : { metricStat: metricStat(q.metric) }),
            ...(q.expression === undefined ? {} : { expression: q.expression }),
            ...(q.label === undefined ? {} : { label: q.label }),
            returnData: q.returnData,
          })),
        },
      },
    };
  };

  const putMetricAlarm = (body: Body): void => {
    const name = text(body['AlarmName'], 'AlarmName', 255);
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f]/.test(name))
      throw invalid('The parameter AlarmName must not contain control characters.');
    for (const actions of ['AlarmActions', 'OKActions', 'InsufficientDataActions'] as const) {
      const list = body[actions];
      if (list !== undefined && (!Array.isArray(list) || list.length > 0))
        throw invalid(`${actions}: alarm actions are not emulated (EventBridge gets every state change).`);
    }
    for (const notEmulated of [
      'ThresholdMetricId',
      'ExtendedStatistic',
      'EvaluateLowSampleCountPercentile',
      'Tags',
    ])
      if (body[notEmulated] !== undefined) throw invalid(`${notEmulated} is not emulated.`);
    const comparison = body['ComparisonOperator'];
    if (comparison === undefined) throw missing('ComparisonOperator');
    if (!COMPARISONS.includes(comparison as Comparison))
      throw invalid(`The value ${String(comparison)} for parameter ComparisonOperator is not emulated.`);
    const threshold = body['Threshold'];
    if (threshold === undefined) throw missing('Threshold');
    if (typeof threshold !== 'number' || !Number.isFinite(threshold))
      throw invalid(`The value ${String(threshold)} for parameter Threshold is invalid.`);
    const evaluationPeriods = positiveInteger(body['EvaluationPeriods'], 'EvaluationPeriods');
    const datapointsToAlarm =
      body['DatapointsToAlarm'] === undefined
        ? evaluationPeriods
        : positiveInteger(body['DatapointsToAlarm'], 'DatapointsToAlarm');
    if (datapointsToAlarm > evaluationPeriods)
      throw invalid('DatapointsToAlarm must be less than or equal to EvaluationPeriods.');
    const treat = body['TreatMissingData'] ?? 'missing';
    if (!MISSING.includes(treat as TreatMissingData))
      throw invalid(`The value ${String(treat)} for parameter TreatMissingData is invalid.`);
    const singleFields = ['MetricName', 'Namespace', 'Statistic', 'Period', 'Dimensions', 'Unit'].filter(
      (f) => body[f] !== undefined,
    );
    let single: MetricRead | undefined;
    let queries: Query[];
    if (body['Metrics'] !== undefined) {
      if (singleFields.length > 0)
        throw combination(`Metrics cannot be combined with ${singleFields.join(', ')}.`);
      queries = queriesOf(body['Metrics']);
      if (!queries.some((q) => q.metric !== undefined))
        throw invalid('Metrics must read at least one metric.');
      const periods = new Set(queries.flatMap((q) => (q.metric === undefined ? [] : [q.metric.period])));
      if (periods.size > 1) throw invalid('All metrics of an alarm must have the same period (as emulated).');
      for (const q of queries)
        if (q.parsed !== undefined)
          for (const id of referencedIds(q.parsed))
            if (!queries.some((o) => o.id === id && o !== q))
              throw invalid(`Expression of ${q.id} references unknown id ${id}.`);
    } else {
      single = metricOf(body, '', body['Period'], body['Statistic'], body['Unit']);
      queries = [{ id: 'm1', returnData: true, metric: single }];
    }
    const p = (queries.find((q) => q.metric !== undefined)?.metric as MetricRead).period;
    if (p * evaluationPeriods > 86_400)
      throw invalid('The product of EvaluationPeriods and Period must not exceed 86400 (one day).');
    const nowMs = options.now().getTime();
    const existing = alarms.get(name);
    const alarm: StoredAlarm = {
      name,
      arn: options.alarmArn(name),
      ...(typeof body['AlarmDescription'] === 'string' ? { description: body['AlarmDescription'] } : {}),
      actionsEnabled: body['ActionsEnabled'] !== false,
      ...(single === undefined ? {} : { single }),
      queries,
      comparison: comparison as Comparison,
      threshold,
      evaluationPeriods,
      datapointsToAlarm,
      treatMissingData: treat as TreatMissingData,
      configuredAt: nowMs,
      // An update keeps the alarm's state; a new alarm starts with too little data.
      state: existing?.state ?? {
        value: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        reasonData: '{}',
        at: nowMs,
      },
      transitionedAt: existing?.transitionedAt ?? nowMs,
    };
    alarms.set(name, alarm);
    evaluate(alarm, nowMs);
  };

  const namesOf = (value: unknown, parameter: string): string[] => {
    if (!Array.isArray(value)) throw missing(parameter);
    if (value.length > MAX_NAMES)
      throw invalid(`The collection ${parameter} must not have a size greater than ${MAX_NAMES}.`);
    return value.map((n: unknown, i) => text(n, `${parameter}.member.${i + 1}`, 255));
  };

  const deleteAlarms = (body: Body): void => {
    const names = namesOf(body['AlarmNames'], 'AlarmNames');
    if (names.length === 0) throw missing('AlarmNames');
    // CloudWatch deletes the ones that exist; a name that does not is no error.
    for (const name of names) alarms.delete(name);
  };

  const describeAlarms = (body: Body): unknown => {
    const names =
      body['AlarmNames'] === undefined ? undefined : new Set(namesOf(body['AlarmNames'], 'AlarmNames'));
    const prefix = body['AlarmNamePrefix'];
    if (names !== undefined && prefix !== undefined)
      throw combination('AlarmNames and AlarmNamePrefix cannot be used together.');
    if (
      body['ActionPrefix'] !== undefined ||
      body['ChildrenOfAlarmName'] !== undefined ||
      body['ParentsOfAlarmName'] !== undefined
    )
      throw invalid('ActionPrefix, ChildrenOfAlarmName and ParentsOfAlarmName are not emulated.');
    const stateValue = body['StateValue'];
    if (stateValue !== undefined && !STATE_VALUES.includes(stateValue as AlarmStateValue))
      throw invalid(`The value ${String(stateValue)} for parameter StateValue is invalid.`);
    const types = Array.isArray(body['AlarmTypes']) ? (body['AlarmTypes'] as unknown[]) : ['MetricAlarm'];
    const maxRecords = body['MaxRecords'] === undefined ? 50 : Number(body['MaxRecords']);
    if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > 100)
      throw invalid('The parameter MaxRecords must be an integer from 1 to 100.');
    const matching = types.includes('MetricAlarm')
      ? [...alarms.values()]
          .filter((a) => names === undefined || names.has(a.name))
          .filter((a) => typeof prefix !== 'string' || a.name.startsWith(prefix))
          .filter((a) => stateValue === undefined || a.state.value === stateValue)
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      : [];
    const { page, nextToken } = offsetPage(matching, body['NextToken'], maxRecords);
    return {
      MetricAlarms: page.map(describe),
      CompositeAlarms: [],
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  };

  const describe = (a: StoredAlarm) => {
    const metricStatOf = (m: MetricRead) => ({
      Metric: { Namespace: m.namespace, MetricName: m.metricName, Dimensions: m.dimensions },
      Period: m.period,
      Stat: m.stat,
      ...(m.unit === undefined ? {} : { Unit: m.unit }),
    });
    return {
      AlarmName: a.name,
      AlarmArn: a.arn,
      ...(a.description === undefined ? {} : { AlarmDescription: a.description }),
      AlarmConfigurationUpdatedTimestamp: a.configuredAt / 1000,
      ActionsEnabled: a.actionsEnabled,
      OKActions: [],
      AlarmActions: [],
      InsufficientDataActions: [],
      StateValue: a.state.value,
      StateReason: a.state.reason,
      StateReasonData: a.state.reasonData,
      StateUpdatedTimestamp: a.state.at / 1000,
      StateTransitionedTimestamp: a.transitionedAt / 1000,
      ...(a.single === undefined
        ? {
            Metrics: a.queries.map((q) => ({
              Id: q.id,
              ReturnData: q.returnData,
              ...(q.metric === undefined ? {} : { MetricStat: metricStatOf(q.metric) }),
              ...(q.expression === undefined ? {} : { Expression: q.expression }),
              ...(q.label === undefined ? {} : { Label: q.label }),
            })),
          }
        : {
            MetricName: a.single.metricName,
            Namespace: a.single.namespace,
            Statistic: a.single.stat,
            Dimensions: a.single.dimensions,
            Period: a.single.period,
            ...(a.single.unit === undefined ? {} : { Unit: a.single.unit }),
          }),
      EvaluationPeriods: a.evaluationPeriods,
      DatapointsToAlarm: a.datapointsToAlarm,
      Threshold: a.threshold,
      ComparisonOperator: a.comparison,
      TreatMissingData: a.treatMissingData,
    };
  };

  const setAlarmState = (body: Body): void => {
    const name = body['AlarmName'];
    if (typeof name !== 'string' || name === '') throw missing('AlarmName');
    const value = body['StateValue'];
    if (!STATE_VALUES.includes(value as AlarmStateValue))
      throw invalid(`StateValue must be one of ${STATE_VALUES.join(', ')}.`);
    const reason = body['StateReason'];
    if (typeof reason !== 'string' || reason === '') throw missing('StateReason');
    if (reason.length > 1023) throw invalid('StateReason must be at most 1023 characters.');
    const alarm = alarms.get(name);
    if (alarm === undefined)
      throw new AwsServiceError('ResourceNotFound', `Alarm ${name} does not exist.`, {
        code: 'ResourceNotFound',
        status: 404,
      });
    const nowMs = options.now().getTime();
    const previous = alarm.state;
    alarm.state = {
      value: value as AlarmStateValue,
      reason,
      reasonData: typeof body['StateReasonData'] === 'string' ? body['StateReasonData'] : '',
      at: nowMs,
    };
    if (previous.value === alarm.state.value) return;
    alarm.transitionedAt = nowMs;
    const event = stateChangeEvent(alarm, previous, nowMs);
    for (const listener of listeners) listener(event);
  };

  return {
    putMetricAlarm,
    deleteAlarms,
    describeAlarms,
    setAlarmState,
    evaluateAll: () => {
      const nowMs = options.now().getTime();
      for (const alarm of alarms.values()) evaluate(alarm, nowMs);
    },
    onStateChange: (listener) => {
      listeners.push(listener);
    },
    stateOf: (name) => alarms.get(name)?.state.value,
  };
}
