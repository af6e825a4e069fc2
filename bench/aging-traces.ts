/**
 * Labelled synthetic aging traces: one virtualization host each, sampled every 5 minutes, with every
 * series the predictive trigger watches. Leak-free hosts and hosts with one leak, built from the same
 * host model, so that whatever fools the detector on a leak-free host (a VM starting, a daily cycle,
 * slowly wandering noise) is present on a leaking one as well.
 *
 * The model's parameters, stated once here (drawn per host unless fixed):
 * - MemTotal 128, 256 or 512 GiB; host OS and agents 2-4 GiB.
 * - VMs of 4, 8, 16, 32 or 64 GiB (smaller ones likelier), packed initially to 40-85% of MemTotal
 *   (size + 0.2-0.4 GiB QEMU overhead each); VMs start and stop as Poisson events, 0.4 a day each, a
 *   start only if the host stays within 85% committed (a scheduler's limit). A VM's resident memory is
 *   its overhead plus the part of its RAM the guest has touched, which ramps to 50-100% of its size
 *   with a time constant of 2-12 h after a start, plus AR(1) noise (σ 0.5% of its size, φ 0.99 per
 *   5 min, so a time constant of ~8 h).
 * - Host memory outside the VMs: a daily cycle of 0.5-3 GiB (backups, log rotation; random phase) and
 *   AR(1) noise of σ 0.3-1 GiB with φ 0.98 per 5 min (~4 h): slow, autocorrelated wander.
 * - SUnreclaim: 0.5-2 GiB plus 50-100 MiB per running VM, a daily cycle of 20-200 MiB, AR(1) noise of
 *   σ 20-80 MiB with φ 0.97.
 * - Fragmentation (unusable free space index, huge-page order): 0.1-0.6, each VM start or stop moving
 *   it by ±0.01-0.05 (bounded), which compaction undoes with a time constant of a day, a daily cycle of 0.01-0.04, AR(1) noise of σ 0.02 with φ 0.99.
 * - Limits (the exhaustion points, which the trigger projects to): MemAvailable 2% of MemTotal;
 *   SUnreclaim 8% of MemTotal; fragmentation 0.95; a QEMU process's limit 110% of its VM's size + 1 GiB
 *   (the memory.max of its cgroup).
 * - A leaking host starts leaking 1-5 days into its trace, in one of four ways (equally likely): a host
 *   daemon's anonymous memory (MemAvailable), unreclaimable slab (SUnreclaim and MemAvailable), one QEMU
 *   process (its RSS and MemAvailable), fragmentation. The rate is set so that the leaking resource
 *   would reach its limit 5-45 days (log-uniform) after the leak starts: the leaks that matter between
 *   maintenance windows (faster ones are incidents any alarm catches; slower ones are reset by the
 *   monthly or quarterly patch reboot). Half the leaks are bursty: the rate follows the daily cycle of
 *   activity, ±0-90%. A leaking host's trace ends when a resource reaches its limit (its exhaustion).
 * - A leak-free host's trace lasts 30 days.
 *
 * The static threshold alarms, for the baseline: MemAvailable below 10% of MemTotal, SUnreclaim above
 * 80% of its limit, fragmentation above 0.9, a QEMU process above 95% of its limit, each for 3
 * consecutive 5-minute periods.
 */
import type { AgingResource } from '../shared/aging/aging-resources.js';
import { Prng } from './aging-prng.js';

export const STEP_MS = 5 * 60_000;
const STEPS_PER_DAY = 288;
const GIB = 2 ** 30;
const DAY_MS = 86_400_000;
export const TRACE_START_MS = Date.UTC(2026, 10, 1);
const LEAK_FREE_DAYS = 30;
const MAX_LEAK_TRACE_DAYS = 90;

export type LeakKind = 'host-daemon' | 'slab' | 'qemu' | 'fragmentation';
export const LEAK_KINDS: readonly LeakKind[] = ['host-daemon', 'slab', 'qemu', 'fragmentation'];

/**
 * What happens on a host besides its model's noise, churn and cycles: a leak (drawn as above unless
 * `leakStartDays` or `leakDays` say otherwise) or, on a leak-free host, one change of MemAvailable's level
 * that the guests' RSS does not explain:
 * - `step`: a drop of 5-20% of MemTotal within 5-30 minutes, then flat (a VM started on preallocated huge
 *   pages, which its QEMU process's RSS does not count);
 * - `dip`: a fall of 5-20% of MemTotal over 2-12 hours, then a plateau (a workload filling a tmpfs or
 *   pinning a cache), at a time drawn over the trace's days 1-29.
 * Either is capped at half the headroom above the static alarm's level, so neither runs anything out.
 */
export interface HostScenario {
  readonly leak?: LeakKind;
  /** When the leak starts, days into the trace (default: drawn in 1-5). */
  readonly leakStartDays?: number;
  /** The leak takes a log-uniform [min, max] days to reach its limit (default 5-45). */
  readonly leakDays?: readonly [number, number];
  readonly levelChange?: 'step' | 'dip';
}

export interface TraceSeries {
  readonly resource: AgingResource;
  readonly name?: string;
  readonly limit: number;
  /** The static alarm's threshold, crossed in the same direction as the limit. */
  readonly alarmThreshold: number;
  /** When the QEMU process started (its series only). */
  readonly startedAtMs?: number;
  /** One value per 5-minute step; NaN where the series does not exist (a VM not running). */
  readonly values: Float64Array;
}

export interface HostTrace {
  readonly id: string;
  readonly memTotalGiB: number;
  readonly leak: { readonly kind: LeakKind; readonly startMs: number; readonly series: string } | undefined;
  /** The first 5-minute step at which a resource reached its limit (leaking hosts). */
  readonly exhaustionMs: number | undefined;
  readonly steps: number;
  readonly series: readonly TraceSeries[];
  /** The QEMU processes' resident memory summed, bytes, per step. */
  readonly guestRss: Float64Array;
}

class Ar1 {
  private x: number;
  private readonly innovation: number;
  constructor(
    private readonly rng: Prng,
    private readonly phi: number,
    sigma: number,
  ) {
    this.innovation = sigma * Math.sqrt(1 - phi * phi);
    this.x = sigma * rng.normal();
  }
  next(): number {
    this.x = this.phi * this.x + this.innovation * this.rng.normal();
    return this.x;
  }
}

interface Vm {
  readonly name: string;
  readonly sizeGiB: number;
  readonly overheadGiB: number;
  readonly startStep: number;
  readonly touchFinal: number;
  readonly tauSteps: number;
  readonly noise: Ar1;
  readonly values: Float64Array;
  running: boolean;
  leakGiB: number;
}

const COMPACTION_DECAY = Math.exp(-1 / STEPS_PER_DAY);
const VM_SIZES = [4, 4, 4, 8, 8, 8, 16, 16, 32, 64];

/** Whether `value` is past `limit` in the direction the resource runs out. */
export function pastLevel(resource: AgingResource, value: number, level: number): boolean {
  return resource === 'memAvailable' ? value <= level : value >= level;
}

export function generateHost(rng: Prng, id: string, scenario: HostScenario = {}): HostTrace {
  const leakKind = scenario.leak;
  const memTotalGiB = rng.pick([128, 256, 256, 512]);
  const maxSteps = (leakKind === undefined ? LEAK_FREE_DAYS : MAX_LEAK_TRACE_DAYS) * STEPS_PER_DAY;
  const osGiB = rng.between(2, 4);
  const dailyGiB = rng.between(0.5, 3);
  const phase = rng.uniform() * 2 * Math.PI;
  const hostNoise = new Ar1(rng, 0.98, rng.between(0.3, 1));
  const slabBaseGiB = rng.between(0.5, 2);
  const slabPerVmGiB = rng.between(0.05, 0.1);
  const slabDailyGiB = rng.between(0.02, 0.2);
  const slabNoise = new Ar1(rng, 0.97, rng.between(0.02, 0.08));
  const fragBase = rng.between(0.1, 0.6);
  let fragShift = 0;
  const fragDaily = rng.between(0.01, 0.04);
  const fragNoise = new Ar1(rng, 0.99, 0.02);
  const commitLimitGiB = 0.85 * memTotalGiB;
  const vms: Vm[] = [];
  let vmCounter = 0;
  const newVm = (startStep: number, saturated: boolean): Vm => {
    const sizeGiB = rng.pick(VM_SIZES);
    return {
      name: `vm${++vmCounter}`,
      sizeGiB,
      overheadGiB: rng.between(0.2, 0.4),
      // A VM running since before the trace has long finished touching its memory.
      startStep: saturated ? -100 * STEPS_PER_DAY : startStep,
      touchFinal: rng.between(0.5, 1),
      tauSteps: rng.between(2, 12) * 12,
      noise: new Ar1(rng, 0.99, 0.005 * sizeGiB),
      values: new Float64Array(maxSteps).fill(Number.NaN),
      running: true,
      leakGiB: 0,
    };
  };
  const committed = () => vms.reduce((sum, vm) => sum + (vm.running ? vm.sizeGiB + vm.overheadGiB : 0), 0);
  const initialTarget = rng.between(0.4, 0.85) * memTotalGiB;
  for (let guard = 0; guard < 200 && committed() < initialTarget; guard++) {
    const vm = newVm(0, true);
    if (committed() + vm.sizeGiB + vm.overheadGiB > commitLimitGiB) break;
    vms.push(vm);
  }

  const memAvailable = new Float64Array(maxSteps);
  const sUnreclaim = new Float64Array(maxSteps);
  const fragmentation = new Float64Array(maxSteps);
  const guestRss = new Float64Array(maxSteps);
  const memFloor = 0.02 * memTotalGiB * GIB;
  const slabCeiling = 0.08 * memTotalGiB * GIB;
  const fragLimit = 0.95;
  const qemuLimit = (vm: Vm) => (1.1 * vm.sizeGiB + 1) * GIB;

  const drawnLeakStart = leakKind === undefined ? Infinity : Math.round(rng.between(1, 5) * STEPS_PER_DAY);
  const leakStartStep =
    leakKind !== undefined && scenario.leakStartDays !== undefined
      ? Math.round(scenario.leakStartDays * STEPS_PER_DAY)
      : drawnLeakStart;
  const [leakDaysMin, leakDaysMax] = scenario.leakDays ?? [5, 45];
  const leakDays = rng.logBetween(leakDaysMin, leakDaysMax);
  const burstiness = rng.uniform() < 0.5 ? 0 : rng.between(0, 0.9);
  const leakingVm = leakKind === 'qemu' ? vms[Math.floor(rng.uniform() * vms.length)] : undefined;
  let leakPerStep = 0; // units of the leaking resource per step, set when the leak starts
  let daemonLeakGiB = 0;
  let slabLeakGiB = 0;
  let fragLeak = 0;
  let steps = maxSteps;
  let exhaustionStep: number | undefined;
  // The leak-free level change (drawn only for a scenario with one, so the other hosts stay as they were).
  const change =
    scenario.levelChange === undefined
      ? undefined
      : {
          atStep: Math.round(rng.between(1, 29) * STEPS_PER_DAY),
          shareOfTotal: rng.between(0.05, 0.2),
          steps: Math.max(
            1,
            Math.round(scenario.levelChange === 'step' ? rng.between(1, 6) : rng.between(24, 144)),
          ),
        };
  let changeGiBPerStep = 0;
  let changeGiB = 0;

  for (let step = 0; step < maxSteps; step++) {
    const dayAngle = (2 * Math.PI * step) / STEPS_PER_DAY + phase;
    // Compaction (kcompactd) undoes what VM churn did to fragmentation within about a day.
    fragShift *= COMPACTION_DECAY;
    // VM churn: Poisson starts and stops; the leaking VM stays (its leak is what the trace is about).
    if (rng.uniform() < 0.4 / STEPS_PER_DAY) {
      const candidates = vms.filter((vm) => vm.running && vm !== leakingVm);
      if (candidates.length > 0) {
        rng.pick(candidates).running = false;
        fragShift = Math.max(-0.1, fragShift - rng.between(0.01, 0.05));
      }
    }
    if (rng.uniform() < 0.4 / STEPS_PER_DAY) {
      const vm = newVm(step, false);
      if (committed() + vm.sizeGiB + vm.overheadGiB <= commitLimitGiB) {
        vms.push(vm);
        fragShift = Math.min(0.2, fragShift + rng.between(0.01, 0.05));
      }
    }
    let rssGiB = 0;
    for (const vm of vms) {
      if (!vm.running) continue;
      const touched = vm.touchFinal * (1 - Math.exp(-(step - vm.startStep) / vm.tauSteps));
      const rss = vm.overheadGiB + vm.sizeGiB * touched + vm.noise.next() + vm.leakGiB;
      vm.values[step] = rss * GIB;
      rssGiB += rss;
    }
    const runningVms = vms.filter((vm) => vm.running).length;
    const slab =
      slabBaseGiB +
      slabPerVmGiB * runningVms +
      slabDailyGiB * Math.sin(dayAngle) +
      slabNoise.next() +
      slabLeakGiB;
    if (change !== undefined && step === change.atStep) {
      const aboveAlarmGiB = (memAvailable[step - 1] as number) / GIB - 0.1 * memTotalGiB;
      changeGiBPerStep =
        Math.max(0, Math.min(change.shareOfTotal * memTotalGiB, aboveAlarmGiB / 2)) / change.steps;
    }
    if (change !== undefined && step >= change.atStep && step < change.atStep + change.steps)
      changeGiB += changeGiBPerStep;
    const hostGiB =
      osGiB + dailyGiB * (0.5 + 0.5 * Math.sin(dayAngle)) + hostNoise.next() + daemonLeakGiB + changeGiB;
    guestRss[step] = rssGiB * GIB;
    memAvailable[step] = (memTotalGiB - hostGiB - rssGiB - slab) * GIB;
    sUnreclaim[step] = Math.max(0, slab) * GIB;
    const frag = fragBase + fragShift + fragDaily * Math.sin(dayAngle) + fragNoise.next() + fragLeak;
    fragmentation[step] = Math.min(1, Math.max(0, frag));

    if (step === leakStartStep) {
      const headroom =
        leakKind === 'host-daemon'
          ? ((memAvailable[step] as number) - memFloor) / GIB
          : leakKind === 'slab'
            ? (slabCeiling - (sUnreclaim[step] as number)) / GIB
            : leakKind === 'qemu' && leakingVm !== undefined
              ? (qemuLimit(leakingVm) - (leakingVm.values[step] as number)) / GIB
              : fragLimit - (fragmentation[step] as number);
      leakPerStep = Math.max(0, headroom) / (leakDays * STEPS_PER_DAY);
    }
    if (step >= leakStartStep) {
      const increment = leakPerStep * (1 + burstiness * Math.sin(dayAngle));
      if (leakKind === 'host-daemon') daemonLeakGiB += increment;
      else if (leakKind === 'slab') slabLeakGiB += increment;
      else if (leakKind === 'fragmentation') fragLeak += increment;
      else if (leakingVm !== undefined) leakingVm.leakGiB += increment;
      const exhausted =
        (memAvailable[step] as number) <= memFloor ||
        (sUnreclaim[step] as number) >= slabCeiling ||
        (fragmentation[step] as number) >= fragLimit ||
        vms.some((vm) => vm.running && (vm.values[step] as number) >= qemuLimit(vm));
      if (exhausted) {
        exhaustionStep = step;
        steps = step + 1;
        break;
      }
    }
  }

  const cut = (values: Float64Array) => values.subarray(0, steps);
  const series: TraceSeries[] = [
    {
      resource: 'memAvailable',
      limit: memFloor,
      alarmThreshold: 0.1 * memTotalGiB * GIB,
      values: cut(memAvailable),
    },
    {
      resource: 'sUnreclaim',
      limit: slabCeiling,
      alarmThreshold: 0.8 * slabCeiling,
      values: cut(sUnreclaim),
    },
    { resource: 'fragmentation', limit: fragLimit, alarmThreshold: 0.9, values: cut(fragmentation) },
    ...vms.map((vm): TraceSeries => ({
      resource: 'qemuRss',
      name: vm.name,
      limit: qemuLimit(vm),
      alarmThreshold: 0.95 * qemuLimit(vm),
      startedAtMs: TRACE_START_MS + vm.startStep * STEP_MS,
      values: cut(vm.values),
    })),
  ];
  const leakSeries =
    leakKind === 'host-daemon'
      ? 'memAvailable'
      : leakKind === 'slab'
        ? 'sUnreclaim'
        : leakKind === 'fragmentation'
          ? 'fragmentation'
          : `qemuRss:${leakingVm?.name ?? '?'}`;
  return {
    id,
    memTotalGiB,
    leak:
      leakKind === undefined
        ? undefined
        : { kind: leakKind, startMs: TRACE_START_MS + leakStartStep * STEP_MS, series: leakSeries },
    exhaustionMs: exhaustionStep === undefined ? undefined : TRACE_START_MS + exhaustionStep * STEP_MS,
    steps,
    series,
    guestRss: cut(guestRss),
  };
}

export const TRACE_DAY_MS = DAY_MS;
