/**
 * The predictive trigger over a small fleet, on the real store (DynamoDB Local) and the local CloudWatch,
 * with synthetic series published through the real client. The execution starter is a double that
 * behaves like Step Functions for names (same name: nothing new).
 */
import { PutMetricDataCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  localCloudWatchClient,
  startLocalCloudWatchEndpoint,
  type RunningLocalCloudWatch,
} from '../../../local/cloudwatch-endpoint.js';
import { CloudWatchAgingMetrics } from '../../../shared/adapters/cloudwatch/cloudwatch-aging-metrics.js';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { hostQueries, packQueries } from '../../../shared/aging/fleet-queries.js';
import {
  AGING_NAMESPACE,
  HOST_METRICS,
  QEMU_METRICS,
  QEMU_RSS_TOTAL_METRIC,
  unusableFreeIndexMetric,
} from '../../../shared/aging/metric-data.js';
import {
  DEFAULT_EXHAUSTION_LIMITS,
  predictFleet,
  type FleetPredictionDeps,
} from '../../../shared/aging/predict-fleet.js';
import { DEFAULT_PREDICTION_CONFIG } from '../../../shared/aging/predictive-decision.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import type { ExecutionStarter, StartedExecution } from '../../../shared/ports/execution-starter.js';
import { freshTables } from '../../support/dynamodb.js';

class NamedExecutions implements ExecutionStarter {
  readonly started = new Map<string, { hostId: string; trigger: string; reason: string }>();
  async start(executionName: string, input: unknown): Promise<StartedExecution> {
    const executionArn = `arn:aws:states:local:000000000000:execution:rejuv:${executionName}`;
    if (this.started.has(executionName)) return { executionArn, executionName, started: false };
    this.started.set(executionName, input as { hostId: string; trigger: string; reason: string });
    return { executionArn, executionName, started: true };
  }
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const GIB = 2 ** 30;
// Whole hours, so the 2-hour periods hold one point each; seven days back from the hour before now.
const END = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const TIMES = Array.from({ length: 84 }, (_, i) => END - (83 - i) * 2 * HOUR);
const START = END - 83 * 2 * HOUR;
/** Deterministic noise in [-1, 1]: the same data on every run. */
const noise = (i: number, salt: number) => Math.sin(i * 12.9898 + salt * 78.233) % 1;

type Shape = (t: number, i: number) => number | undefined;
interface HostData {
  readonly hostId: string;
  readonly memAvailable: Shape;
  readonly memTotal?: number;
  readonly fragmentation?: Shape;
}

async function publish(cloudWatch: CloudWatchClient, host: HostData): Promise<void> {
  const dims = (vm?: string) => [
    { Name: 'HostId', Value: host.hostId },
    { Name: 'Pool', Value: 'p' },
    ...(vm === undefined ? [] : [{ Name: 'Vm', Value: vm }]),
  ];
  const data = TIMES.flatMap((t, i) => {
    const datum = (name: string, value: number | undefined, vm?: string) =>
      value === undefined
        ? []
        : [{ MetricName: name, Dimensions: dims(vm), Timestamp: new Date(t), Value: value }];
    return [
      ...datum(HOST_METRICS.memAvailableBytes.name, host.memAvailable(t, i)),
      ...(host.memTotal === undefined ? [] : datum(HOST_METRICS.memTotalBytes.name, host.memTotal)),
      ...datum(HOST_METRICS.sUnreclaimBytes.name, 2 * GIB + 0.05 * GIB * noise(i, 2)),
      ...datum(unusableFreeIndexMetric(9), host.fragmentation?.(t, i) ?? 0.3 + 0.02 * noise(i, 3)),
      ...datum(QEMU_RSS_TOTAL_METRIC, 60 * GIB + 0.1 * GIB * noise(i, 4)),
      ...datum(QEMU_METRICS.rssBytes.name, 60 * GIB + 0.1 * GIB * noise(i, 4), 'vm-a'),
      ...datum(QEMU_METRICS.uptimeSeconds.name, 30 * 86_400 + (t - START) / 1000, 'vm-a'),
    ];
  });
  for (let from = 0; from < data.length; from += 1000)
    await cloudWatch.send(
      new PutMetricDataCommand({ Namespace: AGING_NAMESPACE, MetricData: data.slice(from, from + 1000) }),
    );
}

let store: Store;
let local: RunningLocalCloudWatch;
let cloudWatch: CloudWatchClient;
beforeAll(async () => {
  store = (await freshTables()).store();
  local = await startLocalCloudWatchEndpoint();
  cloudWatch = localCloudWatchClient(local.endpoint);
  const hosts: HostData[] = [
    // 40 GiB falling 3 GiB a day: the 2.56 GiB floor is about 5 days past the window's end.
    {
      hostId: 'leaky-1',
      memTotal: 128 * GIB,
      memAvailable: (t, i) => 40 * GIB - (3 * GIB * (t - START)) / DAY + 0.2 * GIB * noise(i, 1),
    },
    { hostId: 'flat-1', memTotal: 128 * GIB, memAvailable: (_t, i) => 40 * GIB + 0.5 * GIB * noise(i, 1) },
    // Garbage: a negative MemAvailable, a fragmentation index above 1, and half the points missing.
    {
      hostId: 'garbage-1',
      memTotal: 128 * GIB,
      memAvailable: (_t, i) => (i % 2 === 0 ? undefined : -5 * GIB),
      fragmentation: (_t, i) => (i % 3 === 0 ? 7 : undefined),
    },
    // No MemTotal at all: nothing to set its limits by.
    { hostId: 'nototal-1', memAvailable: (t) => 40 * GIB - (3 * GIB * (t - START)) / DAY },
  ];
  for (const host of hosts) {
    await store.hosts.register({
      hostId: host.hostId,
      pool: 'p',
      availabilityZone: 'az-1',
      instanceId: 'mi-0000000000000abc1',
    });
    await publish(cloudWatch, host);
  }
}, 60_000);
afterAll(async () => {
  cloudWatch.destroy();
  await local.stop();
});

const settings = {
  config: DEFAULT_PREDICTION_CONFIG,
  periodSeconds: 7200,
  limits: DEFAULT_EXHAUSTION_LIMITS,
  level: 'vmm-process',
} as const;

function depsAt(nowMs: number, executions: ExecutionStarter, claims: Store = store): FleetPredictionDeps {
  const clock = new ManualClock(nowMs);
  return {
    hosts: store.hosts,
    metrics: new CloudWatchAgingMetrics(cloudWatch),
    trigger: {
      hosts: store.hosts,
      idempotency: claims.idempotency,
      executions,
      dedupeTtlSeconds: 2 * 86_400,
      clock,
    },
    clock,
  };
}

describe('Use case: predict the fleet', () => {
  it('starts the leaking host once per window with its evidence, the flat one never, and survives garbage', async () => {
    const executions = new NamedExecutions();
    const now = END + HOUR;
    const before = local.calls('GetMetricData');
    const first = await predictFleet(depsAt(now, executions), settings);
    expect(first.started.map((s) => s.hostId)).toEqual(['leaky-1']);
    expect(first.failed.map((f) => f.hostId)).toEqual(['nototal-1']);
    expect(first.failed[0]?.reason).toMatch(/no MemTotal/);
    expect(first.evaluated).toBe(4);

    const [execution] = [...executions.started.values()];
    expect(execution?.trigger).toBe('predictive');
    expect(execution?.reason).toMatch(
      /^predicted exhaustion of memAvailable at \S+Z .*Mann-Kendall S -?\d+, Z -\d+(\.\d+)?, p .*Sen's slope -\d.*\/day, 95% bound -\d.*\/day/,
    );

    // The calls the run made are the calls the bench counts for these hosts' queries.
    const queries = ['flat-1', 'garbage-1', 'leaky-1', 'nototal-1'].flatMap((hostId) =>
      hostQueries({ hostId, pool: 'p' }, hostId === 'nototal-1' ? [] : ['vm-a'], {
        windowMs: settings.config.windowMs,
        periodSeconds: settings.periodSeconds,
      }),
    );
    expect(first.getMetricDataCalls).toBe(packQueries(queries).length);
    expect(local.calls('GetMetricData') - before).toBe(first.getMetricDataCalls);

    // A second evaluation in the same window: the same key, nothing new started.
    const again = await predictFleet(depsAt(now + 6 * HOUR, executions), settings);
    expect(again.started).toEqual([]);
    expect(again.duplicates.map((d) => d.hostId)).toEqual(['leaky-1']);
    expect(executions.started.size).toBe(1);

    // The next window: one more.
    const next = await predictFleet(depsAt(now + DAY, executions), settings);
    expect(next.started.map((s) => s.hostId)).toEqual(['leaky-1']);
    expect(executions.started.size).toBe(2);
  });

  it('judges only the resources it is given: a MemAvailable leak starts nothing when only QEMU RSS is judged', async () => {
    const executions = new NamedExecutions();
    const result = await predictFleet(depsAt(END + HOUR, executions), {
      ...settings,
      resources: ['qemuRss'],
    });
    // Had it judged MemAvailable, leaky-1 would be started, or a duplicate of the first test's start.
    expect(result.started).toEqual([]);
    expect(result.duplicates).toEqual([]);
    expect(result.evaluated).toBe(4);
  });

  it('a failing start of one host does not stop the others', async () => {
    const executions = new NamedExecutions();
    const failing: ExecutionStarter = {
      start: async (name, input) => {
        if ((input as { hostId: string }).hostId === 'leaky-1')
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        return executions.start(name, input);
      },
    };
    // Claims of their own: the first test's claims of this window must not make this start a duplicate.
    const claims = (await freshTables()).store();
    const result = await predictFleet(depsAt(END + HOUR, failing, claims), settings);
    expect(result.failed.map((f) => f.hostId).sort()).toEqual(['leaky-1', 'nototal-1']);
    expect(result.failed.find((f) => f.hostId === 'leaky-1')?.reason).toMatch(/Rate exceeded/);
  });
});
