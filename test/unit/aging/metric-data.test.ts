import { describe, expect, it } from 'vitest';
import type { AgingMeasurement } from '../../../shared/aging/collector-output.js';
import {
  batchMetricData,
  datumBytesBound,
  MAX_METRICS_PER_REQUEST,
  measurementMetricData,
  type MetricDatum,
} from '../../../shared/aging/metric-data.js';

const GIB = 2 ** 30;
const AT = new Date(Date.UTC(2026, 11, 1, 12, 0));

function measurement(hostId: string, vms: number): AgingMeasurement {
  return {
    hostId,
    instanceId: undefined,
    measuredAt: AT,
    host: {
      memTotalBytes: 64 * GIB,
      memAvailableBytes: 40 * GIB,
      sUnreclaimBytes: 2 * GIB,
      pageTablesBytes: 1,
      vmallocUsedBytes: 2,
      swapFreeBytes: 0,
      swapTotalBytes: 0,
      uptimeSeconds: 100,
      unusableFreeIndex: { order9: 0.25, order10: 0.5 },
    },
    qemu: Array.from({ length: vms }, (_, i) => ({
      vm: `vm${i}`,
      pid: 100 + i,
      rssBytes: GIB,
      threads: 10,
      openFds: 50,
      uptimeSeconds: 60,
    })),
    unmeasuredVms: [],
  };
}

describe('Function: measurementMetricData', () => {
  it('publishes host metrics with HostId and Pool, QEMU metrics with a Vm dimension too', () => {
    const data = measurementMetricData(measurement('host-1', 2), 'web');
    const host = [
      { name: 'HostId', value: 'host-1' },
      { name: 'Pool', value: 'web' },
    ];
    expect(data).toContainEqual({
      metricName: 'MemAvailableBytes',
      dimensions: host,
      timestamp: AT,
      value: 40 * GIB,
      unit: 'Bytes',
    });
    expect(data).toContainEqual({
      metricName: 'UnusableFreeIndexOrder9',
      dimensions: host,
      timestamp: AT,
      value: 0.25,
      unit: 'None',
    });
    expect(data).toContainEqual({
      metricName: 'QemuRssTotalBytes',
      dimensions: host,
      timestamp: AT,
      value: 2 * GIB,
      unit: 'Bytes',
    });
    expect(data).toContainEqual({
      metricName: 'QemuThreads',
      dimensions: [...host, { name: 'Vm', value: 'vm1' }],
      timestamp: AT,
      value: 10,
      unit: 'Count',
    });
    // 8 host fields, 2 orders, the RSS total, 4 per VM.
    expect(data).toHaveLength(8 + 2 + 1 + 2 * 4);
  });
});

describe('Function: batchMetricData', () => {
  const fleet = Array.from({ length: 120 }, (_, i) =>
    measurementMetricData(measurement(`host-${i}`, 10), 'web'),
  ).flat();

  it('keeps every request within 1,000 metrics and 1 MB, losing and duplicating nothing', () => {
    const batches = batchMetricData(fleet);
    expect(batches.flat()).toEqual(fleet);
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(MAX_METRICS_PER_REQUEST);
      const body = JSON.stringify({ Namespace: 'Rejuv/Aging', MetricData: batch.map(sdkShape) });
      expect(Buffer.byteLength(body)).toBeLessThan(1_000_000);
      expect(batch.reduce((s, d) => s + datumBytesBound(d), 0)).toBeGreaterThan(
        Buffer.byteLength(body) - 1024,
      );
    }
  });

  it('keeps a host whole in one request when it fits', () => {
    const batches = batchMetricData(fleet, { maxMetrics: 100 });
    for (const batch of batches) {
      const hosts = new Set(batch.map((d) => d.dimensions[0]?.value));
      for (const host of hosts) {
        const inBatch = batch.filter((d) => d.dimensions[0]?.value === host).length;
        expect(inBatch).toBe(51);
      }
    }
  });

  it('splits by size when the byte limit binds first', () => {
    const batches = batchMetricData(fleet, { maxBytes: 20_000 });
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches)
      expect(batch.reduce((s, d) => s + datumBytesBound(d), 0)).toBeLessThanOrEqual(19_000);
    expect(batches.flat()).toHaveLength(fleet.length);
  });
});

/** The datum as the JSON-protocol client serializes it (Timestamp as epoch seconds). */
function sdkShape(d: MetricDatum) {
  return {
    MetricName: d.metricName,
    Dimensions: d.dimensions.map((x) => ({ Name: x.name, Value: x.value })),
    Timestamp: d.timestamp.getTime() / 1000,
    Value: d.value,
    Unit: d.unit,
  };
}
