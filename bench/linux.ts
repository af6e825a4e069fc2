/**
 * npm run bench:linux — what a real Linux guest (the lab's: Debian's kernel, busybox, virtio-blk and
 * virtio-net, 2 vCPUs; host/lab/linux-vm.ts) sees of each way to reboot its host, side by side in one
 * run on one VM, turn by turn:
 *
 * warm:    the real WarmReboot document (the handover path): the guest's pause is QMP's STOP on the
 *          old process to RESUME on the new one.
 * saved:   the classic save-to-disk and restore (the agent's `--classic`: RAM copied into a state file,
 *          restored into a fresh process); the same QMP pause.
 * reboot:  a normal reboot: the guest powers off cleanly, QEMU exits, the VM is started again from its
 *          inventory argv; the downtime is the gap between its last heartbeat and the first of the new
 *          boot, as they reach the serial log.
 *
 * And the guest's page cache: before each warm and each normal reboot the guest reads its data disk's
 * files once (so they are cached), then, right after the reboot, reads them again, timing itself with
 * its own monotonic clock. The last line of output is one JSON object with the medians.
 */
import { performance } from 'node:perf_hooks';
import type { VmInventoryEntry } from '../host/inventory/vm-inventory.js';
import { counterBreaks, readHeartbeatLog, waitForLog } from '../host/lab/heartbeat-log.js';
import { launchVm } from '../host/lab/launch-vms.js';
import { createLabHost } from '../host/lab/lab-host.js';
import { runLabBench } from './run-lab-bench.js';
import { askLinuxGuest, guestReadMs, guestUptime } from '../host/lab/linux-guest-requests.js';
import { vmPid, waitForExit } from '../host/lab/vm-processes.js';
import type { WarmRebootResult, WarmRebootVm } from '../host/results/host-document-result.js';
import { HeartbeatArrivals } from './heartbeat-arrivals.js';
import { classicViaAgent, warmViaDocument } from './reboot-paths.js';
import { median, round } from './statistics.js';

const MEMORY_MIB = 512;
const TURNS = 3;
const BOOT_TIMEOUT_MS = 120_000;
/** Long enough for the first heartbeat after a pause to reach the log before we stop watching. */
const SETTLE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (message: string) => process.stderr.write(`bench:linux: ${message}\n`);

interface Samples {
  warmPauseMs: number[];
  warmGuestGapMs: number[];
  savedPauseMs: number[];
  savedStateBytes: number[];
  rebootDowntimeMs: number[];
  readBeforeMs: number[];
  readAfterWarmMs: number[];
  readAfterWarmAgainMs: number[];
  readAfterRebootMs: number[];
  bootMs: number[];
}

function onlyVm(result: WarmRebootResult, what: string): WarmRebootVm {
  const [vm] = result.vms as WarmRebootVm[];
  if (result.outcome !== 'ok' || vm?.outcome !== 'resumed' || vm.pauseMs === undefined)
    throw new Error(`${what} failed: ${result.reason ?? vm?.reason ?? 'no reason'}`);
  return vm;
}

/**
 * The wait between the two heartbeats on either side of the moment the guest was stopped (QMP's epoch
 * timestamp): the pause as the guest's serial output shows it, whatever the guest does afterwards.
 */
function gapAround(arrivals: HeartbeatArrivals, stoppedAtEpochMs: number): number {
  const stoppedAt = stoppedAtEpochMs - performance.timeOrigin;
  const after = arrivals.arrivals.findIndex((a) => a.atMs >= stoppedAt);
  const before = arrivals.arrivals[after - 1];
  const next = arrivals.arrivals[after];
  return before === undefined || next === undefined ? Number.NaN : next.atMs - before.atMs;
}

/** The guest is still in the boot it was in: same boot id, one more heartbeat run without a break. */
async function expectSameBoot(entry: VmInventoryEntry, bootId: string, what: string): Promise<void> {
  const now = await guestUptime(entry);
  const log = await readHeartbeatLog(entry.heartbeat.log);
  const breaks = counterBreaks(log.sinceLastBoot);
  if (now.bootId !== bootId || breaks.length > 0)
    throw new Error(
      `guest did not run on through the ${what}: boot ${now.bootId}, breaks ${breaks.join(', ')}`,
    );
}

/** Powers the guest off from inside, starts its VM again, and returns the heartbeat gap it saw. */
async function normalReboot(entry: VmInventoryEntry): Promise<{ downtimeMs: number; bootMs: number }> {
  const pid = await vmPid(entry.argv);
  const boots = (await readHeartbeatLog(entry.heartbeat.log)).boots;
  const arrivals = new HeartbeatArrivals(entry.heartbeat.log);
  let started: number;
  try {
    await askLinuxGuest(entry, 'poweroff');
    if (!(await waitForExit(pid, 60_000)))
      throw new Error(`QEMU ${pid} did not exit after the guest powered off`);
    started = performance.now();
    await launchVm(entry, { firstHeartbeatTimeoutMs: BOOT_TIMEOUT_MS });
    await waitForLog(
      entry.heartbeat.log,
      (log) => log.boots === boots + 1 && log.sinceLastBoot.length > 0,
      BOOT_TIMEOUT_MS,
    );
    await sleep(SETTLE_MS);
  } finally {
    arrivals.stop();
  }
  const gap = arrivals.longestGap();
  const firstOfNewBoot = arrivals.arrivals.find((a) => a.counter === 1);
  if (gap === undefined || gap.to !== 1 || firstOfNewBoot === undefined)
    throw new Error('no heartbeat gap across the reboot was seen');
  return { downtimeMs: gap.gapMs, bootMs: firstOfNewBoot.atMs - started };
}

async function turn(
  hostRoot: string,
  entry: VmInventoryEntry,
  number: number,
  samples: Samples,
): Promise<void> {
  const { bootId } = await guestUptime(entry);

  samples.readBeforeMs.push((await guestReadMs(entry)).ms);
  const arrivals = new HeartbeatArrivals(entry.heartbeat.log);
  let warm: WarmRebootVm;
  try {
    warm = onlyVm(await warmViaDocument(hostRoot, `linux-warm-${number}`), 'warm reboot');
    samples.readAfterWarmMs.push((await guestReadMs(entry)).ms);
    await sleep(SETTLE_MS);
  } finally {
    arrivals.stop();
  }
  if (warm.path !== 'handover') throw new Error(`warm reboot took the ${warm.path} path: ${warm.pathReason}`);
  samples.warmPauseMs.push(warm.pauseMs ?? Number.NaN);
  samples.warmGuestGapMs.push(gapAround(arrivals, warm.stoppedAt ?? Number.NaN));
  await expectSameBoot(entry, bootId, 'warm reboot');
  samples.readAfterWarmAgainMs.push((await guestReadMs(entry)).ms);
  progress(
    `turn ${number}: warm pause ${round(warm.pauseMs ?? Number.NaN)} ms; files read in ${samples.readBeforeMs.at(-1)} ms before, ${samples.readAfterWarmMs.at(-1)} ms right after`,
  );

  const saved = onlyVm(await classicViaAgent(hostRoot, `linux-saved-${number}`), 'save/restore');
  samples.savedPauseMs.push(saved.pauseMs ?? Number.NaN);
  samples.savedStateBytes.push(saved.stateBytes ?? Number.NaN);
  await expectSameBoot(entry, bootId, 'save/restore');
  progress(`turn ${number}: saved to disk and restored, pause ${round(saved.pauseMs ?? Number.NaN)} ms`);

  await guestReadMs(entry);
  const reboot = await normalReboot(entry);
  samples.rebootDowntimeMs.push(reboot.downtimeMs);
  samples.bootMs.push(reboot.bootMs);
  samples.readAfterRebootMs.push((await guestReadMs(entry)).ms);
  progress(
    `turn ${number}: normal reboot, downtime ${round(reboot.downtimeMs)} ms; files read in ${samples.readAfterRebootMs.at(-1)} ms right after`,
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const lab = await createLabHost();
  const entry = await lab.addLinuxVm({ name: 'linux', memoryMiB: MEMORY_MIB });
  const booting = performance.now();
  await lab.launch();
  progress(
    `${MEMORY_MIB} MiB Linux guest booted (first boot: makes its data disk) in ${Math.round(performance.now() - booting)} ms`,
  );
  const samples: Samples = {
    warmPauseMs: [],
    warmGuestGapMs: [],
    savedPauseMs: [],
    savedStateBytes: [],
    rebootDowntimeMs: [],
    readBeforeMs: [],
    readAfterWarmMs: [],
    readAfterWarmAgainMs: [],
    readAfterRebootMs: [],
    bootMs: [],
  };
  for (let number = 1; number <= TURNS; number++) await turn(lab.root, entry, number, samples);
  await lab.teardown();

  const warmPauseMs = round(median(samples.warmPauseMs));
  const coldRebootDowntimeMs = round(median(samples.rebootDowntimeMs));
  const summary = {
    warmPauseMs,
    coldRebootDowntimeMs,
    savedRebootPauseMs: round(median(samples.savedPauseMs)),
    downtimeReduction: round(1 - warmPauseMs / coldRebootDowntimeMs, 4),
    cacheReadAfterWarmMs: round(median(samples.readAfterWarmMs)),
    cacheReadAfterRebootMs: round(median(samples.readAfterRebootMs)),
  };
  const bytes = 32 << 20;
  console.log(`\nrejuv Linux guest bench: ${MEMORY_MIB} MiB, 2 vCPUs, TCG; ${TURNS} turns, medians`);
  console.log(
    `warm reboot (handover): guest paused ${summary.warmPauseMs} ms (QMP), heartbeat gap around it (the new process translating the guest's code first, under TCG) ${round(median(samples.warmGuestGapMs))} ms`,
  );
  console.log(
    `save to disk and restore: guest paused ${summary.savedRebootPauseMs} ms, ${round(median(samples.savedStateBytes) / (1 << 20))} MiB written`,
  );
  console.log(
    `normal reboot: down ${summary.coldRebootDowntimeMs} ms (poweroff to first heartbeat; QEMU start to first heartbeat ${round(median(samples.bootMs))} ms)`,
  );
  console.log(
    `downtime reduction, warm vs normal reboot: ${round(summary.downtimeReduction * 100, 2)}% (target >= 99%)`,
  );
  console.log(
    `reading ${bytes >> 20} MiB of files: ${round(median(samples.readBeforeMs))} ms cached before, ${summary.cacheReadAfterWarmMs} ms right after a warm reboot (${round(median(samples.readAfterWarmAgainMs))} ms the time after: the new QEMU process first translates the guest's code again under TCG), ${summary.cacheReadAfterRebootMs} ms right after a normal reboot (${round(summary.cacheReadAfterRebootMs / summary.cacheReadAfterWarmMs, 2)}x; target >= 2x)`,
  );
  console.log(`bench took ${round((performance.now() - started) / 1000)} s`);
  console.log(JSON.stringify(summary));
}

runLabBench(main);
