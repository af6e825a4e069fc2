import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import {
  kernelCycle,
  nestedHeartbeatVm,
  startNestedVm,
  type NestedVm,
} from '../../host/lab/kernel-host-cycle.js';
import { startKernelHost, teardownOpenKernelHosts, type KernelHost } from '../../host/lab/kernel-host.js';

// One kernel host for the whole file (a TCG VM booting Debian's kernel, 11-18 s, plus the raw kexec
// cycle, 30-60 s): CI has two cores. The tests run in order and build on each other. The agent's own
// kernel level, through SSM and the state machine, is test/e2e/kernel-level.test.ts.
let host: KernelHost;
let vm: NestedVm;

beforeAll(async () => {
  host = await startKernelHost();
  console.info(`kernel host booted to its guest agent in ${Math.round(host.bootMs)} ms`);
}, 240_000);
afterAll(teardownOpenKernelHosts);

describe('Kernel host: a Linux host for the kernel level', () => {
  it('runs commands through the guest agent, in a chroot of this machine with both preserved regions', async () => {
    const out = await host.sh(
      'uname -r; for d in pmem0 pmem1; do echo "$d $(cat /sys/block/$d/device/../resource) $(blockdev --getsize64 /dev/$d)"; done; ' +
        'for c in kexec qemu-system-x86_64 python3; do command -v $c; done; ' +
        'touch /usr/rejuv-x 2>/dev/null && echo root-writable || echo root-read-only',
    );
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe(host.image.release);
    // /dev/pmem0 is the guest-RAM region at 256 MiB, /dev/pmem1 the device-state region at 384 MiB.
    expect(lines[1]).toBe(`pmem0 0x10000000 ${64 << 20}`);
    expect(lines[2]).toBe(`pmem1 0x18000000 ${16 << 20}`);
    expect(lines[3]).toBe(`${host.image.tools}/sbin/kexec`);
    expect(lines.slice(4, 6)).toEqual(['/usr/bin/qemu-system-x86_64', '/usr/bin/python3']);
    expect(lines.at(-1)).toBe('root-read-only');
    const failing = await host.exec('echo oops >&2; exit 7');
    expect(failing).toEqual({ exitCode: 7, stdout: '', stderr: 'oops\n' });
  });

  it('runs the heartbeat guest nested, with its RAM on the preserved region', async () => {
    vm = await nestedHeartbeatVm(host, 'vm-a');
    await startNestedVm(host, vm);
    const first = (await readHeartbeatLog(vm.heartbeatLog)).counters.at(-1) ?? 0;
    await waitForHeartbeat(vm.heartbeatLog, first + 5, 60_000);
    // Its RAM is the region: QEMU maps /dev/pmem0 itself.
    const mappings = await host.sh("cat /proc/[0-9]*/maps 2>/dev/null | grep -c ' /dev/pmem0$' || true");
    expect(Number(mappings)).toBeGreaterThan(0);
  }, 180_000);

  it('reloads the kernel with kexec while the guest keeps its memory: new boot id, counter continuous, RAM intact', async () => {
    const before = await readHeartbeatLog(vm.heartbeatLog);
    const cycle = await kernelCycle(host, vm);
    console.info(
      `kernel cycle: pause ${Math.round(cycle.pauseMs)} ms, phases ${JSON.stringify(
        Object.fromEntries(Object.entries(cycle.phasesMs).map(([k, v]) => [k, Math.round(v)])),
      )}, device state ${cycle.stateBytes} bytes`,
    );

    expect(cycle.bootIdAfter).not.toBe(cycle.bootIdBefore);
    expect(cycle.ramDigestAfter).toBe(cycle.ramDigestBefore);
    const lastBefore = before.counters.at(-1) ?? 0;
    await waitForHeartbeat(vm.heartbeatLog, lastBefore + 20, 60_000);
    const after = await readHeartbeatLog(vm.heartbeatLog);
    expect(after.boots).toBe(1);
    expect(after.badPages).toEqual([]);
    expect(counterBreaks(after.counters)).toEqual([]);
    // The guest's own process is a new one, in a kernel that booted after the cycle began.
    expect(await host.bootId()).toBe(cycle.bootIdAfter);
  }, 300_000);
});
