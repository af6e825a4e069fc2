/**
 * Records leak-free aging traces from the lab's own QEMU hosts, for `npm run bench:aging`: starts lab
 * hosts with heartbeat guests (host/lab/lab-host.ts), runs the real CollectAging document (the agent's
 * `collect`, through the host document runner, as the SSM agent runs it) on each host every period, judges
 * each reply as the collector does (collector-output.ts), and writes one JSON file per host in the format
 * bench/aging-recorded.ts loads. The files are rewritten after every round, so a recording cut short keeps
 * what it measured. Nothing leaks on these hosts: any prediction on them is a false positive.
 *
 * Timestamps are stored as measured (real time). The file names the real period and the factor
 * (`timeScale`) by which the bench stretches time so that one sample stands for one of its own periods:
 * a 25-minute recording at 10 s becomes 12.5 days of 2-hour points.
 *
 *   npm run record:aging -- [--hosts 3] [--vms 2] [--period-seconds 10] [--minutes 25] [--out bench/traces/lab]
 *                           [--prefix lab] (host ids <prefix>-1, <prefix>-2, ...; a second recording needs another)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadHostDocument } from '../host/documents/load-host-document.js';
import { createLabHost, type LabHost } from '../host/lab/lab-host.js';
import { runDocument } from '../host/runner/run-document.js';
import { judgeCollectorOutput, type AgingMeasurement } from '../shared/aging/collector-output.js';
import { DEFAULT_EXHAUSTION_LIMITS } from '../shared/aging/predict-fleet.js';
import type { RecordedHost } from './aging-recorded.js';
import { runLabBench } from './run-lab-bench.js';

/** The period of the bench's points (bench/aging.ts): one recorded sample stands for one of them. */
const BENCH_PERIOD_MS = 2 * 3_600_000;

interface Recording {
  readonly hostId: string;
  readonly lab: LabHost;
  readonly measurements: AgingMeasurement[];
  readonly refusals: string[];
}

function wholeArg(name: string, raw: string | undefined, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`--${name} must be a whole number ≥ ${min}, got ${raw}`);
  return value;
}

/** The host's measurements as series, with the limits the predictor would give them. */
function recordedHost(r: Recording, periodMs: number, vmMemoryMiB: number): RecordedHost {
  const ms = r.measurements;
  const memTotal = Math.max(...ms.map((m) => m.host.memTotalBytes));
  const limits = DEFAULT_EXHAUSTION_LIMITS;
  const points = (value: (m: AgingMeasurement) => number | undefined) =>
    ms.flatMap((m) => {
      const v = value(m);
      return v === undefined ? [] : [{ t: m.measuredAt.getTime(), v }];
    });
  const vms = [...new Set(ms.flatMap((m) => m.qemu.map((q) => q.vm)))].sort();
  return {
    hostId: r.hostId,
    leakFree: true,
    source: `lab host ${r.lab.id}: ${vms.length} heartbeat guests of ${vmMemoryMiB} MiB (QEMU TCG), CollectAging via the host document runner; MemAvailable, SUnreclaim and fragmentation are this machine's, shared with whatever else ran on it`,
    periodMs,
    timeScale: BENCH_PERIOD_MS / periodMs,
    series: [
      {
        resource: 'memAvailable',
        limit: limits.memAvailableFloorOfTotal * memTotal,
        points: points((m) => m.host.memAvailableBytes),
      },
      {
        resource: 'sUnreclaim',
        limit: limits.sUnreclaimCeilingOfTotal * memTotal,
        points: points((m) => m.host.sUnreclaimBytes),
      },
      {
        resource: 'fragmentation',
        limit: limits.fragmentationCeiling,
        points: points((m) => m.host.unusableFreeIndex['order9']),
      },
      ...vms.map((vm) => {
        const first = ms.find((m) => m.qemu.some((q) => q.vm === vm));
        const q = first?.qemu.find((p) => p.vm === vm);
        const startedAt =
          first === undefined || q === undefined
            ? undefined
            : Math.round(first.measuredAt.getTime() - q.uptimeSeconds * 1000);
        return {
          resource: 'qemuRss',
          name: vm,
          limit: limits.qemuRssCeilingOfTotal * memTotal,
          ...(startedAt === undefined ? {} : { startedAt }),
          points: points((m) => m.qemu.find((p) => p.vm === vm)?.rssBytes),
        };
      }),
    ],
  };
}

async function collect(r: Recording): Promise<void> {
  const run = await runDocument({
    document: loadHostDocument('CollectAging').content,
    documentName: 'CollectAging',
    parameters: { hostId: r.hostId },
    hostRoot: r.lab.root,
  });
  const verdict = judgeCollectorOutput(run.stdout, { hostId: r.hostId }, new Date());
  if (verdict.outcome === 'accepted') r.measurements.push(verdict.measurement);
  else r.refusals.push(`${new Date().toISOString()} ${verdict.code}: ${verdict.reason}`);
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      hosts: { type: 'string', default: '3' },
      vms: { type: 'string', default: '2' },
      'period-seconds': { type: 'string', default: '10' },
      minutes: { type: 'string', default: '25' },
      out: { type: 'string', default: 'bench/traces/lab' },
      prefix: { type: 'string', default: 'lab' },
    },
  });
  const hosts = wholeArg('hosts', args.hosts, 1);
  const vms = wholeArg('vms', args.vms, 1);
  const periodMs = wholeArg('period-seconds', args['period-seconds'], 1) * 1000;
  const minutes = wholeArg('minutes', args.minutes, 1);
  const out = resolve(args.out);
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(args.prefix))
    throw new Error(
      `--prefix must be lower-case letters, digits and dashes, got ${JSON.stringify(args.prefix)}`,
    );
  const vmMemoryMiB = 64;
  await mkdir(out, { recursive: true });

  const recordings: Recording[] = [];
  for (let h = 0; h < hosts; h++) {
    const lab = await createLabHost();
    for (let v = 1; v <= vms; v++) await lab.addVm({ name: `vm${v}`, memoryMiB: vmMemoryMiB });
    await lab.launch();
    recordings.push({ hostId: `${args.prefix}-${h + 1}`, lab, measurements: [], refusals: [] });
  }
  console.log(
    `recording ${hosts} lab hosts x ${vms} VMs every ${periodMs / 1000} s for ${minutes} min into ${out}`,
  );
  const endAt = Date.now() + minutes * 60_000;
  let round = 0;
  for (let next = Date.now(); next < endAt; next += periodMs) {
    await sleep(Math.max(0, next - Date.now()));
    await Promise.all(recordings.map(collect));
    round++;
    for (const r of recordings)
      await writeFile(
        join(out, `${r.hostId}.json`),
        `${JSON.stringify(recordedHost(r, periodMs, vmMemoryMiB))}\n`,
      );
    if (round % 10 === 0)
      console.log(
        `round ${round}: ${recordings.map((r) => `${r.hostId} ${r.measurements.length} ok, ${r.refusals.length} refused`).join('; ')}`,
      );
  }
  for (const r of recordings) {
    for (const refusal of r.refusals) console.log(`${r.hostId} refused: ${refusal}`);
    await r.lab.teardown();
  }
  console.log(`done: ${round} rounds`);
}

runLabBench(main);
