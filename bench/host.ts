/**
 * npm run bench:host — the guest-visible pause of a warm-VM reboot against the classic save/restore,
 * on real QEMU VMs of this machine (TCG), in one run.
 *
 * warm:    the real WarmReboot document, run by the local runner: device state only, RAM left in place
 *          (the handover path: the successor process is started before the guest is paused).
 * classic: the same agent with RAM copied into the state file as well (`--classic`), restored into a
 *          fresh process: what a save/restore of the VM to disk costs.
 *
 * Pause is measured twice per VM: by QMP (STOP event of the old process to RESUME event of the new),
 * and from the guest's side (longest gap between its heartbeat lines as they reach the serial log).
 * The guest marks every page of its RAM at boot, so the classic path really has every page to copy.
 * All lab hosts stay up for the whole bench and the configurations take turns run by run, so other
 * load on the machine falls on every row alike. Every run also checks the guest never rebooted and
 * its counter never skipped.
 *
 * Every configuration runs in both shapes of lab host (host/lab/lab-host.ts), in the same turns: `lab`
 * (user-mode network, RAM in /dev/shm, raw disk) and `field` (virtio-net on a tap in a network
 * namespace, RAM on hugetlbfs, qcow2 disks over backing files: as field hosts configure VMs). The last
 * line of output is one JSON object with the medians, the field shape's under the same keys in "field".
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { counterBreaks, readHeartbeatLog } from '../host/lab/heartbeat-log.js';
import type { LabShape } from '../host/lab/field-host.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../host/lab/lab-host.js';
import { runLabBench } from './run-lab-bench.js';
import type { WarmRebootResult, WarmRebootVm } from '../host/results/host-document-result.js';
import { HeartbeatArrivals } from './heartbeat-arrivals.js';
import { classicViaAgent, warmViaDocument } from './reboot-paths.js';
import { median, round } from './statistics.js';

const MEMORY_SIZES_MIB = [256, 1024, 2048] as const;
const PARALLEL_VM_COUNTS = [1, 2, 4] as const;
const PARALLEL_MEMORY_MIB = 256;
const WARM_RUNS = 7;
const CLASSIC_RUNS = 3;
/** The field shape's target: its median warm pause at every size. */
const FIELD_TARGET_MS = 15;
/** Long enough for the first heartbeat after resume to reach the log before we stop watching. */
const SETTLE_MS = 300;

type RebootPath = 'warm' | 'classic';
const SHAPES: readonly LabShape[] = ['lab', 'field'];

interface VmSample {
  readonly pauseMs: number;
  readonly guestGapMs: number;
  readonly stateBytes: number;
  readonly phasesMs: Readonly<Record<string, number>>;
  readonly guestContinued: boolean;
  /** The agent's path for the VM (handover, stop-restart); undefined for classic. */
  readonly agentPath: string | undefined;
}

interface Row {
  readonly shape: LabShape;
  readonly path: RebootPath;
  readonly memoryMiB: number;
  readonly vmCount: number;
  readonly runs: number;
  readonly samples: readonly VmSample[];
}

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function rebootOnce(lab: LabHost, path: RebootPath, runId: string): Promise<VmSample[]> {
  const names = [...lab.vms.keys()];
  const watchers = new Map(names.map((name) => [name, new HeartbeatArrivals(lab.vm(name).heartbeat.log)]));
  let result: WarmRebootResult;
  try {
    result = path === 'warm' ? await warmViaDocument(lab, runId) : await classicViaAgent(lab, runId);
    await sleep(SETTLE_MS);
  } finally {
    for (const watcher of watchers.values()) watcher.stop();
  }
  if (result.outcome !== 'ok')
    throw new Error(`${path} run ${runId} failed: ${result.reason ?? 'no reason'}`);
  const samples: VmSample[] = [];
  for (const vm of result.vms as WarmRebootVm[]) {
    const log = await readHeartbeatLog(lab.vm(vm.name).heartbeat.log);
    samples.push({
      pauseMs: vm.pauseMs ?? Number.NaN,
      guestGapMs: watchers.get(vm.name)?.longestGap()?.gapMs ?? Number.NaN,
      stateBytes: vm.stateBytes ?? Number.NaN,
      phasesMs: vm.phasesMs,
      guestContinued:
        log.boots === 1 && counterBreaks(log.counters).length === 0 && log.badPages.length === 0,
      agentPath: path === 'warm' ? vm.path : undefined,
    });
  }
  return samples;
}

interface Config {
  readonly shape: LabShape;
  readonly path: RebootPath;
  readonly lab: LabHost;
  readonly memoryMiB: number;
  readonly runs: number;
  readonly samples: VmSample[];
}

/**
 * Runs every configuration's runs in turns (round 1 of each, then round 2 of each, ...), so that load
 * from anything else on the machine falls on all rows alike instead of on whichever ran last.
 */
async function runInTurns(configs: readonly Config[]): Promise<void> {
  const rounds = Math.max(...configs.map((c) => c.runs));
  for (let turn = 1; turn <= rounds; turn++) {
    for (const config of configs.filter((c) => turn <= c.runs)) {
      const started = performance.now();
      const runId = `bench-${config.path}-${config.lab.id}-${turn}`;
      const samples = await rebootOnce(config.lab, config.path, runId);
      config.samples.push(...samples);
      progress(
        `${config.shape} ${config.path} ${config.memoryMiB} MiB x${config.lab.vms.size} run ${turn}/${config.runs}: pause ${samples
          .map((s) => round(s.pauseMs))
          .join(', ')} ms (${Math.round(performance.now() - started)} ms wall)`,
      );
      await sleep(200);
    }
  }
}

async function bootLabHost(shape: LabShape, memoryMiB: number, vmCount: number): Promise<LabHost> {
  const lab = await createLabHost({ shape });
  for (let i = 1; i <= vmCount; i++) await lab.addVm({ name: `vm-${i}`, memoryMiB });
  const started = performance.now();
  await lab.launch();
  progress(
    `${shape}: ${vmCount} x ${memoryMiB} MiB guest(s) booted, RAM marked, in ${Math.round(performance.now() - started)} ms`,
  );
  return lab;
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${round(bytes / (1 << 20))} MiB` : `${round(bytes / 1024)} KiB`;
}

/** Phases of either path (handover: start, prepare, stop, migrate, cont, quit), in the order they run. */
const PHASES = ['start', 'prepare', 'stop', 'save', 'migrate', 'quit', 'restore', 'cont'] as const;

function phaseSummary(samples: readonly VmSample[]): string {
  return PHASES.filter((phase) => samples.some((s) => s.phasesMs[phase] !== undefined))
    .map((phase) => `${phase} ${round(median(samples.map((s) => s.phasesMs[phase] ?? Number.NaN)))}`)
    .join(' / ');
}

function table(rows: readonly Row[]): string {
  const header = [
    'shape',
    'path',
    'guest RAM',
    'VMs',
    'runs',
    'pause (QMP) median',
    'max',
    'guest-seen gap median',
    'state written',
    'phases median, ms',
    'guest continued',
    'agent path',
  ];
  const lines = rows.map((row) => [
    row.shape,
    row.path,
    `${row.memoryMiB} MiB`,
    String(row.vmCount),
    String(row.runs),
    `${round(median(row.samples.map((s) => s.pauseMs)))} ms`,
    `${round(Math.max(...row.samples.map((s) => s.pauseMs)))} ms`,
    `${round(median(row.samples.map((s) => s.guestGapMs)))} ms`,
    formatBytes(median(row.samples.map((s) => s.stateBytes))),
    phaseSummary(row.samples),
    row.samples.every((s) => s.guestContinued) ? 'yes, every run' : 'NO',
    [...new Set(row.samples.map((s) => s.agentPath ?? 'restore'))].join(', '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(render)].join('\n');
}

/** Every lab host of one shape (they stay up for the whole bench), and its configurations. */
async function bootShape(shape: LabShape): Promise<{ warm: Config[]; classic: Config[] }> {
  // The single 256 MiB VM is also the parallel row's "1".
  const bySize = new Map<number, LabHost>();
  for (const memoryMiB of MEMORY_SIZES_MIB) bySize.set(memoryMiB, await bootLabHost(shape, memoryMiB, 1));
  const byCount = new Map<number, LabHost>();
  for (const vmCount of PARALLEL_VM_COUNTS) {
    const single = bySize.get(PARALLEL_MEMORY_MIB);
    byCount.set(
      vmCount,
      vmCount === 1 && single !== undefined ? single : await bootLabHost(shape, PARALLEL_MEMORY_MIB, vmCount),
    );
  }
  const config = (path: RebootPath, lab: LabHost, memoryMiB: number, runs: number): Config => ({
    shape,
    path,
    lab,
    memoryMiB,
    runs,
    samples: [],
  });
  return {
    warm: [
      ...[...bySize].map(([memoryMiB, lab]) => config('warm', lab, memoryMiB, WARM_RUNS)),
      ...[...byCount]
        .filter(([vmCount]) => vmCount > 1)
        .map(([, lab]) => config('warm', lab, PARALLEL_MEMORY_MIB, WARM_RUNS)),
    ],
    classic: [...bySize].map(([memoryMiB, lab]) => config('classic', lab, memoryMiB, CLASSIC_RUNS)),
  };
}

/** The JSON summary of one shape's rows. */
function summarize(rows: readonly Row[]) {
  const pauseOf = (path: RebootPath, memoryMiB: number, vmCount: number) =>
    round(
      median(
        rows
          .filter((r) => r.path === path && r.memoryMiB === memoryMiB && r.vmCount === vmCount)
          .flatMap((r) => r.samples.map((s) => s.pauseMs)),
      ),
    );
  return {
    warmPauseMs: Object.fromEntries(MEMORY_SIZES_MIB.map((m) => [String(m), pauseOf('warm', m, 1)])),
    classicPauseMs: Object.fromEntries(MEMORY_SIZES_MIB.map((m) => [String(m), pauseOf('classic', m, 1)])),
    parallelWarmPauseMs: Object.fromEntries(
      PARALLEL_VM_COUNTS.map((n) => [String(n), pauseOf('warm', PARALLEL_MEMORY_MIB, n)]),
    ),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const { stdout: qemuVersion } = await exec('qemu-system-x86_64', ['--version']);
  const shapes = [];
  for (const shape of SHAPES) shapes.push(await bootShape(shape));
  const warm = shapes.flatMap((s) => s.warm);
  const classic = shapes.flatMap((s) => s.classic);
  await runInTurns(warm);
  await runInTurns(classic);
  const rows: Row[] = [...warm, ...classic]
    .map((c) => ({
      shape: c.shape,
      path: c.path,
      memoryMiB: c.memoryMiB,
      vmCount: c.lab.vms.size,
      runs: c.runs,
      samples: c.samples,
    }))
    .sort(
      (a, b) =>
        a.vmCount - b.vmCount ||
        a.memoryMiB - b.memoryMiB ||
        b.path.localeCompare(a.path) ||
        SHAPES.indexOf(a.shape) - SHAPES.indexOf(b.shape),
    );
  await teardownOpenLabHosts();

  const lab = summarize(rows.filter((r) => r.shape === 'lab'));
  const field = summarize(rows.filter((r) => r.shape === 'field'));
  const summary = { ...lab, field };
  const warm256 = lab.warmPauseMs['256'] ?? Number.NaN;
  const warm2048 = lab.warmPauseMs['2048'] ?? Number.NaN;
  const classic2048 = lab.classicPauseMs['2048'] ?? Number.NaN;
  const parallel4 = lab.parallelWarmPauseMs['4'] ?? Number.NaN;
  const parallel1 = lab.parallelWarmPauseMs['1'] ?? Number.NaN;
  const fieldWorst = Math.max(...Object.values(field.warmPauseMs));

  console.log(
    `\nrejuv host bench: ${qemuVersion.split('\n')[0]}, TCG, heartbeat guest with every RAM page marked, lab and field shapes`,
  );
  console.log(
    `pause = QMP RESUME (new process) - QMP STOP (old process); guest-seen gap = longest wait between`,
  );
  console.log(
    `two heartbeats at the serial log (one per 10 ms of guest time). Medians over all VMs and runs.\n`,
  );
  console.log(table(rows));
  console.log('');
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(
    `warm pause 2048 vs 256 MiB: ${round(warm2048 / warm256, 2)}x (target <= 1.2x: ${verdict(warm2048 <= 1.2 * warm256)})`,
  );
  console.log(
    `classic / warm at 2048 MiB: ${round(classic2048 / warm2048)}x (target >= 20x: ${verdict(classic2048 >= 20 * warm2048)})`,
  );
  console.log(
    `4 VMs in parallel vs 1: ${round(parallel4 / parallel1, 2)}x per-VM pause (target <= 2x: ${verdict(parallel4 <= 2 * parallel1)})`,
  );
  console.log(
    `field shape (tap, hugetlbfs, qcow2) warm pause, worst median of the sizes: ${round(fieldWorst)} ms (target <= ${FIELD_TARGET_MS} ms: ${verdict(fieldWorst <= FIELD_TARGET_MS)})`,
  );
  console.log(`bench took ${round((performance.now() - started) / 1000)} s`);
  console.log(JSON.stringify(summary));
}

runLabBench(main);
