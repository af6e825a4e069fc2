/**
 * A local CloudWatch for the metrics rejuv publishes and reads, speaking what
 * `@aws-sdk/client-cloudwatch` 3.1164 speaks: AWS JSON 1.0 (`X-Amz-Target:
 * GraniteServiceVersion20100801.<Operation>`, timestamps as epoch seconds) in query-compatible mode
 * (errors named by `x-amzn-query-error` with the Query API's codes, large bodies gzipped). Every request
 * is SigV4-verified with the signer's secret and authorized by local IAM when `iam` is given.
 *
 * Emulated: PutMetricData (Value, or Values with Counts; CloudWatch's limits: 1,000 metrics and 1 MB per
 * request, 30 dimensions, values within ±2^360, timestamps from two weeks ago to two hours ahead, no
 * `AWS/` namespace), GetMetricData (MetricStat queries only, at most 500, Stat Average, Minimum,
 * Maximum, Sum or SampleCount, Period 1, 5, 10, 30 or a multiple of 60, StartTime inclusive, EndTime
 * exclusive, MaxDatapoints pages with NextToken, ScanBy), ListMetrics (filters by namespace, name and
 * dimensions; 500 a page). Datapoints live in memory per (namespace, metric, dimension set), visible at
 * once. Metric alarms (PutMetricAlarm, DeleteAlarms, DescribeAlarms, SetAlarmState) are evaluated on them and send their
 * state changes as EventBridge events (cloudwatch-alarms.ts). Not emulated: metric math and Metrics
 * Insights expressions in GetMetricData, percentiles, StatisticValues, storage resolution (all points are
 * kept), dashboards, entity metric data.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { invalid, isObject, missing } from './cloudwatch-errors.js';
import { offsetPage } from './json-protocol/offset-page.js';
import { AwsServiceError, startAwsJsonServer, type JsonOperation } from './json-protocol/aws-json-server.js';
import type { Authorizer, SigningIdentity } from './iam/local-iam.js';
import { cloudWatchRequests } from './iam/service-requests.js';
import { verifySigV4 } from './iam/sigv4-verifier.js';
import { periodValues, STATS, type Datapoint, type Stat } from './cloudwatch-statistics.js';
import { localAlarms, type AlarmStateChangeEvent, type AlarmStateValue } from './cloudwatch-alarms.js';
import type { ArnContext } from './iam/service-requests.js';

export type { Datapoint } from './cloudwatch-statistics.js';

export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801';
const MAX_METRICS_PER_PUT = 1000;
const MAX_PUT_BYTES = 1_000_000;
const MAX_DIMENSIONS = 30;
const MAX_QUERIES = 500;
const MAX_DATAPOINTS = 100_800;
const LIST_PAGE = 500;
const VALUE_LIMIT = 2 ** 360;
const PAST_LIMIT_MS = 14 * 24 * 3600 * 1000;
const FUTURE_LIMIT_MS = 2 * 3600 * 1000;

export interface LocalCloudWatchOptions {
  /** Local IAM: signatures verified with the signer's secret, calls authorized. @default anyone, unsigned */
  readonly iam?: Authorizer & { signingIdentity(accessKeyId: string): SigningIdentity | undefined };
  readonly region?: string;
  /** Where alarm ARNs live. @default partition aws, the region, account 000000000000 */
  readonly arns?: ArnContext;
  readonly now?: () => Date;
}

export interface RunningLocalCloudWatch {
  readonly endpoint: string;
  /** Every datapoint stored for one metric, in arrival order (for tests). */
  datapoints(
    namespace: string,
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
  ): Datapoint[];
  /** How many requests of an operation were answered (not refused), since the start (for tests). */
  calls(operation: string): number;
  /** Every change of an alarm's state, as CloudWatch sends it to EventBridge. */
  onAlarmStateChange(listener: (event: AlarmStateChangeEvent) => void): void;
  /** Evaluates every alarm now: what CloudWatch does every minute, for time that passed without data. */
  evaluateAlarms(): void;
  /** An alarm's state (for tests). */
  alarmState(name: string): AlarmStateValue | undefined;
  stop(): Promise<void>;
}

interface StoredMetric {
  readonly namespace: string;
  readonly metricName: string;
  /** Sorted by name. */
  readonly dimensions: readonly { Name: string; Value: string }[];
  readonly points: Datapoint[];
}

function text(value: unknown, parameter: string, max: number): string {
  if (value === undefined || value === null || value === '') throw missing(parameter);
  if (typeof value !== 'string' || value.length > max)
    throw invalid(`The value for parameter ${parameter} must be a string of 1 to ${max} characters.`);
  return value;
}

/** JSON 1.0 timestamps are epoch seconds (the SDK sends numbers; strings are accepted as ISO 8601). */
function instant(value: unknown, parameter: string): number {
  if (value === undefined || value === null) throw missing(parameter);
  const ms = typeof value === 'number' ? value * 1000 : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw invalid(`The value for parameter ${parameter} is not a timestamp.`);
  return ms;
}

function dimensionsOf(value: unknown, parameter: string): { Name: string; Value: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${parameter} must be a list.`);
  if (value.length > MAX_DIMENSIONS)
    throw invalid(`The collection ${parameter} must not have a size greater than ${MAX_DIMENSIONS}.`);
  const dimensions = value.map((d: unknown, i) => {
    if (!isObject(d)) throw invalid(`${parameter}.member.${i + 1} must be a structure.`);
    return {
      Name: text(d['Name'], `${parameter}.member.${i + 1}.Name`, 255),
      Value: text(d['Value'], `${parameter}.member.${i + 1}.Value`, 1024),
    };
  });
  const names = new Set(dimensions.map((d) => d.Name));
  if (names.size !== dimensions.length) throw invalid(`${parameter} holds a dimension name twice.`);
  return dimensions.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

const keyOf = (
  namespace: string,
  metricName: string,
  dimensions: readonly { Name: string; Value: string }[],
) => JSON.stringify([namespace, metricName, dimensions.map((d) => [d.Name, d.Value])]);

function checkValue(v: unknown, parameter: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > VALUE_LIMIT)
    throw invalid(`The value ${String(v)} for parameter ${parameter} is invalid.`);
  return v;
}

export async function startLocalCloudWatchEndpoint(
  options: LocalCloudWatchOptions = {},
): Promise<RunningLocalCloudWatch> {
  const metrics = new Map<string, StoredMetric>();
  const answered = new Map<string, number>();
  const now = options.now ?? (() => new Date());
  const region = options.region ?? 'us-east-1';
  const arns = options.arns ?? { partition: 'aws', region, accountId: '000000000000' };
  const alarms = localAlarms({
    alarmArn: (name) => `arn:${arns.partition}:cloudwatch:${arns.region}:${arns.accountId}:alarm:${name}`,
    account: arns.accountId,
    region: arns.region,
    now,
    points: (namespace, metricName, dimensions) =>
      metrics.get(keyOf(namespace, metricName, dimensions))?.points ?? [],
  });

  const putMetricData: JsonOperation = (body) => {
    const namespace = text(body['Namespace'], 'Namespace', 255);
    if (namespace.startsWith('AWS/'))
      throw invalid(`The value ${namespace} for parameter Namespace is invalid: AWS/ is reserved.`);
    if (body['EntityMetricData'] !== undefined) throw invalid('EntityMetricData is not emulated.');
    const data = body['MetricData'];
    if (!Array.isArray(data) || data.length === 0) throw missing('MetricData');
    if (data.length > MAX_METRICS_PER_PUT)
      throw invalid(`The collection MetricData must not have a size greater than ${MAX_METRICS_PER_PUT}.`);
    const at = now().getTime();
    // Checked whole before anything is stored: a refused request stores nothing, as in CloudWatch.
    const parsed = data.map((datum: unknown, i) => {
      const p = `MetricData.member.${i + 1}`;
      if (!isObject(datum)) throw invalid(`${p} must be a structure.`);
      const metricName = text(datum['MetricName'], `${p}.MetricName`, 255);
      const dimensions = dimensionsOf(datum['Dimensions'], `${p}.Dimensions`);
      const t = datum['Timestamp'] === undefined ? at : instant(datum['Timestamp'], `${p}.Timestamp`);
      if (t < at - PAST_LIMIT_MS || t > at + FUTURE_LIMIT_MS)
        throw invalid(
          `The parameter ${p}.Timestamp must specify a time no more than two weeks in the past or two hours in the future.`,
        );
      if (datum['StatisticValues'] !== undefined) throw invalid(`${p}.StatisticValues is not emulated.`);
      const unit = typeof datum['Unit'] === 'string' ? datum['Unit'] : 'None';
      let points: Datapoint[];
      if (datum['Value'] !== undefined) {
        if (datum['Values'] !== undefined)
          throw new AwsServiceError(
            'InvalidParameterCombinationException',
            `${p}: Value and Values are exclusive.`,
            {
              code: 'InvalidParameterCombination',
              status: 400,
            },
          );
        points = [{ t, v: checkValue(datum['Value'], `${p}.Value`), n: 1, unit }];
      } else if (Array.isArray(datum['Values'])) {
        const counts = Array.isArray(datum['Counts']) ? datum['Counts'] : [];
        if (counts.length > 0 && counts.length !== datum['Values'].length)
          throw invalid(`${p}: Values and Counts must be of the same length.`);
        points = datum['Values'].map((v: unknown, j) => ({
          t,
          v: checkValue(v, `${p}.Values.member.${j + 1}`),
          n: counts.length === 0 ? 1 : checkValue(counts[j], `${p}.Counts.member.${j + 1}`),
          unit,
        }));
      } else {
        throw missing(`${p}.Value`);
      }
      return { namespace, metricName, dimensions, points };
    });
    for (const { metricName, dimensions, points } of parsed) {
      const key = keyOf(namespace, metricName, dimensions);
      const stored = metrics.get(key) ?? { namespace, metricName, dimensions, points: [] };
      stored.points.push(...points);
      metrics.set(key, stored);
    }
    alarms.evaluateAll();
    return {};
  };

  const getMetricData: JsonOperation = (body) => {
    const queries = body['MetricDataQueries'];
    if (!Array.isArray(queries) || queries.length === 0) throw missing('MetricDataQueries');
    if (queries.length > MAX_QUERIES)
      throw invalid(`The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`);
    const start = instant(body['StartTime'], 'StartTime');
    const end = instant(body['EndTime'], 'EndTime');
    if (end <= start) throw invalid('The parameter StartTime must be less than the parameter EndTime.');
    const maxDatapoints =
      body['MaxDatapoints'] === undefined ? MAX_DATAPOINTS : Number(body['MaxDatapoints']);
    if (!Number.isInteger(maxDatapoints) || maxDatapoints < 1)
      throw invalid('The parameter MaxDatapoints must be a positive integer.');
    const ascending = body['ScanBy'] === 'TimestampAscending';
    if (
      body['ScanBy'] !== undefined &&
      !['TimestampAscending', 'TimestampDescending'].includes(String(body['ScanBy']))
    )
      throw invalid(`The value ${String(body['ScanBy'])} for parameter ScanBy is invalid.`);

    const ids = new Set<string>();
    const series = queries.map((query: unknown, i) => {
      const p = `MetricDataQueries.member.${i + 1}`;
      if (!isObject(query)) throw invalid(`${p} must be a structure.`);
      const id = text(query['Id'], `${p}.Id`, 255);
      if (!/^[a-z][a-zA-Z0-9_]*$/.test(id))
        throw invalid(
          `The value ${id} for parameter ${p}.Id is invalid: it must start with a lowercase letter.`,
        );
      if (ids.has(id)) throw invalid(`The value ${id} for parameter ${p}.Id is not unique.`);
      ids.add(id);
      if (query['Expression'] !== undefined) throw invalid(`${p}.Expression: metric math is not emulated.`);
      const stat = query['MetricStat'];
      if (!isObject(stat)) throw missing(`${p}.MetricStat`);
      const metric = stat['Metric'];
      if (!isObject(metric)) throw missing(`${p}.MetricStat.Metric`);
      const namespace = text(metric['Namespace'], `${p}.MetricStat.Metric.Namespace`, 255);
      const metricName = text(metric['MetricName'], `${p}.MetricStat.Metric.MetricName`, 255);
      const dimensions = dimensionsOf(metric['Dimensions'], `${p}.MetricStat.Metric.Dimensions`);
      const period = stat['Period'];
      if (
        typeof period !== 'number' ||
        !Number.isInteger(period) ||
        period < 1 ||
        (period >= 60 ? period % 60 !== 0 : ![1, 5, 10, 30].includes(period))
      )
        throw invalid(`The parameter ${p}.MetricStat.Period must be 1, 5, 10, 30 or a multiple of 60.`);
      const statName = stat['Stat'];
      if (!STATS.includes(statName as Stat))
        throw invalid(`The value ${String(statName)} for parameter ${p}.MetricStat.Stat is not emulated.`);
      const unit = typeof stat['Unit'] === 'string' ? stat['Unit'] : undefined;
      const stored = metrics.get(keyOf(namespace, metricName, dimensions));
      const values = periodValues(stored?.points ?? [], statName as Stat, period, start, end, unit);
      const times = [...values.keys()].sort((a, b) => (ascending ? a - b : b - a));
      return {
        id,
        label: typeof query['Label'] === 'string' ? query['Label'] : metricName,
        returnData: query['ReturnData'] !== false,
        points: times.map((t) => ({ t, v: values.get(t) as number })),
      };
    });

    // The token is how many datapoints of the queries' results, in query order, came before this page.
    let offset = 0;
    if (body['NextToken'] !== undefined) {
      offset = Number(Buffer.from(String(body['NextToken']), 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 1)
        throw new AwsServiceError('InvalidNextToken', 'The service found NextToken invalid.', {
          code: 'InvalidNextToken',
          status: 400,
        });
    }
    const returned = series.filter((s) => s.returnData);
    const total = returned.reduce((sum, s) => sum + s.points.length, 0);
    const pageEnd = Math.min(total, offset + maxDatapoints);
    let before = 0;
    const results = returned.map((s) => {
      const from = Math.max(0, offset - before);
      const to = Math.max(0, Math.min(s.points.length, pageEnd - before));
      before += s.points.length;
      const page = s.points.slice(from, Math.max(from, to));
      return {
        Id: s.id,
        Label: s.label,
        Timestamps: page.map((p) => p.t / 1000),
        Values: page.map((p) => p.v),
        StatusCode: to < s.points.length ? 'PartialData' : 'Complete',
      };
    });
    return {
      MetricDataResults: results,
      Messages: [],
      ...(pageEnd < total ? { NextToken: Buffer.from(String(pageEnd)).toString('base64url') } : {}),
    };
  };

  const listMetrics: JsonOperation = (body) => {
    const namespace = body['Namespace'];
    const metricName = body['MetricName'];
    const filters = Array.isArray(body['Dimensions']) ? (body['Dimensions'] as unknown[]) : [];
    const matching = [...metrics.values()]
      .filter((m) => namespace === undefined || m.namespace === namespace)
      .filter((m) => metricName === undefined || m.metricName === metricName)
      .filter((m) =>
        filters.every(
          (f) =>
            isObject(f) &&
            m.dimensions.some(
              (d) => d.Name === f['Name'] && (f['Value'] === undefined || d.Value === f['Value']),
            ),
        ),
      );
    const { page, nextToken } = offsetPage(matching, body['NextToken'], LIST_PAGE);
    return {
      Metrics: page.map((m) => ({
        Namespace: m.namespace,
        MetricName: m.metricName,
        Dimensions: m.dimensions,
      })),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  };

  const iam = options.iam;
  const server = await startAwsJsonServer({
    targetPrefix: CLOUDWATCH_TARGET_PREFIX,
    jsonVersion: '1.0',
    queryCompatible: true,
    maxBodyBytes: MAX_PUT_BYTES,
    operations: Object.fromEntries(
      Object.entries({
        PutMetricData: putMetricData,
        GetMetricData: getMetricData,
        ListMetrics: listMetrics,
        PutMetricAlarm: ((body) => {
          alarms.putMetricAlarm(body);
          return {};
        }) satisfies JsonOperation,
        DeleteAlarms: ((body) => {
          alarms.deleteAlarms(body);
          return {};
        }) satisfies JsonOperation,
        DescribeAlarms: ((body) => alarms.describeAlarms(body)) satisfies JsonOperation,
        SetAlarmState: ((body) => {
          alarms.setAlarmState(body);
          return {};
        }) satisfies JsonOperation,
      }).map(([name, operation]): [string, JsonOperation] => [
        name,
        async (...args) => {
          const answer = await operation(...args);
          answered.set(name, (answered.get(name) ?? 0) + 1);
          return answer;
        },
      ]),
    ),
    ...(iam === undefined
      ? {}
      : {
          verify: async (request) => {
            const verification = await verifySigV4(request, {
              region,
              service: 'monitoring',
              identityOf: (key) => iam.signingIdentity(key),
              now,
            });
            if (verification.outcome === 'refused') {
              const unknown = verification.reason.startsWith('unknown access key');
              throw new AwsServiceError(
                unknown ? 'UnrecognizedClientException' : 'InvalidSignatureException',
                unknown ? 'The security token included in the request is invalid.' : verification.reason,
                { code: unknown ? 'InvalidClientTokenId' : 'SignatureDoesNotMatch', status: 403 },
              );
            }
          },
          authorize: async ({ operation, body, accessKeyId }) => {
            const authorization = await iam.authorize(accessKeyId, cloudWatchRequests(arns, operation, body));
            if (authorization.outcome === 'allowed') return;
            throw new AwsServiceError(
              authorization.outcome === 'denied' ? 'AccessDeniedException' : 'UnrecognizedClientException',
              authorization.message,
              {
                code: authorization.outcome === 'denied' ? 'AccessDenied' : 'InvalidClientTokenId',
                status: 403,
              },
            );
          },
        }),
  });

  return {
    endpoint: server.endpoint,
    datapoints: (namespace, metricName, dimensions) => {
      const sorted = Object.entries(dimensions)
        .map(([Name, Value]) => ({ Name, Value }))
        .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      return [...(metrics.get(keyOf(namespace, metricName, sorted))?.points ?? [])];
    },
    calls: (operation) => answered.get(operation) ?? 0,
    onAlarmStateChange: (listener) => alarms.onStateChange(listener),
    evaluateAlarms: () => alarms.evaluateAll(),
    alarmState: (name) => alarms.stateOf(name),
    stop: () => server.stop(),
  };
}

/**
 * A real CloudWatch client pointed at a local endpoint, with an administrator's credentials unless given.
 * The region must be the endpoint's: the signature's scope names it.
 */
export function localCloudWatchClient(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = {
    accessKeyId: 'local',
    secretAccessKey: 'local',
  },
  region = 'us-east-1',
): CloudWatchClient {
  return new CloudWatchClient({ endpoint, region, credentials, maxAttempts: 2 });
}
