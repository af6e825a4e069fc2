import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  counterBreaks,
  readHeartbeatLog,
  waitForHeartbeat,
  waitForLog,
} from '../../host/lab/heartbeat-log.js';
import { holdSeamEnv } from '../../host/lab/agent-seams.js';
import { hostLayout } from '../../host/inventory/host-layout.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { findVmProcesses, vmPid, waitForExit } from '../../host/lab/vm-processes.js';
import type { WarmRebootVm } from '../../host/results/host-document-result.js';
import { loadHostDocument } from '../../host/documents/load-host-document.js';
import { runDocument } from '../../host/runner/run-document.js';
import { runHostDocument, waitForFile, type RunOptions } from './support/host-documents.js';
import { pidsOf } from './support/vm-pids.js';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

async function labHostWith(names: readonly string[]): Promise<LabHost> {
  const lab = await createLabHost();
  for (const name of names) await lab.addVm({ name, memoryMiB: 64 });
  await lab.launch();
  return lab;
}

/**
 * The agent's test seam (host/lab/agent-seams.ts): with REJUV_HOLD_AT=<point> it stops at that point, creates
 * `<point>.reached` in REJUV_HOLD_DIR, and waits for `<point>.release`. The test acts in between.
 */
async function holdAt(lab: LabHost, points: string | readonly string[]) {
  const dir = join(lab.root, 'holds');
  await mkdir(dir, { recursive: true });
  const all = [points].flat();
  return {
    env: holdSeamEnv(all, dir),
    reached: () => Promise.all(all.map((point) => waitForFile(join(dir, `${point}.reached`)))),
    release: (only?: string) =>
      Promise.all((only ? [only] : all).map((point) => writeFile(join(dir, `${point}.release`), ''))),
  };
}

interface RunJournal {
  readonly vms: Readonly<Record<string, { readonly outcome?: string }>>;
}

/** Waits until the agent's journal of the run (`var/lib/rejuv/runs/<runId>.json`) satisfies `done`. */
async function waitForJournal(
  lab: LabHost,
  runId: string,
  done: (journal: RunJournal) => boolean,
): Promise<void> {
  const path = join(hostLayout(lab.root).runsDir, `${runId}.json`);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const journal = await readFile(path, 'utf8').then(
      (text) => JSON.parse(text) as RunJournal,
      () => undefined,
    );
    if (journal !== undefined && done(journal)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`journal of run ${runId} did not reach the expected state`);
}

/** A WarmReboot whose agent the test kills: there is no result line to read, only the run. */
function runWarmReboot(hostRoot: string, runId: string, options: RunOptions) {
  return runDocument({
    document: loadHostDocument('WarmReboot').content,
    documentName: 'WarmReboot',
    parameters: { runId },
    hostRoot,
    ...options,
  });
}

/** The guest printed more heartbeats, never rebooted, and its counter never skipped or went back. */
async function expectGuestContinued(lab: LabHost, name: string): Promise<void> {
  const log = lab.vm(name).heartbeat.log;
  const last = (await readHeartbeatLog(log)).counters.at(-1) ?? 0;
  await waitForHeartbeat(log, last + 5);
  const after = await readHeartbeatLog(log);
  expect(after.boots, name).toBe(1);
  expect(counterBreaks(after.counters), name).toEqual([]);
}

describe('Document: Recover', () => {
  it('does nothing on a healthy host', async () => {
    host = await labHostWith(['vm-a', 'vm-b']);
    const pids = await pidsOf(host, ['vm-a', 'vm-b']);

    const { run, result } = await runHostDocument(host.root, 'Recover', { runId: 'healthy' });

    expect(run.status).toBe('Success');
    expect(result.outcome).toBe('ok');
    expect(result.vms).toEqual([
      { name: 'vm-a', found: 'running', action: 'none', outcome: 'running', pid: pids[0] },
      { name: 'vm-b', found: 'running', action: 'none', outcome: 'running', pid: pids[1] },
    ]);
  });

  it('after a QEMU killed mid-suspend: WarmReboot fails naming it and stops the rollout; Recover reports it lost', async () => {
    host = await labHostWith(['vm-a', 'vm-b', 'vm-c']);
    const victim = await vmPid(host.vm('vm-b').argv);
    // vm-a and vm-b reboot first (one per CPU, at least two); vm-a waits, saved, until vm-b has failed.
    const holds = await holdAt(host, ['vm-a:saved', 'vm-b:stopped']);

    // vm-c takes the stop-restart path too (holding at a point of that path, which it never reaches), so
    // it waits for a slot instead of being handed over before the others.
    const env = { ...holds.env, REJUV_HOLD_AT: `${holds.env.REJUV_HOLD_AT},vm-c:started` };
    const reboot = runHostDocument(host.root, 'WarmReboot', { runId: 'killed' }, { env });
    await holds.reached();
    process.kill(victim, 'SIGKILL');
    expect(await waitForExit(victim, 5000)).toBe(true);
    await holds.release('vm-b:stopped');
    await waitForJournal(host, 'killed', (journal) => journal.vms['vm-b']?.outcome === 'failed');
    await holds.release('vm-a:saved');
    const { run, result } = await reboot;

    expect(run.status).toBe('Failed');
    expect(result).toMatchObject({ outcome: 'failed', reasonCode: 'suspend-failed' });
    expect(result.reason).toMatch(
      new RegExp(
        `^vm-b: QEMU pid ${victim} exited while the VM was being suspended \\(.+\\); the rollout stopped, not rebooted: vm-c$`,
      ),
    );
    const vms = result.vms as WarmRebootVm[];
    expect(vms.map((vm) => [vm.name, vm.outcome])).toEqual([
      ['vm-a', 'resumed'],
      ['vm-b', 'failed'],
      ['vm-c', 'untouched'],
    ]);

    const recover = await runHostDocument(host.root, 'Recover', { runId: 'killed' });

    expect(recover.run.status).toBe('Failed');
    expect(recover.result).toMatchObject({ outcome: 'partial', reasonCode: 'vms-not-recovered' });
    expect(recover.result.reason).toBe('not running after recovery: vm-b (lost)');
    const lost = recover.result.vms.find((vm) => vm.name === 'vm-b');
    expect(lost).toMatchObject({ outcome: 'lost', action: 'none' });
    expect(lost?.reason).toMatch(/QEMU process is gone and device state was only partly written/);
    for (const name of ['vm-a', 'vm-c']) {
      expect(recover.result.vms.find((vm) => vm.name === name)?.outcome).toBe('running');
      await expectGuestContinued(host, name);
    }

    const coldStart = await runHostDocument(host.root, 'Recover', { runId: 'killed', coldStart: 'true' });
    expect(coldStart.result.outcome).toBe('ok');
    expect(coldStart.result.vms.find((vm) => vm.name === 'vm-b')?.action).toMatch(/^cold-started/);
    // The victim's guest state is gone: it boots again and its counter starts over.
    const victimLog = await waitForLog(
      host.vm('vm-b').heartbeat.log,
      (log) => log.boots === 2 && log.sinceLastBoot.length > 0,
    );
    expect(victimLog.sinceLastBoot[0]).toBe(1);

    // Verify tells the three apart: rebooted in place, guest restarted, never rebooted.
    const verify = await runHostDocument(host.root, 'Verify', {
      runId: 'killed',
      heartbeatTimeoutSeconds: '5',
    });
    expect(verify.result).toMatchObject({ outcome: 'failed', runOutcome: 'failed' });
    const byName = new Map(verify.result.vms.map((vm) => [vm.name, vm]));
    expect(byName.get('vm-a')?.outcome).toBe('verified');
    expect(byName.get('vm-b')?.reason).toMatch(/guest restarted: its heartbeat went back from \d+ to 1/);
    expect(byName.get('vm-c')?.reason).toMatch(/QEMU process \d+ is the one from before the reboot/);
  });

  it('after the agent died with every old QEMU gone: restores each VM from its saved device state', async () => {
    host = await labHostWith(['vm-a', 'vm-b']);
    const holds = await holdAt(host, ['vm-a:quit', 'vm-b:quit']);
    const abort = new AbortController();

    const reboot = runWarmReboot(host.root, 'died', { env: holds.env, signal: abort.signal });
    await holds.reached();
    abort.abort();
    expect((await reboot).status).toBe('Cancelled');
    for (const name of ['vm-a', 'vm-b']) expect(await findVmProcesses(host.vm(name).argv)).toEqual([]);

    const resent = await runHostDocument(host.root, 'WarmReboot', { runId: 'died' });
    expect(resent.result).toMatchObject({ outcome: 'refused', reasonCode: 'interrupted' });

    const { run, result } = await runHostDocument(host.root, 'Recover', { runId: 'died' });

    expect(run.status).toBe('Success');
    expect(result.outcome).toBe('ok');
    for (const vm of result.vms) {
      expect(vm).toMatchObject({
        found: 'process gone, device state saved',
        action: 'restored from saved device state',
        outcome: 'running',
      });
      await expectGuestContinued(host, vm.name);
    }
    const preflight = await runHostDocument(host.root, 'Preflight', { runId: 'after-recover' });
    expect(preflight.result.outcome).toBe('ok');
  });

  it('after the agent died while guests were paused: continues them in their original processes', async () => {
    host = await labHostWith(['vm-a', 'vm-b']);
    const pids = await pidsOf(host, ['vm-a', 'vm-b']);
    const holds = await holdAt(host, ['vm-a:saved', 'vm-b:saved']);
    const abort = new AbortController();

    const reboot = runWarmReboot(host.root, 'paused', { env: holds.env, signal: abort.signal });
    await holds.reached();
    abort.abort();
    expect((await reboot).status).toBe('Cancelled');

    const { result } = await runHostDocument(host.root, 'Recover', { runId: 'paused' });

    expect(result.outcome).toBe('ok');
    expect(result.vms.map((vm) => [vm.name, vm.action, vm.outcome, vm.pid])).toEqual([
      ['vm-a', 'cont', 'running', pids[0]],
      ['vm-b', 'cont', 'running', pids[1]],
    ]);
    for (const name of ['vm-a', 'vm-b']) await expectGuestContinued(host, name);
  });
});
