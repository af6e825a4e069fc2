/**
 * The aging alarms one host should have: one per resource, named `<prefix><hostId>-<resource>` and on the
 * host's own series (dimensions HostId and Pool), so the AlarmTrigger's rule (the prefix) delivers their
 * ALARM and its mapping (the HostId dimension) names the host. Shares of MemTotal are metric math over the
 * host's two series, so one threshold fits hosts of any size. Pure: the adapter speaks to CloudWatch.
 */
import { HOST_METRICS, hostDimensions, unusableFreeIndexMetric } from './metric-data.js';
import type { MetricDimension } from './metric-data.js';
import { thresholdsFor, type AgingAlarmSettings, type AgingAlarmThresholds } from './aging-alarm-settings.js';

export const AGING_ALARM_RESOURCES = ['memAvailable', 'sUnreclaim', 'fragmentation'] as const;
export type AgingAlarmResource = (typeof AGING_ALARM_RESOURCES)[number];

/**
 * Every alarm the sync manages has a description beginning with this: an alarm someone made by hand
 * under the prefix (the AlarmTrigger takes those too) is never changed or deleted by the sync.
 */
export const MANAGED_ALARM_MARKER = '[rejuv host sync]';

export interface AlarmMetricStat {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly MetricDimension[];
  readonly periodSeconds: number;
  readonly stat: 'Average';
}

/** One entry of the alarm's Metrics: a metric read, or an expression over them. */
export interface AlarmQuery {
  readonly id: string;
  readonly returnData: boolean;
  readonly metricStat?: AlarmMetricStat;
  readonly expression?: string;
  readonly label?: string;
}

export type AlarmComparison = 'LessThanThreshold' | 'GreaterThanThreshold';

/** What the sync puts (PutMetricAlarm) and compares with what DescribeAlarms returns. */
export interface AlarmConfiguration {
  readonly name: string;
  readonly description: string;
  readonly metrics: readonly AlarmQuery[];
  readonly comparison: AlarmComparison;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: 'notBreaching';
}

export interface DesiredAlarm extends AlarmConfiguration {
  readonly hostId: string;
  readonly resource: AgingAlarmResource;
}

export interface AlarmHost {
  readonly hostId: string;
  readonly pool: string;
}

export function agingAlarmName(prefix: string, hostId: string, resource: AgingAlarmResource): string {
  return `${prefix}${hostId}-${resource}`;
}

function stat(
  metricName: string,
  host: AlarmHost,
  t: AgingAlarmThresholds,
  namespace: string,
): AlarmMetricStat {
  return {
    namespace,
    metricName,
    dimensions: hostDimensions(host),
    periodSeconds: t.periodSeconds,
    stat: 'Average',
  };
}

/** A share of MemTotal in percent: `100 * part / total`, reading both series of the host. */
function shareOfTotal(
  metricName: string,
  label: string,
  host: AlarmHost,
  t: AgingAlarmThresholds,
  namespace: string,
): AlarmQuery[] {
  return [
    { id: 'part', returnData: false, metricStat: stat(metricName, host, t, namespace) },
    { id: 'total', returnData: false, metricStat: stat(HOST_METRICS.memTotalBytes.name, host, t, namespace) },
    { id: 'share', returnData: true, expression: '100 * part / total', label },
  ];
}

/**
 * (Nothing for SUnreclaim's or MemAvailable's absolute bytes, nor for a QEMU process: a process's series
 * come and go with its VM, and the predictor follows each one.)
 */
export function desiredAlarms(host: AlarmHost, settings: AgingAlarmSettings): DesiredAlarm[] {
  const t = thresholdsFor(settings, host.pool);
  const { namespace } = settings;
  const common = {
    hostId: host.hostId,
    evaluationPeriods: t.evaluationPeriods,
    datapointsToAlarm: t.datapointsToAlarm,
    // A host that stops reporting (offline, collector refused) is the host sync's and the collector's
    // concern; an aging alarm fires on aging only.
    treatMissingData: 'notBreaching' as const,
  };
  const window = `${t.datapointsToAlarm} of ${t.evaluationPeriods} periods of ${t.periodSeconds} s`;
  const describe = (what: string) =>
    `${MANAGED_ALARM_MARKER} host ${host.hostId} (pool ${host.pool}): ${what} for ${window}. Kept by the host sync: edits are overwritten.`;
  return [
    {
      ...common,
      resource: 'memAvailable',
      name: agingAlarmName(settings.prefix, host.hostId, 'memAvailable'),
      description: describe(`MemAvailable below ${t.memAvailableBelowPercent}% of MemTotal`),
      metrics: shareOfTotal(
        HOST_METRICS.memAvailableBytes.name,
        'MemAvailable % of MemTotal',
        host,
        t,
        namespace,
      ),
      comparison: 'LessThanThreshold',
      threshold: t.memAvailableBelowPercent,
    },
    {
      ...common,
      resource: 'sUnreclaim',
      name: agingAlarmName(settings.prefix, host.hostId, 'sUnreclaim'),
      description: describe(`SUnreclaim above ${t.sUnreclaimAbovePercent}% of MemTotal`),
      metrics: shareOfTotal(
        HOST_METRICS.sUnreclaimBytes.name,
        'SUnreclaim % of MemTotal',
        host,
        t,
        namespace,
      ),
      comparison: 'GreaterThanThreshold',
      threshold: t.sUnreclaimAbovePercent,
    },
    {
      ...common,
      resource: 'fragmentation',
      name: agingAlarmName(settings.prefix, host.hostId, 'fragmentation'),
      description: describe(`unusable free space index (order 9) above ${t.fragmentationIndexAbove}`),
      metrics: [
        { id: 'frag', returnData: true, metricStat: stat(unusableFreeIndexMetric(9), host, t, namespace) },
      ],
      comparison: 'GreaterThanThreshold',
      threshold: t.fragmentationIndexAbove,
    },
  ];
}
