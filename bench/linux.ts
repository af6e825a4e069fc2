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
 * its own monotonic clock.
 *
 * Two VMs of the same guest take their turns side by side: one on a lab-shaped host (user-mode network,
 * RAM in /dev/shm, raw disk) and one on a field-shaped host (host/lab/field-host.ts: virtio-net on a tap
 * in a network namespace, RAM on hugetlbfs, two qcow2 disks over backing files, the guest writing a
 * numbered record to its second disk every ~20 ms). Across each of the field VM's warm reboots the
 * namespace pings the guest every 10 ms and keeps a TCP connection to its echo service busy; afterwards
 * the bench checks no ping was lost, the connection is still open with every line echoed in order, and
 * the guest's write log is intact and went on. The last line of output is one JSON object with the
 * medians, the field VM's under the same keys in "field", with those checks.
 */
import { performance } from 'node:perf_hooks';
import type { VmInventoryEntry } from '../host/inventory/vm-inventory.js';
import { counterBreaks, readHeartbeatLog, waitForLog } from '../host/lab/heartbeat-log.js';
import { launchVm } from '../host/lab/launch-vms.js';
import { readGuestWriteLog } from '../host/lab/guest-write-log.js';
import { createLabHost, type LabHost } from '../host/lab/lab-host.js';
import { LINUX_GUEST_ECHO_PORT } from '../host/lab/linux-vm.js';
import { startPing, startTcpEcho, type EchoReport, type PingReport } from '../host/lab/netns-probes.js';
import { runLabBench } from './run-lab-bench.js';
import { askLinuxGuest, guestReadMs, guestUptime } from '../host/lab/linux-guest-requests.js';
import { vmPid, waitForExit } from '../host/lab/vm-processes.js';
import type { WarmRebootResult, WarmRebootVm } from '../host/results/host-document-result.js';
import { HeartbeatArrivals } from './heartbeat-arrivals.js';
import { classicViaAgent, warmViaDocument } from './reboot-paths.js';
import { median, round } from './statistics.js';

const MEMORY_MIB = 512;
const TURNS = 3;
const BOOT_TIMEOUT_MS = 300_000;
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
  /** The field VM's network and disk across each warm reboot. */
  pings: PingReport[];
  echoes: EchoReport[];
  writesContinued: boolean[];
  warmPaths: string[];
}

function emptySamples(): Samples {
  return {
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
    pings: [],
    echoes: [],
    writesContinued: [],
    warmPaths: [],
  };
}

/** Pings every 10 ms and a busy TCP connection across a field VM's warm reboot, and its write log. */
async function watchFieldVm(lab: LabHost, entry: VmInventoryEntry) {
  const { guestAddress } = lab.fieldVm(entry.name);
  const ping = startPing(lab.commandPrefix, guestAddress);
  const echo = startTcpEcho(lab.commandPrefix, guestAddress, LINUX_GUEST_ECHO_PORT);
  await ping.waitForAnswers(20);
  await echo.waitForAnswers(20);
  const logBefore = await readGuestWriteLog(entry);
  return async (samples: Samples) => {
    const [pings, echoes] = [await ping.stop(), await echo.stop()];
    const logAfter = await readGuestWriteLog(entry);
    samples.pings.push(pings);
    samples.echoes.push(echoes);
    samples.writesContinued.push(
      logAfter.bootId === logBefore.bootId &&
        logAfter.records > logBefore.records &&
        logAfter.misplaced.length === 0,
    );
    return `${pings.lost} of ${pings.transmitted} pings lost (longest round trip ${round(pings.longestRoundTripMs)} ms); TCP ${tcpSurvived(echoes) ? 'survived' : 'BROKE'}; write log ${logBefore.records} -> ${logAfter.records} records`;
  };
}

function tcpSurvived(echo: EchoReport): boolean {
  return (
    echo.connected && !echo.closedEarly && echo.sent > 0 && echo.echoed === echo.sent && echo.outOfOrder === 0
  );
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
async function normalReboot(
  lab: LabHost,
  entry: VmInventoryEntry,
): Promise<{ downtimeMs: number; bootMs: number }> {
  const pid = await vmPid(entry.argv);
  const boots = (await readHeartbeatLog(entry.heartbeat.log)).boots;
  const arrivals = new HeartbeatArrivals(entry.heartbeat.log);
  let started: number;
  try {
    await askLinuxGuest(entry, 'poweroff');
    if (!(await waitForExit(pid, 60_000)))
      throw new Error(`QEMU ${pid} did not exit after the guest powered off`);
    started = performance.now();
    await launchVm(entry, { firstHeartbeatTimeoutMs: BOOT_TIMEOUT_MS, commandPrefix: lab.commandPrefix });
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

async function turn(lab: LabHost, entry: VmInventoryEntry, number: number, samples: Samples): Promise<void> {
  const { bootId } = await guestUptime(entry);
  const say = (message: string) => progress(`${lab.shape} turn ${number}: ${message}`);

  samples.readBeforeMs.push((await guestReadMs(entry)).ms);
  const watched = lab.shape === 'field' ? await watchFieldVm(lab, entry) : undefined;
  const arrivals = new HeartbeatArrivals(entry.heartbeat.log);
  let warm: WarmRebootVm;
  try {
    warm = onlyVm(await warmViaDocument(lab, `linux-warm-${number}`), 'warm reboot');
    samples.readAfterWarmMs.push((await guestReadMs(entry)).ms);
    await sleep(SETTLE_MS);
  } finally {
    arrivals.stop();
  }
  // The lab shape must be handed over; the field shape's path is what the bench reports.
  if (warm.path !== 'handover' && lab.shape === 'lab')
    throw new Error(`warm reboot took the ${warm.path} path: ${warm.pathReason}`);
  samples.warmPaths.push(warm.path ?? 'unknown');
  if (watched !== undefined) say(await watched(samples));
  samples.warmPauseMs.push(warm.pauseMs ?? Number.NaN);
  samples.warmGuestGapMs.push(gapAround(arrivals, warm.stoppedAt ?? Number.NaN));
  await expectSameBoot(entry, bootId, 'warm reboot');
  samples.readAfterWarmAgainMs.push((await guestReadMs(entry)).ms);
  say(
    `warm pause ${round(warm.pauseMs ?? Number.NaN)} ms (${warm.path}); files read in ${samples.readBeforeMs.at(-1)} ms before, ${samples.readAfterWarmMs.at(-1)} ms right after`,
  );

  const saved = onlyVm(await classicViaAgent(lab, `linux-saved-${number}`), 'save/restore');
  samples.savedPauseMs.push(saved.pauseMs ?? Number.NaN);
  samples.savedStateBytes.push(saved.stateBytes ?? Number.NaN);
  await expectSameBoot(entry, bootId, 'save/restore');
  say(`saved to disk and restored, pause ${round(saved.pauseMs ?? Number.NaN)} ms`);

  await guestReadMs(entry);
  const reboot = await normalReboot(lab, entry);
  samples.rebootDowntimeMs.push(reboot.downtimeMs);
  samples.bootMs.push(reboot.bootMs);
  samples.readAfterRebootMs.push((await guestReadMs(entry)).ms);
  say(
    `normal reboot, downtime ${round(reboot.downtimeMs)} ms; files read in ${samples.readAfterRebootMs.at(-1)} ms right after`,
  );
}

/** The summary keys of one VM's samples. */
function summarize(samples: Samples) {
  const warmPauseMs = round(median(samples.warmPauseMs));
  const coldRebootDowntimeMs = round(median(samples.rebootDowntimeMs));
  return {
    warmPauseMs,
    coldRebootDowntimeMs,
    savedRebootPauseMs: round(median(samples.savedPauseMs)),
    downtimeReduction: round(1 - warmPauseMs / coldRebootDowntimeMs, 4),
    cacheReadAfterWarmMs: round(median(samples.readAfterWarmMs)),
    cacheReadAfterRebootMs: round(median(samples.readAfterRebootMs)),
  };
}

async function bootShape(shape: 'lab' | 'field'): Promise<{ lab: LabHost; entry: VmInventoryEntry }> {
  const lab = await createLabHost({ shape });
  const entry = await lab.addLinuxVm({ name: 'linux', memoryMiB: MEMORY_MIB });
  const booting = performance.now();
  await lab.launch();
  progress(
    `${shape}: ${MEMORY_MIB} MiB Linux guest booted (first boot: makes its data disk) in ${Math.round(performance.now() - booting)} ms`,
  );
  return { lab, entry };
}

function report(title: string, samples: Samples, summary: ReturnType<typeof summarize>): void {
  const bytes = 32 << 20;
  console.log(`\n${title}`);
  console.log(
    `warm reboot (${[...new Set(samples.warmPaths)].join(', ')}): guest paused ${summary.warmPauseMs} ms (QMP), heartbeat gap around it (the new process translating the guest's code first, under TCG) ${round(median(samples.warmGuestGapMs))} ms`,
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
}

async function main(): Promise<void> {
  const started = performance.now();
  const hosts = [await bootShape('lab'), await bootShape('field')];
  const samples = new Map(hosts.map(({ lab }) => [lab.shape, emptySamples()]));
  for (let number = 1; number <= TURNS; number++)
    for (const { lab, entry } of hosts)
      await turn(lab, entry, number, samples.get(lab.shape) ?? emptySamples());
  for (const { lab } of hosts) await lab.teardown();

  const labSamples = samples.get('lab') ?? emptySamples();
  const fieldSamples = samples.get('field') ?? emptySamples();
  const lab = summarize(labSamples);
  const fieldKeys = summarize(fieldSamples);
  const field = {
    ...fieldKeys,
    warmPath: [...new Set(fieldSamples.warmPaths)].join(','),
    pauseVsLab: round(fieldKeys.warmPauseMs / lab.warmPauseMs, 2),
    pingsLost: fieldSamples.pings.reduce((sum, p) => sum + p.lost, 0),
    pingsSent: fieldSamples.pings.reduce((sum, p) => sum + p.transmitted, 0),
    longestPingMs: round(Math.max(...fieldSamples.pings.map((p) => p.longestRoundTripMs))),
    tcpSurvived: fieldSamples.echoes.every(tcpSurvived),
    guestWritesContinued: fieldSamples.writesContinued.every(Boolean),
  };
  const summary = { ...lab, field };
  report(
    `rejuv Linux guest bench: ${MEMORY_MIB} MiB, 2 vCPUs, TCG; ${TURNS} turns, medians; lab shape`,
    labSamples,
    lab,
  );
  report(
    'field shape (tap in a network namespace, RAM on hugetlbfs, two qcow2 disks, guest writing to one)',
    fieldSamples,
    fieldKeys,
  );
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(
    `field vs lab warm pause: ${field.pauseVsLab}x (target <= 1.2x: ${verdict(field.pauseVsLab <= 1.2)}); pings every 10 ms: ${field.pingsLost} of ${field.pingsSent} lost (target 0: ${verdict(field.pingsLost === 0)}), longest round trip ${field.longestPingMs} ms; TCP connection ${field.tcpSurvived ? 'survived every warm reboot' : 'BROKE'}; guest writes ${field.guestWritesContinued ? 'intact and continued' : 'NOT intact'}`,
  );
  console.log(`bench took ${round((performance.now() - started) / 1000)} s`);
  console.log(JSON.stringify(summary));
}

runLabBench(main);
