import {
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIam } from '../../../local/iam/local-iam.js';
import {
  localCloudWatchClient,
  startLocalCloudWatchEndpoint,
  type RunningLocalCloudWatch,
} from '../../../local/cloudwatch-endpoint.js';
import { CloudWatchAgingMetrics } from '../../../shared/adapters/cloudwatch/cloudwatch-aging-metrics.js';
import type { AgingMeasurement } from '../../../shared/aging/collector-output.js';
import { AGING_NAMESPACE } from '../../../shared/aging/metric-data.js';

const ACCOUNT = '000000000000';
const GIB = 2 ** 30;
const MINUTE = 60_000;
// Whole minutes, a little in the past: within what PutMetricData accepts, away from bucket edges.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
const iam = new LocalIam(ACCOUNT);
let cloudWatch: RunningLocalCloudWatch;
let admin: CloudWatchClient;

beforeAll(async () => {
  cloudWatch = await startLocalCloudWatchEndpoint({ iam });
  admin = localCloudWatchClient(cloudWatch.endpoint);
});
afterAll(async () => {
  admin.destroy();
  await cloudWatch.stop();
});

const dims = (hostId: string) => [
  { Name: 'HostId', Value: hostId },
  { Name: 'Pool', Value: 'web' },
];

describe('Local CloudWatch: the real client, JSON 1.0 in query-compatible mode', () => {
  it('stores PutMetricData per metric and dimension set, and GetMetricData aggregates each Stat per period', async () => {
    await admin.send(
      new PutMetricDataCommand({
        Namespace: 'Test/Stats',
        MetricData: [1, 2, 3, 10].map((v, i) => ({
          MetricName: 'Load',
          // Dimensions in another order are the same metric.
          Dimensions: i % 2 === 0 ? dims('h1') : [...dims('h1')].reverse(),
          Timestamp: new Date(T0 + i * 20_000),
          Value: v,
          Unit: 'Count',
        })),
      }),
    );
    await admin.send(
      new PutMetricDataCommand({
        Namespace: 'Test/Stats',
        MetricData: [{ MetricName: 'Load', Dimensions: dims('h2'), Timestamp: new Date(T0), Value: 99 }],
      }),
    );
    const stats = ['Average', 'Minimum', 'Maximum', 'Sum', 'SampleCount'] as const;
    const { MetricDataResults } = await admin.send(
      new GetMetricDataCommand({
        StartTime: new Date(T0),
        EndTime: new Date(T0 + 10 * MINUTE),
        MetricDataQueries: stats.map((Stat) => ({
          Id: Stat.toLowerCase(),
          MetricStat: {
            Metric: { Namespace: 'Test/Stats', MetricName: 'Load', Dimensions: dims('h1') },
            Period: 60,
            Stat,
          },
        })),
      }),
    );
    // 1, 2, 3 in the first minute; 10 in the second (T0 + 60 s).
    expect(MetricDataResults?.map((r) => [r.Id, r.Values, r.StatusCode])).toEqual([
      ['average', [10, 2], 'Complete'],
      ['minimum', [10, 1], 'Complete'],
      ['maximum', [10, 3], 'Complete'],
      ['sum', [10, 6], 'Complete'],
      ['samplecount', [1, 3], 'Complete'],
    ]);
    expect(MetricDataResults?.[0]?.Timestamps).toEqual([new Date(T0 + MINUTE), new Date(T0)]);
  });

  it('pages GetMetricData with NextToken at MaxDatapoints, losing and repeating nothing', async () => {
    await admin.send(
      new PutMetricDataCommand({
        Namespace: 'Test/Pages',
        MetricData: Array.from({ length: 25 }, (_, i) => ({
          MetricName: i % 2 === 0 ? 'Even' : 'Odd',
          Timestamp: new Date(T0 + i * MINUTE),
          Value: i,
        })),
      }),
    );
    const seen: Record<string, number[]> = { even: [], odd: [] };
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await admin.send(
        new GetMetricDataCommand({
          StartTime: new Date(T0),
          EndTime: new Date(T0 + 60 * MINUTE),
          ScanBy: 'TimestampAscending',
          MaxDatapoints: 5,
          NextToken,
          MetricDataQueries: ['Even', 'Odd'].map((name) => ({
            Id: name.toLowerCase(),
            MetricStat: { Metric: { Namespace: 'Test/Pages', MetricName: name }, Period: 60, Stat: 'Sum' },
          })),
        }),
      );
      for (const r of page.MetricDataResults ?? []) seen[r.Id ?? '']?.push(...(r.Values ?? []));
      NextToken = page.NextToken;
      pages += 1;
    } while (NextToken !== undefined);
    expect(pages).toBe(5);
    expect(seen['even']).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
    expect(seen['odd']).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
  });

  it('refuses what CloudWatch refuses, with its error names: bad values, limits, AWS/ namespaces', async () => {
    const put = (
      MetricData: NonNullable<ConstructorParameters<typeof PutMetricDataCommand>[0]['MetricData']>,
      Namespace = 'Test/Bad',
    ) => admin.send(new PutMetricDataCommand({ Namespace, MetricData }));
    await expect(put([{ MetricName: 'X', Value: 2 ** 361 }])).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    await expect(put([{ MetricName: 'X', Value: 1 }], 'AWS/EC2')).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    await expect(
      put([{ MetricName: 'X', Value: 1, Timestamp: new Date(Date.now() - 15 * 86_400_000) }]),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(
      put(Array.from({ length: 1001 }, () => ({ MetricName: 'X', Value: 1 }))),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(
      put([
        {
          MetricName: 'X',
          Value: 1,
          Dimensions: Array.from({ length: 31 }, (_, i) => ({ Name: `d${i}`, Value: 'v' })),
        },
      ]),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    // None of the refused requests stored anything.
    const { Metrics } = await admin.send(new ListMetricsCommand({ Namespace: 'Test/Bad' }));
    expect(Metrics).toEqual([]);
    const query = (n: number) =>
      admin.send(
        new GetMetricDataCommand({
          StartTime: new Date(T0),
          EndTime: new Date(T0 + MINUTE),
          MetricDataQueries: Array.from({ length: n }, (_, i) => ({
            Id: `q${i}`,
            MetricStat: {
              Metric: { Namespace: 'Test/Stats', MetricName: 'Load' },
              Period: 60,
              Stat: 'Average',
            },
          })),
        }),
      );
    await expect(query(500)).resolves.toBeDefined();
    await expect(query(501)).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });

  it('accepts a gzipped body of 1,000 metrics, as the client sends one over 10 KB', async () => {
    await admin.send(
      new PutMetricDataCommand({
        Namespace: 'Test/Big',
        MetricData: Array.from({ length: 1000 }, (_, i) => ({
          MetricName: `M${i % 10}`,
          Dimensions: dims(`host-${i}`),
          Timestamp: new Date(T0),
          Value: i,
        })),
      }),
    );
    expect(cloudWatch.datapoints('Test/Big', 'M3', { HostId: 'host-3', Pool: 'web' })).toEqual([
      { t: T0, v: 3, n: 1, unit: 'None' },
    ]);
    let count = 0;
    let NextToken: string | undefined;
    do {
      const page = await admin.send(new ListMetricsCommand({ Namespace: 'Test/Big', NextToken }));
      count += page.Metrics?.length ?? 0;
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    expect(count).toBe(1000);
  });
});

describe('Local CloudWatch: SigV4 and IAM', () => {
  const publisher = () =>
    iam.assumeRole('Collector', 'c', [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'cloudwatch:PutMetricData',
            Resource: '*',
            Condition: { StringEquals: { 'cloudwatch:namespace': AGING_NAMESPACE } },
          },
        ],
      },
    ]);

  it('lets a role publish only to the namespace its policy names, and not read', async () => {
    const client = localCloudWatchClient(cloudWatch.endpoint, publisher());
    const datum = { MetricName: 'X', Value: 1 };
    await client.send(new PutMetricDataCommand({ Namespace: AGING_NAMESPACE, MetricData: [datum] }));
    await expect(
      client.send(new PutMetricDataCommand({ Namespace: 'Other/Namespace', MetricData: [datum] })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringMatching(/not authorized to perform: cloudwatch:PutMetricData/),
      $metadata: { httpStatusCode: 403 },
    });
    await expect(client.send(new ListMetricsCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(cloudWatch.datapoints('Other/Namespace', 'X', {})).toEqual([]);
  });

  it('refuses a request signed with the wrong secret, and an unknown key', async () => {
    const session = publisher();
    const forged = localCloudWatchClient(cloudWatch.endpoint, {
      ...session,
      secretAccessKey: 'not-the-secret',
    });
    await expect(
      forged.send(
        new PutMetricDataCommand({
          Namespace: AGING_NAMESPACE,
          MetricData: [{ MetricName: 'Forged', Value: 1 }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    const stranger = localCloudWatchClient(cloudWatch.endpoint, {
      accessKeyId: 'AKIASTRANGER',
      secretAccessKey: 'x',
    });
    await expect(stranger.send(new ListMetricsCommand({}))).rejects.toMatchObject({
      name: 'InvalidClientTokenId',
    });
    expect(cloudWatch.datapoints(AGING_NAMESPACE, 'Forged', {})).toEqual([]);
  });
});

describe('Adapter: CloudWatchAgingMetrics', () => {
  function measurement(hostId: string, at: number, memAvailableGiB: number): AgingMeasurement {
    return {
      hostId,
      instanceId: undefined,
      measuredAt: new Date(at),
      host: {
        memTotalBytes: 64 * GIB,
        memAvailableBytes: memAvailableGiB * GIB,
        sUnreclaimBytes: GIB,
        pageTablesBytes: 1,
        vmallocUsedBytes: 1,
        swapFreeBytes: 0,
        swapTotalBytes: 0,
        uptimeSeconds: 1000,
        unusableFreeIndex: { order9: 0.3 },
      },
      qemu: [{ vm: 'vm1', pid: 10, rssBytes: 2 * GIB, threads: 4, openFds: 30, uptimeSeconds: 500 }],
      unmeasuredVms: [],
    };
  }

  it('publishes hosts under the collector role and reads their series back in order, gaps kept', async () => {
    const collector = localCloudWatchClient(
      cloudWatch.endpoint,
      iam.assumeRole('CollectorFn', 'a', [
        {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['cloudwatch:PutMetricData', 'cloudwatch:GetMetricData'],
              Resource: '*',
            },
          ],
        },
      ]),
    );
    const metrics = new CloudWatchAgingMetrics(collector);
    // Minutes 0, 1 and 3: minute 2 is a gap. Published newest first.
    const outcomes = await metrics.publish(
      [3, 1, 0].map((m) => ({ measurement: measurement('host-a', T0 + m * MINUTE, 40 - m), pool: 'web' })),
    );
    expect(outcomes.every((o) => o.published)).toBe(true);
    const [free, rss] = await metrics.readSeries({
      hostId: 'host-a',
      pool: 'web',
      metrics: [{ metricName: 'MemAvailableBytes' }, { metricName: 'QemuRssBytes', vm: 'vm1' }],
      start: new Date(T0),
      end: new Date(T0 + 10 * MINUTE),
      periodSeconds: 60,
      stat: 'Average',
    });
    expect(free?.points).toEqual([
      { t: T0, v: 40 * GIB },
      { t: T0 + MINUTE, v: 39 * GIB },
      { t: T0 + 3 * MINUTE, v: 37 * GIB },
    ]);
    expect(rss?.points.map((p) => p.v)).toEqual([2 * GIB, 2 * GIB, 2 * GIB]);
  });

  it('reports a host whose batch CloudWatch refused, and publishes the others', async () => {
    // A role that may publish nothing: every host fails, each with AgingMetricsRejectedError.
    const mute = localCloudWatchClient(cloudWatch.endpoint, iam.assumeRole('Mute', 'm', []));
    const outcomes = await new CloudWatchAgingMetrics(mute).publish([
      { measurement: measurement('host-b', T0, 30), pool: 'web' },
    ]);
    expect(outcomes).toEqual([
      {
        hostId: 'host-b',
        published: false,
        error: expect.objectContaining({ name: 'AgingMetricsRejectedError' }),
      },
    ]);
  });
});
