import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { REPO_ROOT } from '../../host/lab/repo-paths.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { parseHostDocumentResult, type WarmRebootVm } from '../../host/results/host-document-result.js';
import { runHostDocument } from './support/host-documents.js';

const run = promisify(execFile);

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

interface FlowRun {
  readonly exitCode: number;
  readonly stdout: string;
}

/** Runs the agent's kernel level on a lab host with the kexec steps replaced (see the fixture). */
async function kernelFlow(
  root: string,
  runId: string,
  mode: 'reloaded' | 'load-fails' | 'crashes-restoring',
): Promise<FlowRun[]> {
  const { stdout } = await run('python3', [
    '-B',
    join(import.meta.dirname, 'fixtures', 'kernel_reload_flow.py'),
    join(REPO_ROOT, 'host', 'agent'),
    root,
    runId,
    mode,
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      if (line === 'SECOND crashed') return { exitCode: -1, stdout: '' };
      const match = /^(FIRST|SECOND|THIRD|RECOVER) (\d+) ?(.*)$/.exec(line);
      if (!match) throw new Error(`unexpected fixture output: ${line}`);
      return { exitCode: Number(match[2]), stdout: match[3] ?? '' };
    });
}

async function launchTwoVms(): Promise<LabHost> {
  const lab = await createLabHost();
  await lab.addVm({ name: 'vm-a', memoryMiB: 64 });
  await lab.addVm({ name: 'vm-b', memoryMiB: 64 });
  await lab.launch();
  return lab;
}

describe('Document: WarmReboot at level kernel (agent flow, kexec replaced)', () => {
  it('saves every VM to the state region, exits 194 with no result, and the rerun restores them all', async () => {
    host = await launchTwoVms();
    const pidsBefore = [await vmPid(host.vm('vm-a').argv), await vmPid(host.vm('vm-b').argv)];

    const [first, second] = await kernelFlow(host.root, 'kernel-ok', 'reloaded');

    // SSM reboots on 194 and reruns the script; the first run leaves stdout to the rerun.
    expect(first).toEqual({ exitCode: 194, stdout: '' });
    expect(second?.exitCode).toBe(0);
    const result = parseHostDocumentResult(second?.stdout ?? '');
    expect(result).toMatchObject({ document: 'WarmReboot', outcome: 'ok', level: 'kernel' });
    expect(result).toMatchObject({ kernelReloaded: true, bootIdAfter: 'boot-after-kexec' });
    const vms = result.vms as WarmRebootVm[];
    expect(vms.map((vm) => [vm.name, vm.outcome, vm.path])).toEqual([
      ['vm-a', 'resumed', 'kernel-reload'],
      ['vm-b', 'resumed', 'kernel-reload'],
    ]);
    for (const vm of vms) expect(vm.stateBytes).toBeLessThan(1 << 20);
    const pidsAfter = [await vmPid(host.vm('vm-a').argv), await vmPid(host.vm('vm-b').argv)];
    expect(pidsAfter).not.toContain(pidsBefore[0]);
    expect(pidsAfter).not.toContain(pidsBefore[1]);

    // Verify reads the same journal: new processes, counters past their value at suspend.
    const verify = await runHostDocument(host.root, 'Verify', { runId: 'kernel-ok' });
    expect(verify.result.outcome).toBe('ok');
    for (const name of ['vm-a', 'vm-b']) {
      const log = await readHeartbeatLog(host.vm(name).heartbeat.log);
      expect(log.boots).toBe(1);
      expect(log.badPages).toEqual([]);
      expect(counterBreaks(log.counters)).toEqual([]);
    }

    // The rerun's result is the run's result: the same command again replays it, touching nothing.
    const replay = await kernelFlow(host.root, 'kernel-ok', 'reloaded');
    expect(replay).toHaveLength(1);
    expect(JSON.parse(replay[0]?.stdout ?? '{}')).toMatchObject({ outcome: 'ok', replayed: true });
    expect([await vmPid(host.vm('vm-a').argv), await vmPid(host.vm('vm-b').argv)]).toEqual(pidsAfter);
  });

  it('never repeats a run whose next kernel crashed while restoring; Recover restores every VM from the region', async () => {
    host = await launchTwoVms();

    const [first, crashed, rerun, recover] = await kernelFlow(host.root, 'kernel-crash', 'crashes-restoring');

    expect(first?.exitCode).toBe(194);
    expect(crashed?.exitCode).toBe(-1);
    // SSM runs the step again after the crash's reboot: the journal says restoring began, so it refuses.
    const refusal = parseHostDocumentResult(rerun?.stdout ?? '');
    expect(refusal).toMatchObject({ outcome: 'refused', reasonCode: 'interrupted' });
    expect(refusal.reason).toMatch(/interrupted during kernel:restoring and is not repeated; send Recover/);

    const recovered = parseHostDocumentResult(recover?.stdout ?? '');
    expect(recovered).toMatchObject({ document: 'Recover', outcome: 'ok' });
    expect(
      (recovered.vms as { name: string; outcome: string; action: string }[]).map((vm) => [
        vm.name,
        vm.outcome,
        vm.action,
      ]),
    ).toEqual([
      ['vm-a', 'running', 'restored from saved device state'],
      ['vm-b', 'running', 'restored from saved device state'],
    ]);
    for (const name of ['vm-a', 'vm-b']) {
      await waitForHeartbeat(
        host.vm(name).heartbeat.log,
        (await readHeartbeatLog(host.vm(name).heartbeat.log)).counters.at(-1) ?? 0,
      );
      const log = await readHeartbeatLog(host.vm(name).heartbeat.log);
      expect(log.boots).toBe(1);
      expect(log.badPages).toEqual([]);
      expect(counterBreaks(log.counters)).toEqual([]);
    }
  });

  it('stages the next kernel before touching any VM: when kexec cannot load it, no VM is stopped', async () => {
    const lab = await launchTwoVms();
    host = lab;
    const pidsBefore = [await vmPid(host.vm('vm-a').argv), await vmPid(host.vm('vm-b').argv)];
    const countersBefore = await Promise.all(
      ['vm-a', 'vm-b'].map(async (name) => (await readHeartbeatLog(lab.vm(name).heartbeat.log)).counters),
    );

    const [only, ...rest] = await kernelFlow(host.root, 'kernel-no-load', 'load-fails');

    expect(rest).toEqual([]);
    expect(only?.exitCode).toBe(1);
    const result = parseHostDocumentResult(only?.stdout ?? '');
    expect(result).toMatchObject({ outcome: 'failed', reasonCode: 'reload-failed', kernelReloaded: false });
    expect(result.reason).toMatch(
      /kexec -l failed \(exit 255: Cannot load \/boot\/vmlinuz-lab\); no VM was touched/,
    );
    expect((result.vms as WarmRebootVm[]).map((vm) => vm.outcome)).toEqual(['untouched', 'untouched']);
    expect([await vmPid(host.vm('vm-a').argv), await vmPid(host.vm('vm-b').argv)]).toEqual(pidsBefore);
    for (const [index, name] of ['vm-a', 'vm-b'].entries()) {
      await waitForHeartbeat(host.vm(name).heartbeat.log, countersBefore[index]?.at(-1) ?? 0);
      expect(counterBreaks((await readHeartbeatLog(host.vm(name).heartbeat.log)).counters)).toEqual([]);
    }
  });
});
