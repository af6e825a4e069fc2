/**
 * The demo's aging segment: a lab host whose leaking guest makes its QEMU process's resident memory grow
 * (host/guest/heartbeat.asm, leaking variant); collection rounds of the AgingCollector, each run as the
 * schedule would run it once the previous round ended; the AgingPredictor evaluated every few rounds until
 * it starts a rejuvenation with trigger `predictive`; that execution through the synthesized workflow; and
 * the rounds after it, where the new QEMU process's memory is back down.
 *
 * Everything runs at demo speed, which the settings below state: one-second high-resolution periods and a
 * 30-second window instead of 2-hour periods and a 7-day window, and a leak of about 2 MB/s.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Duration } from 'aws-cdk-lib';
import type { PredictionProps, AgingCollectionSettings } from '../cdk/rejuvenation-coordinator.js';
import type { FleetHost } from '../local/lab-fleet.js';
import type { LocalEnvironment } from '../local/local-environment.js';
import type { CollectRoundResult } from '../shared/aging/collect-round.js';
import { AGING_NAMESPACE, QEMU_METRICS } from '../shared/aging/metric-data.js';
import type { FleetPredictionResult } from '../shared/aging/predict-fleet.js';
import type { AgingRun, RssPoint } from './demo-run.js';

/** New translated blocks per guest tick (100 Hz): about 2 MB/s of QEMU memory on this machine. */
export const LEAK_CALLS_PER_TICK = 30;
/** The RSS ceiling of one QEMU process in the demo, as a cgroup memory limit of the VM's process would be. */
const QEMU_RSS_CEILING_BYTES = 1024 * 1024 * 1024;
/**
 * A minute of one-second periods. A round takes about a second on an idle machine and several on a busy
 * one, so the window holds 15 to 60 points; the predictor's floor of 10 points is what it needs at least.
 */
const WINDOW = Duration.seconds(60);
const HORIZON = Duration.minutes(15);
const PROCESS_WARMUP = Duration.seconds(10);
const MIN_POINTS = 10;
/** The span of points a window needs to be judged: as the construct derives it (5/7 of the window). */
const MIN_SPAN_MS = (WINDOW.toMilliseconds() * 5) / 7;
/** Rounds between two evaluations, once the leaking VM's series could be judged. */
const EVALUATE_EVERY_ROUNDS = 2;
/** Give up when nothing fired by then: the segment must stay short. */
const MAX_MS_BEFORE_FIRE = 150_000;
const ROUNDS_AFTER = 5;

export const AGING_COLLECTION: AgingCollectionSettings = {
  highResolution: true,
  maxConcurrency: '100%',
  maxErrors: '100%',
};

/** The predictor's settings at demo speed; every one stated, none hidden. */
export function demoPrediction(): PredictionProps {
  const memTotal = memTotalBytes();
  return {
    period: Duration.seconds(1),
    window: WINDOW,
    horizon: HORIZON,
    minPoints: MIN_POINTS,
    processWarmup: PROCESS_WARMUP,
    // The construct requires an interval of at least 5 minutes and at most the dedupe window; the demo
    // invokes the predictor itself, every few rounds.
    interval: Duration.minutes(5),
    dedupeWindow: Duration.minutes(5),
    limits: { qemuRssCeilingOfTotal: Math.min(1, QEMU_RSS_CEILING_BYTES / memTotal) },
    // The lab hosts are directories on one machine: their MemAvailable, slab and fragmentation are that
    // machine's, moved by whatever else runs on it (a busy machine's fragmentation fired on every
    // recorded lab trace). Only the QEMU processes are each host's own.
    resources: ['qemuRss'],
  };
}

function memTotalBytes(): number {
  const line = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  if (line?.[1] === undefined) throw new Error('/proc/meminfo has no MemTotal');
  return Number(line[1]) * 1024;
}

export function describeDemoSettings(): string {
  return (
    `settings at demo speed: high-resolution metrics, period 1 s, window ${WINDOW.toSeconds()} s, ` +
    `at least ${MIN_POINTS} points, process warm-up ${PROCESS_WARMUP.toSeconds()} s, horizon ${HORIZON.toMinutes()} min, ` +
    `QEMU RSS ceiling ${QEMU_RSS_CEILING_BYTES / 2 ** 20} MiB, QEMU RSS judged alone (deployed defaults: 2 h, 7 d, 48, 3 d, 14 d, MemTotal, every resource)`
  );
}

const mib = (bytes: number | undefined) =>
  bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A scheduled tick of the collector: every delivery of one tick carries the same `time`. */
function tick(time: string) {
  return {
    version: '0',
    id: `sched-${time}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time,
    region: 'local',
    resources: ['arn:aws:events:local:000000000000:rule/AgingCollectionSchedule'],
    detail: {},
  };
}

export interface AgingSegmentOptions {
  readonly host: FleetHost;
  /** The VM running the leaking guest. */
  readonly leakingVm: string;
  readonly elapsed: (ms?: number) => string;
  /** Follows the started execution to its end, printing its steps. */
  readonly follow: (executionName: string) => Promise<void>;
  /** Where each line goes. @default console.log */
  readonly log?: (line: string) => void;
}

export async function runAgingSegment(env: LocalEnvironment, o: AgingSegmentOptions): Promise<AgingRun> {
  const { host, leakingVm, elapsed } = o;
  const log = o.log ?? ((line: string) => console.log(line));
  const vms = [...host.lab.vms.keys()].sort();
  const rss = (vm: string): number | undefined =>
    env.cloudWatch
      .datapoints(AGING_NAMESPACE, QEMU_METRICS.rssBytes.name, {
        HostId: host.hostId,
        Pool: host.pool,
        Vm: vm,
      })
      .at(-1)?.v;
  const series: RssPoint[] = [];
  let lastSeen = 0;
  const round = async (): Promise<void> => {
    const result = (await env.lambda.invoke(
      'AgingCollectorFunction',
      tick(new Date().toISOString()),
    )) as CollectRoundResult;
    const commandId = result.started?.commandId;
    // The next scheduled run comes after this round has ended (the schedule's interval guarantees it).
    for (let i = 0; commandId !== undefined && i < 100; i++) {
      const invocations = env.ssm.commands().filter((c) => c.commandId === commandId);
      if (invocations.length > 0 && invocations.every((c) => !['Pending', 'InProgress'].includes(c.status)))
        break;
      await sleep(50);
    }
    const points = env.cloudWatch.datapoints(AGING_NAMESPACE, QEMU_METRICS.rssBytes.name, {
      HostId: host.hostId,
      Pool: host.pool,
      Vm: leakingVm,
    });
    const latest = points.at(-1);
    if (latest !== undefined && points.length > lastSeen) {
      lastSeen = points.length;
      series.push({ t: latest.t, rssBytes: latest.v });
      log(
        `${elapsed()}  round ${String(series.length).padStart(2)}: ${vms.map((vm) => `${host.hostId}/${vm} RSS ${mib(rss(vm))}`).join(', ')}`,
      );
    }
  };

  log(
    `${elapsed()}  aging: ${host.hostId}/${leakingVm} runs the leaking guest (${LEAK_CALLS_PER_TICK} new translated blocks a tick); ${describeDemoSettings()}`,
  );
  let started: FleetPredictionResult['started'][number] | undefined;
  let evaluations = 0;
  const giveUpAt = Date.now() + MAX_MS_BEFORE_FIRE;
  for (let n = 0; Date.now() < giveUpAt && started === undefined; n++) {
    await round();
    const span = series.length < 2 ? 0 : (series.at(-1) as RssPoint).t - (series[0] as RssPoint).t;
    if (series.length < MIN_POINTS || span < MIN_SPAN_MS || n % EVALUATE_EVERY_ROUNDS !== 0) continue;
    evaluations++;
    const result = (await env.invokeTrigger('AgingPredictor', {})) as FleetPredictionResult;
    started = result.started.find((s) => s.hostId === host.hostId);
    const others = result.started
      .filter((s) => s.hostId !== host.hostId)
      .map((s) => `${s.hostId} (${s.reason.slice(0, 60)}…)`);
    log(
      `${elapsed()}  AgingPredictor: ${result.evaluated} hosts judged, ${result.getMetricDataCalls} GetMetricData call(s); ` +
        (started === undefined ? 'nothing predicted yet' : `started ${started.executionName}`) +
        (others.length > 0 ? `; also started ${others.join(', ')}` : ''),
    );
  }
  if (started === undefined)
    throw new Error(`the predictor never fired for ${host.hostId} (${evaluations} evaluations)`);
  const evidence = parseEvidence(started.reason);
  log(`${elapsed()}  evidence: ${started.reason}`);
  const rssAtFire = series.at(-1)?.rssBytes;
  const firedAt = series.at(-1)?.t;

  await o.follow(started.executionName);
  const execution = env.stepFunctions.execution(started.executionName);
  const before = series.length;
  for (let n = 0; n < ROUNDS_AFTER; n++) await round();
  const after = series.slice(before);
  const rssAfter = after.at(-1)?.rssBytes;
  const fellBack = rssAtFire !== undefined && rssAfter !== undefined && rssAfter < rssAtFire;
  log(
    `${elapsed()}  ${host.hostId}/${leakingVm}: RSS ${mib(rssAtFire)} when predicted, ${mib(rssAfter)} after the rejuvenation: ${fellBack ? 'fell back' : 'DID NOT fall back'}`,
  );
  return {
    hostId: host.hostId,
    vm: leakingVm,
    settings: describeDemoSettings(),
    series,
    ...(firedAt === undefined ? {} : { firedAtMs: firedAt }),
    executionName: started.executionName,
    status: execution?.status ?? 'UNKNOWN',
    reason: started.reason,
    evidence,
    rssAtFireBytes: rssAtFire ?? null,
    rssAfterBytes: rssAfter ?? null,
    fellBack,
  };
}

/** The numbers of the predictor's reason (predict-fleet.ts `evidenceReason`), for the report. */
export function parseEvidence(reason: string): AgingRun['evidence'] {
  const num = (pattern: RegExp) => {
    const m = pattern.exec(reason)?.[1];
    return m === undefined ? null : Number(m);
  };
  return {
    series: /exhaustion of (\S+) at/.exec(reason)?.[1] ?? null,
    s: num(/Mann-Kendall S (-?\d+)/),
    z: num(/, Z (-?[\d.e+-]+),/),
    p: num(/, p ([\d.e+-]+) /),
    slopePerDay: num(/Sen's slope (-?[\d.e+-]+)\/day/),
    projectedExhaustionAt: /at (\S+) \(horizon/.exec(reason)?.[1] ?? null,
  };
}
