/**
 * The predictive trigger against a static threshold alarm, on labelled synthetic traces (see
 * `aging-traces.ts` for the host model and its parameters) and on recorded leak-free traces of the lab's
 * own QEMU hosts (`bench/traces/lab`, from `npm run record:aging`; `--recorded DIR` reads another
 * directory, `--recorded ''` none). Deterministic: `--seed N` picks the traces. Each host is evaluated as
 * the scheduled function would: every 6 hours, on 2-hour means of the last window, by the trigger's own
 * decision (`judgeSeries`; the input validation is skipped for generated traces, which are clean by
 * construction; recorded ones go through `predictHost`, validation included).
 *
 * Besides the hosts of the model's own draws, two sets that test the judging of the recent regime
 * (regime-change.ts): leaks that start late, after a flat history, at 50%, 70% or 85% of the window into
 * the trace (the first judged windows are flat for that share, then falling), each fast (2-6 days from
 * start to exhaustion) or slow (6-30 days), the four leak kinds in turn; and leak-free hosts whose
 * MemAvailable changes level once, by a step or by a dip to a plateau (`HostScenario` in aging-traces.ts).
 *
 *   npm run bench:aging -- [--seed 1] [--leak-free 1000] [--leaking 400] [--late 300] [--level-changes 400]
 *     [--recorded DIR] [--window-only]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CleanSeries } from '../shared/aging/aging-series.js';
import {
  DEFAULT_PREDICTION_CONFIG,
  judgeSeries,
  predictHost,
  type PredictionConfig,
} from '../shared/aging/predictive-decision.js';
import { adjustForGuests } from '../shared/aging/guest-adjustment.js';
import { hostQueries, packQueries } from '../shared/aging/fleet-queries.js';
import { loadRecordedHosts, type RecordedHost } from './aging-recorded.js';
import { Prng } from './aging-prng.js';
import {
  generateHost,
  LEAK_KINDS,
  pastLevel,
  STEP_MS,
  TRACE_START_MS,
  type HostTrace,
  type LeakKind,
  type TraceSeries,
} from './aging-traces.js';
import { median, round } from './statistics.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The late-starting leaks: onset as a share of the window, days from the leak's start to exhaustion. */
const LATE_LEAKS = [0.5, 0.7, 0.85].flatMap((onset) =>
  (
    [
      ['fast', [2, 6]],
      ['slow', [6, 30]],
    ] as const
  ).map(([rate, days]) => ({ row: `late ${100 * onset}% ${rate}`, onset, days })),
);
const EVALUATION_INTERVAL_MS = 6 * HOUR_MS;
/**
 * The period of the points the trigger reads (GetMetricData's Period, statistic Average). Two hours: the
 * noise of aging metrics is correlated over hours, so finer points add little information, while the
 * test and Sen's slope cost O(n²) in the points of a window.
 */
const PERIOD_MS = Number(process.env['AGING_PERIOD_HOURS'] ?? '2') * HOUR_MS;
const STEPS_PER_PERIOD = PERIOD_MS / STEP_MS;
/** GetMetricData: $0.01 per 1,000 metrics requested (its limits per call: fleet-queries.ts). */
const GMD_DOLLARS_PER_METRIC = 0.01 / 1000;
const FLEET = 10_000;

interface Outcome {
  readonly trace: HostTrace;
  /** The table's row: the leak's kind, a late leak's onset and rate, or a leak-free host's level change. */
  readonly row: string;
  /** When the trigger first fired, if it did. */
  readonly firedAt: number | undefined;
  readonly firedOn: string | undefined;
  /** When the static alarm first held (for a leaking host: at or after the leak's start). */
  readonly alarmAt: number | undefined;
  /** The static alarm held before the leak started (a leaking host) or at all (a leak-free one). */
  readonly alarmBeforeLeak: boolean;
  readonly meanSeries: number;
}

/** Means of the 5-minute values per period, as GetMetricData's Average; sparse periods dropped. */
function perPeriod(series: TraceSeries): CleanSeries {
  const { times, values } = periodMeans(series.values);
  return {
    resource: series.resource,
    name: series.name,
    startedAt: series.startedAtMs,
    limit: series.limit,
    times,
    values,
    duplicatesMerged: 0,
  };
}

function periodMeans(fiveMinute: Float64Array): { times: number[]; values: number[] } {
  const times: number[] = [];
  const values: number[] = [];
  for (let h = 0; (h + 1) * STEPS_PER_PERIOD <= fiveMinute.length; h++) {
    let sum = 0;
    let count = 0;
    for (let i = h * STEPS_PER_PERIOD; i < (h + 1) * STEPS_PER_PERIOD; i++) {
      const v = fiveMinute[i] as number;
      if (!Number.isNaN(v)) {
        sum += v;
        count++;
      }
    }
    if (count >= STEPS_PER_PERIOD / 2) {
      times.push(TRACE_START_MS + h * PERIOD_MS);
      values.push(sum / count);
    }
  }
  return { times, values };
}

/** The first time the static alarm holds for 3 consecutive 5-minute periods at or after `fromMs`. */
function alarmTime(trace: HostTrace, fromMs: number): number | undefined {
  let first: number | undefined;
  for (const series of trace.series) {
    let run = 0;
    for (let step = 0; step < series.values.length; step++) {
      const v = series.values[step] as number;
      run = !Number.isNaN(v) && pastLevel(series.resource, v, series.alarmThreshold) ? run + 1 : 0;
      const at = TRACE_START_MS + step * STEP_MS;
      if (run >= 3 && at >= fromMs) {
        if (first === undefined || at < first) first = at;
        break;
      }
    }
  }
  return first;
}

function evaluate(trace: HostTrace, row: string, config: PredictionConfig): Outcome {
  const guests = periodMeans(trace.guestRss);
  const series = trace.series.map((s) =>
    s.resource === 'memAvailable' ? adjustForGuests(perPeriod(s), guests) : perPeriod(s),
  );
  const endMs = trace.exhaustionMs ?? TRACE_START_MS + trace.steps * STEP_MS;
  let firedAt: number | undefined;
  let firedOn: string | undefined;
  let seriesSeen = 0;
  let evaluations = 0;
  for (let now = TRACE_START_MS + EVALUATION_INTERVAL_MS; now < endMs; now += EVALUATION_INTERVAL_MS) {
    evaluations++;
    // `now - 1`: the period ending at `now` is complete and included, the one starting at `now` is not.
    for (const s of series) {
      const verdict = judgeSeries(s, now - 1, config);
      // Every series with a point in the window is fetched, judged or not (a VM still warming up).
      const first = s.times[0];
      const last = s.times.at(-1);
      if (first !== undefined && last !== undefined && first < now && last >= now - config.windowMs)
        seriesSeen++;
      if (verdict.status === 'fire' && firedAt === undefined) {
        firedAt = now;
        firedOn = verdict.series;
      }
    }
    if (firedAt !== undefined) break;
  }
  const leakStart = trace.leak?.startMs ?? TRACE_START_MS;
  return {
    trace,
    row,
    firedAt,
    firedOn,
    alarmAt: alarmTime(trace, leakStart),
    alarmBeforeLeak:
      trace.leak === undefined
        ? alarmTime(trace, TRACE_START_MS) !== undefined
        : alarmTime(trace, TRACE_START_MS) !== undefined &&
          (alarmTime(trace, TRACE_START_MS) as number) < leakStart,
    meanSeries: evaluations > 0 ? seriesSeen / evaluations : 0,
  };
}

const DEFAULT_RECORDED_DIR = join(import.meta.dirname, 'traces', 'lab');

interface RecordedOutcome {
  readonly host: RecordedHost;
  readonly points: number;
  readonly spanDays: number;
  readonly evaluations: number;
  /** How often each verdict came up, over every series of every evaluation. */
  readonly verdicts: Readonly<Record<string, number>>;
  /** The series of the first firing, if any. */
  readonly firedOn: string | undefined;
  /** Evaluations that fired: unlike the synthetic hosts', the evaluation goes on after the first. */
  readonly firings: number;
  readonly alarmOn: string | undefined;
}

/** The static alarm's level for a recorded series, as the synthetic host model sets it from the limit. */
function recordedAlarmLevel(resource: string, limit: number): number {
  switch (resource) {
    case 'memAvailable':
      return 5 * limit; // 10% of MemTotal for a floor of 2%
    case 'fragmentation':
      return 0.9;
    case 'sUnreclaim':
      return 0.8 * limit;
    default:
      return 0.95 * limit;
  }
}

/** A recorded host evaluated as the scheduled function would, every 6 hours of its (stretched) time. */
function evaluateRecorded(host: RecordedHost, config: PredictionConfig): RecordedOutcome {
  const series = host.series as {
    resource?: string;
    name?: string;
    limit?: number;
    points?: { t: number; v: number }[];
  }[];
  const times = series.flatMap((s) => (s.points ?? []).map((p) => p.t)).filter(Number.isFinite);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const verdicts: Record<string, number> = {};
  let evaluations = 0;
  let firedOn: string | undefined;
  let firings = 0;
  // Every evaluation, even after a firing: a recording is short, and what the later windows say of the
  // series the first firing cut short (the QEMU processes, still warming up at first) is worth seeing.
  for (let now = first + EVALUATION_INTERVAL_MS; now <= last; now += EVALUATION_INTERVAL_MS) {
    evaluations++;
    const prediction = predictHost({ hostId: host.hostId, series: host.series, now }, config);
    for (const v of prediction.verdicts) {
      const key = v.status === 'fire' ? `fire (${v.series})` : v.status;
      verdicts[key] = (verdicts[key] ?? 0) + 1;
    }
    if (prediction.fire) {
      firedOn ??= prediction.series;
      firings++;
    }
  }
  let alarmOn: string | undefined;
  for (const s of series) {
    if (s.resource === undefined || s.limit === undefined) continue;
    const level = recordedAlarmLevel(s.resource, s.limit);
    let run = 0;
    for (const p of s.points ?? []) {
      run = pastLevel(s.resource as TraceSeries['resource'], p.v, level) ? run + 1 : 0;
      if (run >= 3) {
        alarmOn ??= s.name === undefined ? s.resource : `${s.resource}:${s.name}`;
        break;
      }
    }
  }
  return {
    host,
    points: Math.max(0, ...series.map((s) => s.points?.length ?? 0)),
    spanDays: (last - first) / 86_400_000,
    evaluations,
    verdicts,
    firedOn,
    firings,
    alarmOn,
  };
}

function leadHours(outcome: Outcome, at: number | undefined): number {
  const { trace } = outcome;
  if (at === undefined || trace.exhaustionMs === undefined || trace.leak === undefined) return 0;
  if (at < trace.leak.startMs || at >= trace.exhaustionMs) return 0;
  return (trace.exhaustionMs - at) / HOUR_MS;
}

function main(): void {
  const { values: args } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      'leak-free': { type: 'string', default: '1000' },
      leaking: { type: 'string', default: '400' },
      late: { type: 'string', default: '300' },
      'level-changes': { type: 'string', default: '400' },
      recorded: { type: 'string', default: DEFAULT_RECORDED_DIR },
      /** The trigger as it was before it judged the recent regime: the whole window only. */
      'window-only': { type: 'boolean', default: false },
    },
  });
  const seed = Number(args.seed);
  const leakFreeCount = Number(args['leak-free']);
  const leakingCount = Number(args.leaking);
  const lateCount = Number(args.late);
  const levelChangeCount = Number(args['level-changes']);
  for (const [name, value] of [
    ['seed', seed],
    ['leak-free', leakFreeCount],
    ['leaking', leakingCount],
    ['late', lateCount],
    ['level-changes', levelChangeCount],
  ] as const)
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`--${name} must be a whole number ≥ 0, got ${value}`);
  const config: PredictionConfig = args['window-only']
    ? { ...DEFAULT_PREDICTION_CONFIG, regimeMinPoints: Number.MAX_SAFE_INTEGER }
    : DEFAULT_PREDICTION_CONFIG;
  const rng = new Prng(seed);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < leakFreeCount; i++)
    outcomes.push(evaluate(generateHost(rng, `free-${i}`), 'no change', config));
  for (let i = 0; i < leakingCount; i++) {
    const kind = LEAK_KINDS[i % LEAK_KINDS.length] as LeakKind;
    outcomes.push(evaluate(generateHost(rng, `leak-${i}`, { leak: kind }), kind, config));
  }
  // Drawn after the model's own hosts, so that those stay the hosts they were before these were added.
  for (let i = 0; i < lateCount; i++) {
    const late = LATE_LEAKS[i % LATE_LEAKS.length] as (typeof LATE_LEAKS)[number];
    const kind = LEAK_KINDS[Math.floor(i / LATE_LEAKS.length) % LEAK_KINDS.length] as LeakKind;
    const scenario = {
      leak: kind,
      leakStartDays: (late.onset * config.windowMs) / DAY_MS,
      leakDays: late.days,
    };
    outcomes.push(evaluate(generateHost(rng, `late-${i}`, scenario), late.row, config));
  }
  for (let i = 0; i < levelChangeCount; i++) {
    const levelChange = i % 2 === 0 ? 'step' : 'dip';
    outcomes.push(evaluate(generateHost(rng, `${levelChange}-${i}`, { levelChange }), levelChange, config));
  }

  const leakFree = outcomes.filter((o) => o.trace.leak === undefined);
  const leaking = outcomes.filter((o) => o.trace.leak !== undefined && o.trace.exhaustionMs !== undefined);
  const neverExhausted = outcomes.filter(
    (o) => o.trace.leak !== undefined && o.trace.exhaustionMs === undefined,
  );
  const detectedOf = (os: readonly Outcome[]) => os.filter((o) => leadHours(o, o.firedAt) > 0);
  const premature = leaking.filter(
    (o) => o.firedAt !== undefined && o.firedAt < (o.trace.leak?.startMs ?? 0),
  );
  const falsePositives = leakFree.filter((o) => o.firedAt !== undefined);
  const alarmFalse = leakFree.filter((o) => o.alarmBeforeLeak);
  const leads = leaking.map((o) => leadHours(o, o.firedAt));
  const alarmLeads = leaking.map((o) => leadHours(o, o.alarmAt));

  const recorded =
    args.recorded === '' ? [] : loadRecordedHosts(args.recorded).map((h) => evaluateRecorded(h, config));
  const recordedCount = recorded.length;
  const recordedFalse = recorded.filter((r) => r.firedOn !== undefined).length;

  // The fleet's cost from the model's own hosts, as before the late leaks and level changes were added.
  const ownHosts = outcomes.filter((o) => o.row === 'no change' || LEAK_KINDS.includes(o.row as LeakKind));
  const meanSeries = ownHosts.length === 0 ? 0 : median(ownHosts.map((o) => o.meanSeries));
  const pointsPerSeries = Math.round(config.windowMs / PERIOD_MS);
  // The trigger's own queries (fleet-queries.ts) for a fleet of median hosts, packed as it packs them: the
  // three host series, the guests' RSS summed, MemTotal, and per QEMU process its RSS and its uptime.
  const vmsPerHost = Math.max(0, Math.round(meanSeries - 3));
  const window = { windowMs: config.windowMs, periodSeconds: PERIOD_MS / 1000 };
  const fleetQueries = Array.from({ length: FLEET }, (_, i) =>
    hostQueries(
      { hostId: `h${i}`, pool: 'p' },
      Array.from({ length: vmsPerHost }, (_, j) => `vm-${j}`),
      window,
    ),
  ).flat();
  const packed = packQueries(fleetQueries);
  const queriesPerCall = Math.max(...packed.map((call) => call.length));
  const metrics = fleetQueries.length;
  const calls = packed.length;
  const dollarsPerEvaluation = metrics * GMD_DOLLARS_PER_METRIC;
  const evaluationsPerMonth = (30 * 24 * HOUR_MS) / EVALUATION_INTERVAL_MS;

  const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${round((100 * a) / b, 1)}%`);
  const days = (ms: number) => round(ms / 86_400_000, 1);
  console.log(
    `aging bench, seed ${seed}: ${leakFree.length} leak-free hosts (30 days each), ${leaking.length} leaking hosts (until exhaustion)`,
  );
  console.log(
    `trigger: every ${EVALUATION_INTERVAL_MS / HOUR_MS} h on ${PERIOD_MS / HOUR_MS}-hour means of the last ${days(config.windowMs)} days; Mann-Kendall + Hamed-Rao, one-sided alpha ${config.alpha}; Sen bound at ${100 * (1 - config.boundAlpha)}% one-sided; horizon ${days(config.horizonMs)} days; ${args['window-only'] ? 'the whole window only' : `and the regime since a break (two-phase regression, Schwarz criterion) when it holds ${config.regimeMinPoints} points over ${days(config.regimeMinSpanMs)} days, alpha ${config.regimeAlpha}`}`,
  );
  console.log('');
  console.log(
    'leak            hosts  detected  premature  median lead (h)  threshold alarm: caught  median lead (h)',
  );
  for (const row of [...LEAK_KINDS, ...LATE_LEAKS.map((l) => l.row)]) {
    const os = leaking.filter((o) => o.row === row);
    console.log(
      [
        row.padEnd(15),
        String(os.length).padStart(5),
        pct(detectedOf(os).length, os.length).padStart(9),
        String(premature.filter((o) => o.row === row).length).padStart(10),
        String(round(median(os.map((o) => leadHours(o, o.firedAt))), 1)).padStart(16),
        pct(os.filter((o) => leadHours(o, o.alarmAt) > 0).length, os.length).padStart(24),
        String(round(median(os.map((o) => leadHours(o, o.alarmAt))), 1)).padStart(16),
      ].join(' '),
    );
  }
  console.log(
    [
      'all'.padEnd(15),
      String(leaking.length).padStart(5),
      pct(detectedOf(leaking).length, leaking.length).padStart(9),
      String(premature.length).padStart(10),
      String(round(median(leads), 1)).padStart(16),
      pct(leaking.filter((o) => leadHours(o, o.alarmAt) > 0).length, leaking.length).padStart(24),
      String(round(median(alarmLeads), 1)).padStart(16),
    ].join(' '),
  );
  console.log('');
  console.log(
    `leak-free hosts: ${falsePositives.length} of ${leakFree.length} predicted (${pct(falsePositives.length, leakFree.length)}); the static alarm went off on ${alarmFalse.length} (${pct(alarmFalse.length, leakFree.length)})`,
  );
  console.log('leak-free       hosts  predicted (false positives)  static alarm');
  for (const row of ['no change', 'step', 'dip']) {
    const os = leakFree.filter((o) => o.row === row);
    console.log(
      [
        (row === 'dip' ? 'dip, plateau' : row).padEnd(15),
        String(os.length).padStart(5),
        `${os.filter((o) => o.firedAt !== undefined).length} (${pct(os.filter((o) => o.firedAt !== undefined).length, os.length)})`.padStart(
          28,
        ),
        String(os.filter((o) => o.alarmBeforeLeak).length).padStart(13),
      ].join(' '),
    );
  }
  if (falsePositives.length > 0)
    console.log(
      `  false positives fired on: ${falsePositives
        .map((o) => `${o.trace.id}/${o.firedOn}`)
        .slice(0, 10)
        .join(', ')}`,
    );
  if (neverExhausted.length > 0)
    console.log(`leaking hosts that never reached a limit (excluded): ${neverExhausted.length}`);
  if (recorded.length > 0) {
    console.log('');
    console.log(
      'lab recorded     hosts  predicted (false positives)  static alarm  evaluations  series verdicts',
    );
    for (const r of recorded) {
      const scale = r.host.timeScale ?? 1;
      console.log(
        [
          r.host.hostId.padEnd(15),
          '1'.padStart(6),
          (r.firedOn === undefined ? 'no' : `${r.firedOn} (${r.firings})`).padStart(28),
          (r.alarmOn ?? 'no').padStart(13),
          String(r.evaluations).padStart(12),
          ` ${Object.entries(r.verdicts)
            .map(([k, n]) => `${k} ${n}`)
            .join(
              ', ',
            )}; ${r.points} samples ${r.host.periodMs === undefined ? '' : `every ${r.host.periodMs / 1000} s `}x${scale} = ${round(r.spanDays, 1)} days`,
        ].join(' '),
      );
    }
    console.log(
      [
        'all'.padEnd(15),
        String(recordedCount).padStart(6),
        String(recordedFalse).padStart(28),
        String(recorded.filter((r) => r.alarmOn !== undefined).length).padStart(13),
        String(recorded.reduce((n, r) => n + r.evaluations, 0)).padStart(12),
      ].join(' '),
    );
    console.log(
      '  leak-free by construction (heartbeat guests on lab hosts): first series fired on (evaluations that fired); time stretched so one sample stands for one 2-hour period; hosts recorded together share one kernel, so their host-wide series are the same measurements',
    );
  }
  console.log(
    'lead time: exhaustion minus first firing; a leak missed, or fired on before it started, counts 0 h',
  );
  console.log('');
  console.log(
    `cost of one evaluation of ${FLEET} hosts: ${metrics} metrics (median ${round(meanSeries + 1, 1)} series per host: MemAvailable, SUnreclaim, fragmentation, one RSS per QEMU process; plus the guests' RSS summed, MemTotal and each process's uptime), ${pointsPerSeries} points a series`,
  );
  console.log(
    `  GetMetricData: ${queriesPerCall} queries per call -> ${calls} calls, $${round(dollarsPerEvaluation, 2)} per evaluation at $0.01 per 1,000 metrics; $${round(dollarsPerEvaluation * evaluationsPerMonth, 0)} a month at ${evaluationsPerMonth} evaluations`,
  );
  const detected = detectedOf(leaking).length;
  const late = leaking.filter((o) => o.row.startsWith('late'));
  const levelChanges = leakFree.filter((o) => o.row !== 'no change');
  console.log(
    JSON.stringify({
      traces: outcomes.length + recordedCount,
      leakTraces: leaking.length,
      detected,
      falsePositives: falsePositives.length + recordedFalse,
      falsePositiveRate: round(
        (falsePositives.length + recordedFalse) / Math.max(1, leakFree.length + recordedCount),
        4,
      ),
      medianLeadTimeHours: round(median(leads), 1),
      thresholdAlarmMedianLeadTimeHours: round(median(alarmLeads), 1),
      getMetricDataCallsPer10kHosts: calls,
      lateLeakTraces: late.length,
      lateDetected: detectedOf(late).length,
      lateMedianLeadTimeHours: round(median(late.map((o) => leadHours(o, o.firedAt))), 1),
      lateThresholdAlarmMedianLeadTimeHours: round(median(late.map((o) => leadHours(o, o.alarmAt))), 1),
      levelChangeHosts: levelChanges.length,
      levelChangeFalsePositives: levelChanges.filter((o) => o.firedAt !== undefined).length,
    }),
  );
}

main();
