/**
 * The kernel level through the whole pipeline: an aging alarm, the synthesized state machine, the real
 * documents sent by the local SSM to a kernel host (a Linux host in a TCG VM, host/lab/kernel-host.ts)
 * whose SSM agent runs them in its own kernel and reboots it on exit 194. The tests share one kernel
 * host and run in order (refused, reloaded, a reload whose device state is lost); a second one is
 * killed as it reboots and never comes back.
 */
import { Duration } from 'aws-cdk-lib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counterBreaks, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { runKernelHostAgent } from '../../host/lab/kernel-host-agent.js';
import { DEVICE_STATE_REGION, teardownOpenKernelHosts } from '../../host/lab/kernel-host.js';
import { parseHostDocumentResult } from '../../host/results/host-document-result.js';
import { REJUVENATION_PATH } from '../../shared/domain/host-state.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { addKernelFleetHost, agingAlarmEvent, type KernelFleetHost } from './support/local-fleet.js';
import { auditChain, finished } from './support/execution.js';

let env: LocalEnvironment;
let host: KernelFleetHost;

// The reload takes the host off the network for the kexec and a kernel boot under TCG: seconds alone,
// a minute or more when two cores are shared. A host away longer than this is given up on.
const AWAIT_HOST = Duration.seconds(150);

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      alarmReloadLevel: 'kernel',
      awaitHostTimeout: AWAIT_HOST,
      pools: { metal: { maxHostsInMaintenance: 1 } },
    },
    // Polls of a command that takes minutes: every 2 s is plenty, and leaves the cores to the host.
    waitMs: 2000,
  });
  host = await addKernelFleetHost(env, { hostId: 'kh-1', pool: 'metal', vmName: 'vm-a' });
}, 300_000);

// Every call each function made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
  host.faults.beforeReboot = undefined;
  host.faults.afterReboot = undefined;
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenKernelHosts();
});

async function alarm(): Promise<string> {
  const started = (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId))) as {
    status: string;
    executionName: string;
  };
  expect(started.status).toBe('started');
  return started.executionName;
}

/** The nested guest's QEMU inside the kernel host; empty when none runs. */
async function guestPids(): Promise<string> {
  // Anchored: the shell running pgrep has the pattern on its own command line.
  const pattern = `^qemu-system-x86_64 -name ${host.vm.name} `;
  return (await host.kernelHost.exec(`pgrep -f -- '${pattern}' || true`)).stdout.trim();
}

const settingsPath = () => `${host.kernelHost.root}/etc/rejuv/kernel-reload.json`;

describe('End to end: rejuvenation at level kernel on a kernel host', () => {
  it('refuses a host whose kexec kernel is missing, and touches nothing', async () => {
    const settings = await host.kernelHost.sh(`cat ${settingsPath()}`);
    const missing = JSON.stringify({ ...JSON.parse(settings), kernel: '/nonexistent/vmlinuz' });
    await host.kernelHost.sh(`printf '%s' '${missing}' > ${settingsPath()}`);
    const [bootId, pids] = [await host.kernelHost.bootId(), await guestPids()];
    try {
      const execution = await finished(env, await alarm());
      expect({ status: execution.status, error: execution.error }).toEqual({
        status: 'FAILED',
        error: 'Refused',
      });
    } finally {
      await host.kernelHost.sh(`printf '%s' '${settings}' > ${settingsPath()}`);
    }
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE' });
    expect(await host.kernelHost.bootId()).toBe(bootId);
    expect(pids).toMatch(/^\d+$/);
    expect(await guestPids()).toBe(pids);
    const refusal = (await auditChain(env, host.hostId)).find(
      (r) => r.step === 'Preflight' && r.outcome === 'refused',
    );
    expect(JSON.stringify(refusal?.detail)).toMatch(/nonexistent\/vmlinuz/);
  }, 600_000);

  it('reloads the host kernel from an alarm: new boot id, the guest continues with its memory intact', async () => {
    const bootIdBefore = await host.kernelHost.bootId();
    const before = await host.heartbeats();
    const executionName = await alarm();
    const execution = await finished(env, executionName);
    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE', cordoned: false });
    const bootIdAfter = await host.kernelHost.bootId();
    expect(bootIdAfter).not.toBe(bootIdBefore);

    await waitForHeartbeat(host.vm.heartbeatLog, (before.counters.at(-1) ?? 0) + 10, 120_000);
    const after = await host.heartbeats();
    expect(after.boots, 'the guest was never rebooted').toBe(1);
    expect(after.badPages, 'every page of guest memory as the guest left it').toEqual([]);
    expect(counterBreaks(after.counters)).toEqual([]);

    const records = (await auditChain(env, host.hostId)).filter((r) => r.executionId === executionName);
    const warm = records.find(
      (r) => r.step === 'WarmReboot' && r.commandId !== undefined && r.outcome === 'succeeded',
    );
    expect(warm?.detail).toMatchObject({ kernelReloaded: true, bootIdBefore, bootIdAfter });
    expect(records.filter((r) => r.toState !== undefined).map((r) => r.toState)).toEqual(
      REJUVENATION_PATH.slice(1),
    );
  }, 900_000);

  it('quarantines the host naming the guest whose device state did not survive the reload; Recover cold-starts it only when asked', async () => {
    // The new kernel is up, SSM has not run the step again yet: the guest's saved state is damaged.
    host.faults.afterReboot = async () => {
      await host.kernelHost.sh(
        `dd if=/dev/zero of=${DEVICE_STATE_REGION.device} bs=4096 count=1 conv=notrunc`,
      );
    };
    const execution = await finished(env, await alarm());
    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Quarantined',
    });
    const quarantined = await env.store.hosts.get(host.hostId);
    expect(quarantined.state).toBe('QUARANTINED');
    expect(quarantined.quarantineReason).toMatch(/vm-a/);
    // The workflow's Recover did not cold-start it: nothing runs where the guest was.
    expect(await guestPids()).toBe('');

    // An operator asks for it: the guest boots afresh, its state lost, and says so.
    const recovered = await runKernelHostAgent(host.kernelHost, [
      'recover',
      '--run-id',
      'operator-cold-start',
      '--cold-start',
      'true',
    ]);
    expect(parseHostDocumentResult(recovered.stdout)).toMatchObject({
      outcome: 'ok',
      vms: [{ name: 'vm-a', outcome: 'running' }],
    });
    // Booted afresh: a new QEMU over the same disk (whether the nested BIOS then reaches the guest's
    // boot sector is the lab's business: under double emulation on a loaded machine it sometimes takes
    // minutes, so the guest's own BOOT line is not waited for here).
    expect(await guestPids()).toMatch(/^\d+$/);

    // The operator puts the host back by hand, saying why; the release is forced because the guest's
    // new boot has not shown a heartbeat yet, and audited as forced.
    const released = await env.operatorApi.send({
      action: 'release',
      hostId: host.hostId,
      reason: 'vm-a cold-started by hand after its device state was lost',
      force: true,
    });
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE' });
  }, 900_000);

  it('quarantines a host that does not come back from its reload, naming its guests', async () => {
    // A kernel host of its own, whose guest is surely alive for Preflight; the first one is done with.
    await host.kernelHost.teardown();
    host = await addKernelFleetHost(env, { hostId: 'kh-2', pool: 'metal', vmName: 'vm-b' });
    // The host dies as it reboots: no new kernel ever answers.
    host.faults.beforeReboot = () => host.kernelHost.teardown();
    const executionName = await alarm();
    const execution = await finished(env, executionName);
    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Quarantined',
    });
    const quarantined = await env.store.hosts.get(host.hostId);
    expect(quarantined.state).toBe('QUARANTINED');
    expect(quarantined.quarantineReason).toMatch(/did not report back online.*vm-b/);
    const records = (await auditChain(env, host.hostId)).filter((r) => r.executionId === executionName);
    expect(records.find((r) => r.step === 'WarmReboot' && r.outcome === 'failed')?.detail).toMatchObject({
      status: 'HostNotBack',
      pingStatus: 'ConnectionLost',
      guests: 'vm-b',
    });
  }, 900_000);
});
