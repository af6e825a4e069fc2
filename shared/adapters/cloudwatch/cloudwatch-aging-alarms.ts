/**
 * AgingAlarms on CloudWatch: DescribeAlarms by prefix (every page), PutMetricAlarm with Metrics (metric
 * math or one metric, the same shape both ways), DeleteAlarms at most 100 names a call. No alarm actions:
 * CloudWatch sends every state change to EventBridge, where the AlarmTrigger's rule picks the ALARMs.
 */
import {
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type CloudWatchClient,
  type MetricAlarm,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import type { ExistingAlarm } from '../../aging/aging-alarm-plan.js';
import type { AlarmConfiguration, AlarmQuery } from '../../aging/aging-alarms.js';
import type { AgingAlarms, AlarmDeletion } from '../../ports/aging-alarms.js';
import { toAgingMetricsError } from './cloudwatch-errors.js';

/** DeleteAlarms' limit of names per call. */
export const MAX_ALARMS_PER_DELETE = 100;
/** DescribeAlarms' largest page. */
const DESCRIBE_PAGE = 100;

export class CloudWatchAgingAlarms implements AgingAlarms {
  constructor(private readonly cloudWatch: CloudWatchClient) {}

  async list(prefix: string): Promise<ExistingAlarm[]> {
    const alarms: ExistingAlarm[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.cloudWatch
        .send(
          new DescribeAlarmsCommand({
            AlarmNamePrefix: prefix,
            AlarmTypes: ['MetricAlarm'],
            MaxRecords: DESCRIBE_PAGE,
            NextToken: nextToken,
          }),
        )
        .catch((error: unknown) => {
          throw toAgingMetricsError(error, 'DescribeAlarms');
        });
      for (const alarm of page.MetricAlarms ?? []) {
        if (alarm.AlarmName === undefined) continue;
        const configuration = configurationOf(alarm);
        alarms.push({
          name: alarm.AlarmName,
          description: alarm.AlarmDescription ?? '',
          ...(configuration === undefined ? {} : { configuration }),
        });
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return alarms;
  }

  async put(alarm: AlarmConfiguration): Promise<void> {
    await this.cloudWatch
      .send(
        new PutMetricAlarmCommand({
          AlarmName: alarm.name,
          AlarmDescription: alarm.description,
          ActionsEnabled: true,
          Metrics: alarm.metrics.map(toSdkQuery),
          ComparisonOperator: alarm.comparison,
          Threshold: alarm.threshold,
          EvaluationPeriods: alarm.evaluationPeriods,
          DatapointsToAlarm: alarm.datapointsToAlarm,
          TreatMissingData: alarm.treatMissingData,
        }),
      )
      .catch((error: unknown) => {
        throw toAgingMetricsError(error, 'PutMetricAlarm');
      });
  }

  async delete(names: readonly string[]): Promise<AlarmDeletion[]> {
    const outcomes: AlarmDeletion[] = [];
    for (let from = 0; from < names.length; from += MAX_ALARMS_PER_DELETE) {
      const batch = names.slice(from, from + MAX_ALARMS_PER_DELETE);
      try {
        await this.cloudWatch.send(new DeleteAlarmsCommand({ AlarmNames: batch }));
        outcomes.push({ names: batch, deleted: true });
      } catch (error) {
        const mapped = toAgingMetricsError(error, 'DeleteAlarms');
        if (!(mapped instanceof Error)) throw mapped;
        outcomes.push({ names: batch, deleted: false, error: mapped });
      }
    }
    return outcomes;
  }
}

function toSdkQuery(query: AlarmQuery): MetricDataQuery {
  return {
    Id: query.id,
    ReturnData: query.returnData,
    ...(query.expression === undefined ? {} : { Expression: query.expression }),
    ...(query.label === undefined ? {} : { Label: query.label }),
    ...(query.metricStat === undefined
      ? {}
      : {
          MetricStat: {
            Metric: {
              Namespace: query.metricStat.namespace,
              MetricName: query.metricStat.metricName,
              Dimensions: query.metricStat.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
            },
            Period: query.metricStat.periodSeconds,
            Stat: query.metricStat.stat,
          },
        }),
  };
}

/** The alarm in rejuv's terms, or undefined when it is not of the shape the sync puts (then it is replaced). */
function configurationOf(alarm: MetricAlarm): AlarmConfiguration | undefined {
  const comparison = alarm.ComparisonOperator;
  if (comparison !== 'LessThanThreshold' && comparison !== 'GreaterThanThreshold') return undefined;
  if (alarm.TreatMissingData !== 'notBreaching') return undefined;
  if (
    alarm.AlarmName === undefined ||
    alarm.Threshold === undefined ||
    alarm.EvaluationPeriods === undefined ||
    alarm.Metrics === undefined
  )
    return undefined;
  const metrics: AlarmQuery[] = [];
  for (const m of alarm.Metrics) {
    const stat = m.MetricStat;
    if (m.Id === undefined) return undefined;
    if (stat !== undefined && (stat.Stat !== 'Average' || stat.Period === undefined)) return undefined;
    metrics.push({
      id: m.Id,
      returnData: m.ReturnData ?? true,
      ...(m.Expression === undefined ? {} : { expression: m.Expression }),
      ...(m.Label === undefined ? {} : { label: m.Label }),
      ...(stat === undefined
        ? {}
        : {
            metricStat: {
              namespace: stat.Metric?.Namespace ?? '',
              metricName: stat.Metric?.MetricName ?? '',
              dimensions: (stat.Metric?.Dimensions ?? []).map((d) => ({
                name: d.Name ?? '',
                value: d.Value ?? '',
              })),
              periodSeconds: stat.Period ?? 0,
              stat: 'Average' as const,
            },
          }),
    });
  }
  return {
    name: alarm.AlarmName,
    description: alarm.AlarmDescription ?? '',
    metrics,
    comparison,
    threshold: alarm.Threshold,
    evaluationPeriods: alarm.EvaluationPeriods,
    datapointsToAlarm: alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods,
    treatMissingData: 'notBreaching',
  };
}
