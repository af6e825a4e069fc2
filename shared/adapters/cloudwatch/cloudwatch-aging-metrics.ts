/**
 * AgingMetrics on CloudWatch: PutMetricData in batches within its limits (a batch holds whole hosts when
 * they fit, and a refused batch fails only its own hosts), GetMetricData with at most 500 queries a call,
 * every page of NextToken followed.
 */
import {
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
  type MetricDataQuery,
  type MetricDatum as SdkMetricDatum,
} from '@aws-sdk/client-cloudwatch';
import { cleanPoints } from '../../aging/aging-series.js';
import { COLLECTOR_REFUSALS } from '../../aging/collector-output.js';
import { packQueries, type PlannedQuery } from '../../aging/fleet-queries.js';
import {
  AGING_NAMESPACE,
  COLLECTOR_REFUSALS_METRIC,
  batchMetricData,
  hostDimensions,
  measurementMetricData,
  QEMU_METRICS,
  type MetricDatum,
} from '../../aging/metric-data.js';
import type {
  AgingMetrics,
  MeasurementToPublish,
  MetricSeries,
  PublishOutcome,
  QueryAnswer,
  RefusalCounts,
  SeriesRequest,
} from '../../ports/aging-metrics.js';
import { toAgingMetricsError } from './cloudwatch-errors.js';

/** GetMetricData's limit of queries per call. */
export const MAX_QUERIES_PER_CALL = 500;

export class CloudWatchAgingMetrics implements AgingMetrics {
  constructor(
    private readonly cloudWatch: CloudWatchClient,
    private readonly namespace: string = AGING_NAMESPACE,
    /** 1 publishes high-resolution metrics, readable at periods under a minute; 60 is CloudWatch's default. */
    private readonly storageResolutionSeconds: 1 | 60 = 60,
  ) {}

  async publish(measurements: readonly MeasurementToPublish[]): Promise<PublishOutcome[]> {
    const data = measurements.flatMap(({ measurement, pool }) => measurementMetricData(measurement, pool));
    const failed = new Map<string, Error>();
    for (const batch of batchMetricData(data)) {
      try {
        await this.cloudWatch.send(
          new PutMetricDataCommand({
            Namespace: this.namespace,
            MetricData: batch.map((d) => toSdkDatum(d, this.storageResolutionSeconds)),
          }),
        );
      } catch (error) {
        const mapped = toAgingMetricsError(error, 'PutMetricData');
        if (!(mapped instanceof Error)) throw mapped;
        for (const hostId of hostsOf(batch)) failed.set(hostId, mapped);
      }
    }
    return measurements.map(({ measurement, pool }) => {
      const error = failed.get(measurement.hostId);
      return error === undefined
        ? {
            hostId: measurement.hostId,
            published: true,
            datapoints: measurementMetricData(measurement, pool).length,
          }
        : { hostId: measurement.hostId, published: false, error };
    });
  }

  async publishRefusals(counts: RefusalCounts, at: Date): Promise<void> {
    const data = COLLECTOR_REFUSALS.map((reason) => ({
      MetricName: COLLECTOR_REFUSALS_METRIC,
      Dimensions: [{ Name: 'Reason', Value: reason }],
      Timestamp: at,
      Value: counts[reason] ?? 0,
      Unit: 'Count' as const,
    }));
    await this.cloudWatch
      .send(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: data }))
      .catch((error: unknown) => {
        throw toAgingMetricsError(error, 'PutMetricData');
      });
  }

  async readSeries(request: SeriesRequest): Promise<MetricSeries[]> {
    const queries: MetricDataQuery[] = request.metrics.map(({ metricName, vm }, i) => ({
      Id: `m${i}`,
      MetricStat: {
        Metric: {
          Namespace: this.namespace,
          MetricName: metricName,
          Dimensions: [
            ...hostDimensions(request).map(({ name, value }) => ({ Name: name, Value: value })),
            ...(vm === undefined ? [] : [{ Name: 'Vm', Value: vm }]),
          ],
        },
        Period: request.periodSeconds,
        Stat: request.stat,
      },
    }));
    const points = new Map<string, { t: number; v: number }[]>();
    for (let from = 0; from < queries.length; from += MAX_QUERIES_PER_CALL) {
      const chunk = queries.slice(from, from + MAX_QUERIES_PER_CALL);
      let nextToken: string | undefined;
      do {
        const page = await this.cloudWatch
          .send(
            new GetMetricDataCommand({
              MetricDataQueries: chunk,
              StartTime: request.start,
              EndTime: request.end,
              ScanBy: 'TimestampAscending',
              NextToken: nextToken,
            }),
          )
          .catch((error: unknown) => {
            throw toAgingMetricsError(error, 'GetMetricData');
          });
        for (const result of page.MetricDataResults ?? []) {
          const timestamps = result.Timestamps ?? [];
          const values = result.Values ?? [];
          const into = points.get(result.Id ?? '') ?? [];
          timestamps.forEach((t, j) => {
            const v = values[j];
            // A missing or non-finite value is dropped: a gap, never a zero.
            if (v !== undefined && Number.isFinite(v)) into.push({ t: t.getTime(), v });
          });
          points.set(result.Id ?? '', into);
        }
        nextToken = page.NextToken;
      } while (nextToken !== undefined);
    }
    return request.metrics.map(({ metricName, vm }, i) => {
      // Pages may overlap and repeat a timestamp; the series keeps one value per time.
      const { times, values } = cleanPoints(points.get(`m${i}`) ?? []);
      return { metricName, vm, points: times.map((t, j) => ({ t, v: values[j] as number })) };
    });
  }

  async readQueries(
    queries: readonly PlannedQuery[],
    range: { readonly start: Date; readonly end: Date },
  ): Promise<{ answers: QueryAnswer[]; calls: number }> {
    const indexed = queries.map((query, index) => ({ ...query, index }));
    const answers: QueryAnswer[] = queries.map(() => []);
    let calls = 0;
    for (const call of packQueries(indexed)) {
      const sdkQueries: MetricDataQuery[] = call.map((q) => ({
        Id: `q${q.index}`,
        MetricStat: {
          Metric: {
            Namespace: this.namespace,
            MetricName: q.metricName,
            Dimensions: [
              ...hostDimensions(q).map(({ name, value }) => ({ Name: name, Value: value })),
              ...(q.vm === undefined ? [] : [{ Name: 'Vm', Value: q.vm }]),
            ],
          },
          Period: q.periodSeconds,
          Stat: q.stat,
        },
      }));
      const points = new Map<string, { t: number; v: number }[]>();
      try {
        let nextToken: string | undefined;
        do {
          calls++;
          const page = await this.cloudWatch
            .send(
              new GetMetricDataCommand({
                MetricDataQueries: sdkQueries,
                StartTime: range.start,
                EndTime: range.end,
                ScanBy: 'TimestampAscending',
                NextToken: nextToken,
              }),
            )
            .catch((error: unknown) => {
              throw toAgingMetricsError(error, 'GetMetricData');
            });
          for (const result of page.MetricDataResults ?? []) collectPoints(points, result);
          nextToken = page.NextToken;
        } while (nextToken !== undefined);
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        for (const q of call) answers[q.index] = error;
        continue;
      }
      for (const q of call) {
        const { times, values } = cleanPoints(points.get(`q${q.index}`) ?? []);
        answers[q.index] = times.map((t, j) => ({ t, v: values[j] as number }));
      }
    }
    return { answers, calls };
  }

  async listQemuProcesses(): Promise<Map<string, string[]>> {
    const byHost = new Map<string, string[]>();
    let nextToken: string | undefined;
    do {
      const page = await this.cloudWatch
        .send(
          new ListMetricsCommand({
            Namespace: this.namespace,
            MetricName: QEMU_METRICS.rssBytes.name,
            NextToken: nextToken,
          }),
        )
        .catch((error: unknown) => {
          throw toAgingMetricsError(error, 'ListMetrics');
        });
      for (const metric of page.Metrics ?? []) {
        const hostId = metric.Dimensions?.find((d) => d.Name === 'HostId')?.Value;
        const vm = metric.Dimensions?.find((d) => d.Name === 'Vm')?.Value;
        if (hostId === undefined || vm === undefined) continue;
        const vms = byHost.get(hostId) ?? [];
        if (!vms.includes(vm)) vms.push(vm);
        byHost.set(hostId, vms);
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    for (const vms of byHost.values()) vms.sort();
    return byHost;
  }
}

function collectPoints(
  points: Map<string, { t: number; v: number }[]>,
  result: { Id?: string | undefined; Timestamps?: Date[] | undefined; Values?: number[] | undefined },
): void {
  const into = points.get(result.Id ?? '') ?? [];
  const values = result.Values ?? [];
  (result.Timestamps ?? []).forEach((t, j) => {
    const v = values[j];
    // A missing or non-finite value is dropped: a gap, never a zero.
    if (v !== undefined && Number.isFinite(v)) into.push({ t: t.getTime(), v });
  });
  points.set(result.Id ?? '', into);
}

function toSdkDatum(datum: MetricDatum, storageResolutionSeconds: 1 | 60): SdkMetricDatum {
  return {
    MetricName: datum.metricName,
    Dimensions: datum.dimensions.map(({ name, value }) => ({ Name: name, Value: value })),
    Timestamp: datum.timestamp,
    Value: datum.value,
    Unit: datum.unit,
    ...(storageResolutionSeconds === 1 ? { StorageResolution: 1 } : {}),
  };
}

function hostsOf(batch: readonly MetricDatum[]): Set<string> {
  return new Set(batch.map((d) => d.dimensions.find((x) => x.name === 'HostId')?.value ?? ''));
}
