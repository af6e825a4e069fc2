/**
 * The guests bench:kernel can nest in its kernel host (`--guest heartbeat|linux`), and how each shows
 * from its own side that it ran on through a reboot path with its memory intact.
 *
 * heartbeat: the 512-byte boot sector (host/guest/heartbeat.asm). It marks its pages and prints BAD for
 *            any that lost its mark; it has no OS, so booting it again costs nothing.
 * linux:     the lab's Linux guest (Debian's kernel, busybox, virtio-blk and virtio-net): a real OS
 *            boot to lose. Its memory check is what test/host/linux-guest.test.ts uses: the same boot
 *            id (the guest's /proc/sys/kernel/random/boot_id) and its 8 MiB RAM ballast still matching
 *            its checksum (`mem ok`); and its page cache shows in how long it takes to read its data
 *            disk's 32 MiB of files, by its own clock.
 */
import { z } from 'zod';
import type { KernelHost } from '../host/lab/kernel-host.js';
import { nestedHeartbeatVm, type NestedVm } from '../host/lab/kernel-host-cycle.js';
import { nestedLinuxVm } from '../host/lab/kernel-host-linux-guest.js';
import { readHeartbeatLog } from '../host/lab/heartbeat-log.js';
import { askLinuxGuest, guestReadMs, guestUptime } from '../host/lab/linux-guest-requests.js';

export const KernelBenchGuestNameSchema = z.enum(['heartbeat', 'linux']);
export type KernelBenchGuestName = z.output<typeof KernelBenchGuestNameSchema>;

/** A nested guest, started or not, with the checks the bench asks of it. */
export interface BenchVm {
  readonly vm: NestedVm;
  /** The guest's own boot identity; undefined for a guest without one (its BOOT lines serve). */
  bootId(): Promise<string | undefined>;
  /** The guest's own memory check beyond the heartbeat counter. */
  memoryOk(): Promise<boolean>;
  /** Milliseconds, by the guest's clock, to read its data disk's files; undefined without a disk. */
  readFilesMs: (() => Promise<number>) | undefined;
}

export interface KernelBenchGuest {
  readonly name: KernelBenchGuestName;
  /** For the bench's title. */
  readonly description: string;
  /** How "memory intact" is judged, for the table. */
  readonly memoryCheck: string;
  /** Two sizes 4x apart: the pause should not grow with RAM. */
  readonly ramSizesMiB: readonly [number, number];
  /** From QEMU's start in the kernel host to the guest's first heartbeat. */
  readonly bootTimeoutMs: number;
  create(host: KernelHost, name: string): Promise<BenchVm>;
}

const heartbeatGuest: KernelBenchGuest = {
  name: 'heartbeat',
  description: 'the 512-byte heartbeat guest (no OS)',
  memoryCheck: 'no BAD page in its serial log, counter unbroken, no new BOOT',
  ramSizesMiB: [32, 128],
  bootTimeoutMs: 60_000,
  async create(host, name) {
    const vm = await nestedHeartbeatVm(host, name);
    return {
      vm,
      bootId: () => Promise.resolve(undefined),
      memoryOk: async () => (await readHeartbeatLog(vm.heartbeatLog)).badPages.length === 0,
      readFilesMs: undefined,
    };
  },
};

/**
 * One vCPU: under TCG in TCG on two shared cores a second one only slows the kernel host down; the
 * warm path does not depend on the count.
 */
const LINUX_GUEST_CPUS = 1;

const linuxGuest: KernelBenchGuest = {
  name: 'linux',
  description: "the lab's Linux guest (Debian's kernel, busybox, virtio-blk and virtio-net, 1 vCPU)",
  memoryCheck:
    'same guest boot id, its 8 MiB RAM ballast checksum ok (mem ok), counter unbroken, no new BOOT',
  // Its least (kernel-host-linux-guest.ts), and 4x that.
  ramSizesMiB: [96, 384],
  // A Linux boot in a doubly emulated machine, on a shared machine.
  bootTimeoutMs: 600_000,
  async create(host, name) {
    const vm = await nestedLinuxVm(host, name, { cpus: LINUX_GUEST_CPUS });
    // A reply read through two layers of emulation on a busy machine.
    const ask = { ...vm.ask, timeoutMs: 180_000, resendAfterMs: 90_000 };
    return {
      vm,
      bootId: async () => (await guestUptime(vm.entry, ask)).bootId,
      memoryOk: async () => (await askLinuxGuest(vm.entry, 'mem', ask)).join(' ') === 'ok',
      // Uncached, 32 MiB through two layers of emulation took over 3 minutes (load 9-12): never resent.
      readFilesMs: async () =>
        (await guestReadMs(vm.entry, { ...vm.ask, timeoutMs: 900_000, resendAfterMs: 900_000 })).ms,
    };
  },
};

export const KERNEL_BENCH_GUESTS: Record<KernelBenchGuestName, KernelBenchGuest> = {
  heartbeat: heartbeatGuest,
  linux: linuxGuest,
};
