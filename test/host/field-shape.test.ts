import { access, readFile } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readGuestWriteLog } from '../../host/lab/guest-write-log.js';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { guestUptime } from '../../host/lab/linux-guest-requests.js';
import { LINUX_GUEST_ECHO_PORT } from '../../host/lab/linux-vm.js';
import { startPing, startTcpEcho } from '../../host/lab/netns-probes.js';
import { findVmProcesses, vmPid } from '../../host/lab/vm-processes.js';
import type { WarmRebootVm } from '../../host/results/host-document-result.js';
import { runHostDocument } from './support/host-documents.js';

const NR_HUGEPAGES = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const hugepages = async () => Number((await readFile(NR_HUGEPAGES, 'utf8')).trim());
const mountsUnder = async (root: string) =>
  (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((line) => line.includes(` ${root}/`));

describe('Lab host, field shape', () => {
  it('runs VMs on taps in its own namespace with RAM on hugetlbfs, and its teardown gives all of it back', async () => {
    const poolBefore = await hugepages();
    host = await createLabHost({ shape: 'field' });
    const a = await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    const b = await host.addVm({ name: 'vm-b', memoryMiB: 32 });
    await host.launch();
    const { root, netns } = host;

    // 32 + 16 pages of 2 MiB added to the pool, a hugetlbfs mounted inside the host holding both VMs' RAM.
    expect((await hugepages()) - poolBefore).toBe(48);
    expect(await mountsUnder(root)).toEqual([expect.stringMatching(/ hugetlbfs /)]);
    expect(a.argv.join(' ')).toMatch(/mem-path=[^,]*\/hugepages\/vm-a\.ram,share=on/);
    expect(a.argv.join(' ')).toMatch(/-netdev tap,id=net0,ifname=tap0,script=no,downscript=no/);
    expect(b.argv.join(' ')).toMatch(/ifname=tap1/);
    expect(a.argv.filter((arg) => /^file=.*,format=qcow2,/.test(arg))).toHaveLength(2);
    expect(await exists(`/run/netns/${netns}`)).toBe(true);
    expect(await exists(`/sys/class/net/tap0`)).toBe(false); // the taps live in the namespace only
    for (const entry of [a, b]) expect(await findVmProcesses(entry.argv)).toHaveLength(1);

    await host.teardown();
    host = undefined;

    expect(await hugepages()).toBe(poolBefore);
    expect(await mountsUnder(root)).toEqual([]);
    expect(await exists(`/run/netns/${netns}`)).toBe(false);
    expect(await exists(root)).toBe(false);
    for (const entry of [a, b]) expect(await findVmProcesses(entry.argv)).toEqual([]);
  });
});

// One boot of a real Linux guest (about 10 s under TCG) for the whole describe: CI has two cores.
describe('Linux guest on a field-shaped host: Preflight, WarmReboot, Verify', () => {
  it('takes the stop-restart path for its tap today, with the reason; the guest, its TCP connection and its disk writes go on', async () => {
    host = await createLabHost({ shape: 'field' });
    const entry = await host.addLinuxVm({ name: 'vm-linux', memoryMiB: 256 });
    await host.launch();
    const { launcher, commandPrefix } = host;
    const { guestAddress } = host.fieldVm('vm-linux');
    const pidBefore = await vmPid(entry.argv);
    const before = await guestUptime(entry);
    const ping = startPing(commandPrefix, guestAddress);
    const echo = startTcpEcho(commandPrefix, guestAddress, LINUX_GUEST_ECHO_PORT);
    await ping.waitForAnswers(20);
    await echo.waitForAnswers(20);
    const logBefore = await readGuestWriteLog(entry);
    expect(logBefore.records).toBeGreaterThan(0);

    const preflight = await runHostDocument(host.root, 'Preflight', { runId: 'field' }, { launcher });
    expect(preflight.result.outcome).toBe('ok');
    const { run, result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'field' }, { launcher });

    expect(run.status).toBe('Success');
    const [vm] = result.vms as WarmRebootVm[];
    expect(vm).toMatchObject({ name: 'vm-linux', outcome: 'resumed', path: 'stop-restart', pidBefore });
    expect(vm?.pathReason).toMatch(/tap\/vhost network backend \(its fds cannot be handed over\)/);
    expect(await vmPid(entry.argv)).not.toBe(pidBefore);
    const log = entry.heartbeat.log;
    await waitForHeartbeat(log, ((await readHeartbeatLog(log)).counters.at(-1) ?? 0) + 10);
    const heartbeat = await readHeartbeatLog(log);
    expect(heartbeat.boots).toBe(1);
    expect(counterBreaks(heartbeat.counters)).toEqual([]);
    expect((await guestUptime(entry)).bootId).toBe(before.bootId);
    // The guest kept writing through the restart, and every record it flushed is on the disk in place.
    await waitForHeartbeat(log, (heartbeat.counters.at(-1) ?? 0) + 50);
    const logAfter = await readGuestWriteLog(entry);
    expect(logAfter).toMatchObject({ bootId: logBefore.bootId, misplaced: [] });
    expect(logAfter.records).toBeGreaterThan(logBefore.records);
    // TCP retransmits what the restart dropped: the connection is still open, every line echoed in order.
    const echoed = await echo.stop();
    expect(echoed).toMatchObject({ connected: true, closedEarly: false, outOfOrder: 0 });
    expect(echoed.echoed).toBe(echoed.sent);
    // Pings sent while no process held the tap are dropped (the handbook measured 5 of 783): not asserted
    // here, since how many fall in that window depends on timing; bench:linux reports the count.
    const pinged = await ping.stop();
    expect(pinged.received).toBeGreaterThan(20);

    const verify = await runHostDocument(host.root, 'Verify', { runId: 'field' }, { launcher });
    expect(verify.result.outcome).toBe('ok');
  });
});
