/**
 * One host's accepted aging measurement as CloudWatch metric data, and the batches PutMetricData takes.
 *
 * Published with PutMetricData, not the embedded metric format: the collector has already judged every
 * host, and a host's data must either all reach CloudWatch or visibly not (a synchronous answer, retried
 * by the caller), where EMF would turn log lines into metrics some time later with no error to see. At a
 * thousand hosts every five minutes it costs a few dozen requests a round.
 *
 * Dimensions: `HostId` and `Pool` on every metric; the QEMU metrics add `Vm`. Per VM rather than summed,
 * because a leak in one QEMU process is the aging the predictor looks for (its `qemuRss` series are per
 * process, each with its start), and a sum over a host's VMs would hide one growing process among
 * steady ones. The host's total guest RSS is published as well, since MemAvailable is judged net of it.
 */
import type { AgingMeasurement } from './collector-output.js';

export const AGING_NAMESPACE = 'Rejuv/Aging';

/** PutMetricData's limits (API reference, 2023 on): 1,000 metrics and 1 MB per request. */
export const MAX_METRICS_PER_REQUEST = 1000;
export const MAX_REQUEST_BYTES = 1_000_000;

export const HOST_METRICS = {
  memAvailableBytes: { name: 'MemAvailableBytes', unit: 'Bytes' },
  memTotalBytes: { name: 'MemTotalBytes', unit: 'Bytes' },
  sUnreclaimBytes: { name: 'SUnreclaimBytes', unit: 'Bytes' },
  pageTablesBytes: { name: 'PageTablesBytes', unit: 'Bytes' },
  vmallocUsedBytes: { name: 'VmallocUsedBytes', unit: 'Bytes' },
  swapFreeBytes: { name: 'SwapFreeBytes', unit: 'Bytes' },
  swapTotalBytes: { name: 'SwapTotalBytes', unit: 'Bytes' },
  uptimeSeconds: { name: 'UptimeSeconds', unit: 'Seconds' },
} as const satisfies Record<string, { name: string; unit: MetricUnit }>;

export const QEMU_METRICS = {
  rssBytes: { name: 'QemuRssBytes', unit: 'Bytes' },
  threads: { name: 'QemuThreads', unit: 'Count' },
  openFds: { name: 'QemuOpenFds', unit: 'Count' },
  uptimeSeconds: { name: 'QemuUptimeSeconds', unit: 'Seconds' },
} as const satisfies Record<string, { name: string; unit: MetricUnit }>;

/** `UnusableFreeIndexOrder9`: the unusable free space index for 2 MiB blocks. */
export const unusableFreeIndexMetric = (order: number): string => `UnusableFreeIndexOrder${order}`;
export const QEMU_RSS_TOTAL_METRIC = 'QemuRssTotalBytes';
/** Hosts of a round the collector refused, by reason (dimension `Reason`, a CollectorRefusalCode). */
export const COLLECTOR_REFUSALS_METRIC = 'CollectorRefusals';

export type MetricUnit = 'Bytes' | 'Seconds' | 'Count' | 'None';

export interface MetricDimension {
  readonly name: string;
  readonly value: string;
}

/** What PutMetricData takes of one datapoint, without the SDK's types (shared/ imports no AWS SDK). */
export interface MetricDatum {
  readonly metricName: string;
  readonly dimensions: readonly MetricDimension[];
  readonly timestamp: Date;
  readonly value: number;
  readonly unit: MetricUnit;
}

export interface HostLabels {
  readonly hostId: string;
  readonly pool: string;
}

export function hostDimensions({ hostId, pool }: HostLabels): MetricDimension[] {
  return [
    { name: 'HostId', value: hostId },
    { name: 'Pool', value: pool },
  ];
}

/** Every datapoint of one host's measurement, at the time it was measured. */
export function measurementMetricData(measurement: AgingMeasurement, pool: string): MetricDatum[] {
  const host = hostDimensions({ hostId: measurement.hostId, pool });
  const timestamp = measurement.measuredAt;
  const data: MetricDatum[] = [];
  for (const [field, { name, unit }] of Object.entries(HOST_METRICS) as [
    keyof typeof HOST_METRICS,
    (typeof HOST_METRICS)[keyof typeof HOST_METRICS],
  ][])
    data.push({ metricName: name, dimensions: host, timestamp, value: measurement.host[field], unit });
  for (const [orderKey, value] of Object.entries(measurement.host.unusableFreeIndex)) {
    const order = Number(orderKey.slice('order'.length));
    data.push({
      metricName: unusableFreeIndexMetric(order),
      dimensions: host,
      timestamp,
      value,
      unit: 'None',
    });
  }
  data.push({
    metricName: QEMU_RSS_TOTAL_METRIC,
    dimensions: host,
    timestamp,
    value: measurement.qemu.reduce((sum, p) => sum + p.rssBytes, 0),
    unit: 'Bytes',
  });
  for (const process of measurement.qemu) {
    const dimensions = [...host, { name: 'Vm', value: process.vm }];
    for (const [field, { name, unit }] of Object.entries(QEMU_METRICS) as [
      keyof typeof QEMU_METRICS,
      (typeof QEMU_METRICS)[keyof typeof QEMU_METRICS],
    ][])
      data.push({ metricName: name, dimensions, timestamp, value: process[field], unit });
  }
  return data;
}

/**
 * An upper bound of one datum's share of a request body in the SDK's JSON encoding (the client speaks
 * JSON 1.0 to CloudWatch): the field names and punctuation, with room to spare, plus its strings.
 */
export function datumBytesBound(datum: MetricDatum): number {
  const strings =
    datum.metricName.length +
    datum.unit.length +
    datum.dimensions.reduce((sum, d) => sum + 40 + Buffer.byteLength(d.name) + Buffer.byteLength(d.value), 0);
  return 160 + strings;
}

/** Space left for the namespace and the request's envelope. */
const ENVELOPE_BYTES = 1024;

/**
 * Splits data into PutMetricData requests within both limits, keeping each host's data together when it
 * fits in one request, so that a refused request loses whole hosts rather than half of one.
 */
export function batchMetricData(
  data: readonly MetricDatum[],
  limits: { readonly maxMetrics?: number; readonly maxBytes?: number } = {},
): MetricDatum[][] {
  const maxMetrics = limits.maxMetrics ?? MAX_METRICS_PER_REQUEST;
  const maxBytes = (limits.maxBytes ?? MAX_REQUEST_BYTES) - ENVELOPE_BYTES;
  const batches: MetricDatum[][] = [];
  let current: MetricDatum[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length > 0) batches.push(current);
    current = [];
    bytes = 0;
  };
  for (const group of groupByHost(data)) {
    const groupBytes = group.reduce((sum, d) => sum + datumBytesBound(d), 0);
    if (current.length + group.length > maxMetrics || bytes + groupBytes > maxBytes) flush();
    for (const datum of group) {
      const size = datumBytesBound(datum);
      if (current.length + 1 > maxMetrics || bytes + size > maxBytes) flush();
      current.push(datum);
      bytes += size;
    }
  }
  flush();
  return batches;
}

function groupByHost(data: readonly MetricDatum[]): MetricDatum[][] {
  const groups = new Map<string, MetricDatum[]>();
  for (const datum of data) {
    const key = datum.dimensions.find((d) => d.name === 'HostId')?.value ?? '';
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [datum]);
    else group.push(datum);
  }
  return [...groups.values()];
}
