import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { holdSeamEnv } from '../../host/lab/agent-seams.js';
import { crashGuest, haltGuestWhenNextStarted } from '../../host/lab/guest-faults.js';
import { readHeartbeatLog, waitForLog } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { queryStatus } from '../../host/lab/qmp-client.js';
import { runHostDocument, waitForFile } from './support/host-documents.js';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

/** vm-dead's guest has crashed (BAD, halted) while its QEMU runs on; vm-live's guest is fine. */
async function hostWithADeadGuest(): Promise<LabHost> {
  const lab = await createLabHost();
  await lab.addVm({ name: 'vm-dead', memoryMiB: 64 });
  await lab.addVm({ name: 'vm-live', memoryMiB: 64 });
  await lab.launch();
  crashGuest(lab.vm('vm-dead'));
  await waitForLog(lab.vm('vm-dead').heartbeat.log, (log) => log.badPages.length > 0);
  expect(await queryStatus(lab.vm('vm-dead').qmpSocket)).toBe('running');
  return lab;
}

const byName = <T extends { name: string }>(vms: readonly T[]) => new Map(vms.map((vm) => [vm.name, vm]));

describe('Document: Preflight on a host with a guest already silent', () => {
  it('refuses, naming the silent VM, unless allowSilentGuests is true; then lists it in silentVms', async () => {
    host = await hostWithADeadGuest();
    const deadCounter = (await readHeartbeatLog(host.vm('vm-dead').heartbeat.log)).counters.at(-1);

    const refused = await runHostDocument(host.root, 'Preflight', {
      runId: 'silent-refused',
      heartbeatTimeoutSeconds: '1',
    });

    expect(refused.run.status).toBe('Failed');
    expect(refused.run.responseCode).toBe(3);
    expect(refused.result).toMatchObject({
      outcome: 'refused',
      reasonCode: 'guest-silent',
      allowSilentGuests: false,
      silentVms: ['vm-dead'],
    });
    expect(refused.result.reason).toMatch(
      new RegExp(`^vm-dead: guest heartbeat is silent: its counter stayed at ${deadCounter} for 1 s`),
    );
    expect(refused.result.reason).not.toMatch(/vm-live/);
    const refusedVms = byName(refused.result.vms);
    expect(refusedVms.get('vm-dead')).toMatchObject({
      outcome: 'refused',
      heartbeat: { advancing: false, first: deadCounter, last: deadCounter },
    });
    expect(refusedVms.get('vm-live')).toMatchObject({ outcome: 'ready', heartbeat: { advancing: true } });
    const live = refusedVms.get('vm-live')?.heartbeat;
    expect(live?.last).toBeGreaterThan(live?.first ?? Infinity);

    const allowed = await runHostDocument(host.root, 'Preflight', {
      runId: 'silent-allowed',
      heartbeatTimeoutSeconds: '1',
      allowSilentGuests: 'true',
    });

    expect(allowed.run.status).toBe('Success');
    expect(allowed.result).toMatchObject({
      outcome: 'ok',
      allowSilentGuests: true,
      silentVms: ['vm-dead'],
    });
    expect(allowed.result.vms.map((vm) => [vm.name, vm.outcome])).toEqual([
      ['vm-dead', 'ready'],
      ['vm-live', 'ready'],
    ]);
    expect(byName(allowed.result.vms).get('vm-dead')?.heartbeat?.advancing).toBe(false);
  });

  it('reports an empty silentVms and passes a host whose guests all run', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();

    const { result } = await runHostDocument(host.root, 'Preflight', { runId: 'all-alive' });

    expect(result).toMatchObject({ outcome: 'ok', silentVms: [] });
    expect(result.vms[0]?.heartbeat?.advancing).toBe(true);
  });
});

describe('Document: Verify after a warm reboot of a host with a guest silent before it', () => {
  it('does not blame the reboot for the guest named silentAtPreflight, and still verifies the others', async () => {
    host = await hostWithADeadGuest();

    const reboot = await runHostDocument(host.root, 'WarmReboot', { runId: 'pre-silent' });
    expect(reboot.result.outcome).toBe('ok');

    const excused = await runHostDocument(host.root, 'Verify', {
      runId: 'pre-silent',
      heartbeatTimeoutSeconds: '2',
      silentAtPreflight: 'vm-dead',
    });

    expect(excused.run.status).toBe('Success');
    expect(excused.result).toMatchObject({ outcome: 'ok', silentAtPreflight: ['vm-dead'] });
    const vms = byName(excused.result.vms);
    expect(vms.get('vm-dead')).toMatchObject({ outcome: 'silent-at-preflight', silentAtPreflight: true });
    expect(vms.get('vm-dead')?.reason).toMatch(
      /did not advance within 2 s of resume; it was already silent at Preflight/,
    );
    expect(vms.get('vm-live')?.outcome).toBe('verified');

    // Without being told, Verify fails the silent guest as before.
    const uninformed = await runHostDocument(host.root, 'Verify', {
      runId: 'pre-silent',
      heartbeatTimeoutSeconds: '1',
    });
    expect(uninformed.result).toMatchObject({ outcome: 'failed', reasonCode: 'verification-failed' });
    expect(byName(uninformed.result.vms).get('vm-dead')?.outcome).toBe('failed');
  });

  it('still fails a guest that was alive before and went silent during the reboot', async () => {
    host = await hostWithADeadGuest();
    const holdDir = join(host.root, 'holds');
    await mkdir(holdDir, { recursive: true });

    const reboot = runHostDocument(
      host.root,
      'WarmReboot',
      { runId: 'died-during' },
      { env: holdSeamEnv('vm-live:quit', holdDir) },
    );
    await waitForFile(join(holdDir, 'vm-live:quit.reached'));
    haltGuestWhenNextStarted(host.vm('vm-live'));
    await writeFile(join(holdDir, 'vm-live:quit.release'), '');
    expect((await reboot).result.outcome).toBe('ok');

    const verify = await runHostDocument(host.root, 'Verify', {
      runId: 'died-during',
      heartbeatTimeoutSeconds: '2',
      silentAtPreflight: 'vm-dead',
    });

    expect(verify.run.status).toBe('Failed');
    expect(verify.result).toMatchObject({ outcome: 'failed', reasonCode: 'verification-failed' });
    const vms = byName(verify.result.vms);
    expect(vms.get('vm-live')).toMatchObject({ outcome: 'failed' });
    expect(vms.get('vm-live')?.reason).toMatch(/guest heartbeat did not advance within 2 s of resume/);
    expect(vms.get('vm-dead')?.outcome).toBe('silent-at-preflight');
    expect(await queryStatus(host.vm('vm-live').qmpSocket)).toBe('running');
  });
});
