/**
 * Where hosts' aging measurements are kept as time series (CloudWatch): the collector publishes the
 * measurements it accepted, the predictive trigger reads the series back.
 */
import type { AgingMeasurement, CollectorRefusalCode } from '../aging/collector-output.js';
import type { PlannedQuery } from '../aging/fleet-queries.js';

export interface MeasurementToPublish {
  readonly measurement: AgingMeasurement;
  /** The host's pool, from the registry: a dimension of every metric. */
  readonly pool: string;
}

/** Per host: published whole, or not at all with the reason (one host's failure never stops the rest). */
export type PublishOutcome =
  | { readonly hostId: string; readonly published: true; readonly datapoints: number }
  | { readonly hostId: string; readonly published: false; readonly error: Error };

export interface SeriesRequest {
  readonly hostId: string;
  readonly pool: string;
  /** Metric names of `metric-data.ts`; `vm` for the per-VM QEMU metrics. */
  readonly metrics: readonly { readonly metricName: string; readonly vm?: string }[];
  readonly start: Date;
  readonly end: Date;
  readonly periodSeconds: number;
  readonly stat: 'Average' | 'Minimum' | 'Maximum' | 'Sum' | 'SampleCount';
}

export interface MetricSeries {
  readonly metricName: string;
  readonly vm: string | undefined;
  /** Ascending by time, one value per timestamp; periods without data are absent (gaps stay gaps). */
  readonly points: readonly { readonly t: number; readonly v: number }[];
}

/** A round's refusals counted by reason, for the `CollectorRefusals` metric (dimension `Reason`). */
export type RefusalCounts = Readonly<Partial<Record<CollectorRefusalCode, number>>>;

/** One query's answer: its points (ascending, one per time, gaps left as gaps), or why its call failed. */
export type QueryAnswer = readonly { readonly t: number; readonly v: number }[] | Error;

export interface AgingMetrics {
  publish(measurements: readonly MeasurementToPublish[]): Promise<PublishOutcome[]>;
  /** One datapoint per reason at `at`, zero for reasons of no refusal: an alarm sees 0, not missing data. */
  publishRefusals(counts: RefusalCounts, at: Date): Promise<void>;
  readSeries(request: SeriesRequest): Promise<MetricSeries[]>;
  /**
   * Many hosts' queries at once, packed into as few calls as the service's limits allow (`packQueries`):
   * one answer per query, in order. A call that fails fails only its own queries.
   */
  readQueries(
    queries: readonly PlannedQuery[],
    range: { readonly start: Date; readonly end: Date },
  ): Promise<{ readonly answers: QueryAnswer[]; readonly calls: number }>;
  /** The QEMU processes with data in the last two weeks, by host: whose RSS series there are to read. */
  listQemuProcesses(): Promise<Map<string, string[]>>;
}
