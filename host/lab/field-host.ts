/**
 * The field shape of a lab host: VMs configured the way hypervisor hosts in the field configure them,
 * next to the lab shape's user-mode network, /dev/shm RAM and raw disks (host/lab/lab-host.ts):
 *
 * - virtio-net on a persistent tap in a network namespace of the host's own (host/lab/netns.ts); the
 *   namespace side of each tap has an address, the guest takes another of the same /24, so the
 *   namespace can ping it and connect to it. QEMU, and the documents that restart it, run inside.
 * - guest RAM a `memory-backend-file,share=on` on a hugetlbfs of 2 MiB pages (host/lab/hugepages.ts).
 * - qcow2 disks, each an overlay on a raw backing file of its own (host/lab/qcow2.ts).
 *
 * Teardown works from the host's directory alone: the namespace's processes are killed, the namespace
 * (and its taps) deleted, the hugetlbfs unmounted and its pages given back.
 */
import { copyFile, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { HUGEPAGE_MIB, mountHugetlbfs, releaseHostHugepages, reserveHugepages } from './hugepages.js';
import { addTap, createNetns, deleteNetns, netnsExec, netnsName, netnsPids } from './netns.js';
import { createQcow2Overlay } from './qcow2.js';

export type LabShape = 'lab' | 'field';

/** How one VM of a field host is wired; its argv is built from this. */
export interface FieldVmWiring {
  /** The guest RAM file, on the host's hugetlbfs. */
  readonly ramPath: string;
  readonly tap: string;
  /** The `-netdev` value: the tap by name, no scripts (the tap is made and addressed beforehand). */
  readonly netdev: string;
  /** The `-device` value of the virtio-net NIC on it. */
  readonly nic: string;
  /** The namespace side's address on the tap. */
  readonly hostAddress: string;
  /** The address the guest gives itself (`rejuv.ip=` on a Linux guest's command line). */
  readonly guestAddress: string;
  readonly guestCidr: string;
}

export interface FieldHost {
  readonly netns: string;
  /** Runs a command inside the namespace (`ip netns exec <ns>`). */
  readonly commandPrefix: readonly string[];
  /** Wires the next VM: pages for its RAM added to the pool, its tap made and addressed. */
  wireVm(name: string, memoryMiB: number): Promise<FieldVmWiring>;
}

/** The subnet of a field host's n-th tap (from 0): one /24 each, so routes never overlap. */
const SUBNET_PREFIX = '10.77';
/** Taps of one host: names and subnets are per namespace, so every host can use the same ones. */
const MAX_TAPS = 200;

function hugetlbfsDir(hostRoot: string): string {
  return join(hostRoot, 'var', 'lib', 'rejuv', 'hugepages');
}

export async function createFieldHost(hostRoot: string): Promise<FieldHost> {
  const netns = netnsName(hostRoot);
  await createNetns(netns);
  const mount = hugetlbfsDir(hostRoot);
  await mkdir(mount, { recursive: true });
  await mountHugetlbfs(mount);
  let taps = 0;
  return {
    netns,
    commandPrefix: netnsExec(netns),
    async wireVm(name, memoryMiB) {
      if (memoryMiB % HUGEPAGE_MIB !== 0)
        throw new Error(`guest RAM on 2 MiB pages must be a whole number of them, not ${memoryMiB} MiB`);
      const index = taps++;
      if (index >= MAX_TAPS) throw new Error(`a field lab host has at most ${MAX_TAPS} VMs`);
      await reserveHugepages(hostRoot, memoryMiB / HUGEPAGE_MIB);
      const tap = `tap${index}`;
      const hostAddress = `${SUBNET_PREFIX}.${index}.1`;
      const guestAddress = `${SUBNET_PREFIX}.${index}.2`;
      await addTap(netns, tap, `${hostAddress}/24`);
      const mac = `52:54:00:77:${index.toString(16).padStart(2, '0')}:02`;
      return {
        ramPath: join(mount, `${name}.ram`),
        tap,
        netdev: `tap,id=net0,ifname=${tap},script=no,downscript=no`,
        nic: `virtio-net-pci,netdev=net0,mac=${mac}`,
        hostAddress,
        guestAddress,
        guestCidr: `${guestAddress}/24`,
      };
    },
  };
}

/** A field VM's disk: a qcow2 overlay on its own raw backing file, blank (sparse) or a copy of `source`. */
export async function createFieldDisk(
  overlay: string,
  backing: { readonly bytes: number } | { readonly copyOf: string },
): Promise<void> {
  const base = overlay.replace(/\.qcow2$/, '') + '.base.raw';
  if ('copyOf' in backing) await copyFile(backing.copyOf, base);
  else {
    const image = await open(base, 'w');
    await image.truncate(backing.bytes);
    await image.close();
  }
  await createQcow2Overlay(overlay, base);
}

/**
 * Ends everything a field host made, from its directory alone: every process inside its namespace
 * (`killAll` kills and waits), the namespace with its taps, the hugetlbfs and its pages. A lab-shaped
 * host has none of them, and this does nothing.
 */
export async function teardownFieldHost(
  hostRoot: string,
  killAll: (pids: readonly number[]) => Promise<void>,
): Promise<void> {
  const netns = netnsName(hostRoot);
  await killAll((await netnsPids(netns)).filter((pid) => pid !== process.pid));
  await deleteNetns(netns);
  await releaseHostHugepages(hostRoot);
}
