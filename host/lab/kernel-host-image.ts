/**
 * Builds what the lab's kernel host boots and runs: Debian's kernel, an initramfs whose /init is
 * host/guest/kernel-host/init (with the virtio, 9p, virtio-console and nvdimm modules it loads), and
 * the host tools this machine lacks, unpacked from Debian packages into a `tools/` tree the kernel
 * host reaches through its 9p share of `/`: kexec-tools and qemu-guest-agent, plus the shared libraries
 * of their dependency closure that are not installed here (kexec-tools links Xen's). Nothing is
 * installed on the machine. Cached under `.tmp/kernel-host/<release>-<hash of the sources>/`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  currentKernelRelease,
  downloadPackages,
  exists,
  missingLibraries,
  unpackPackages,
} from './debian-packages.js';
import { busyboxInitramfs, pruneOtherBuilds } from './initramfs.js';
import { REPO_ROOT, SCRATCH_DIR } from './repo-paths.js';

export const KERNEL_HOST_INIT = join(REPO_ROOT, 'host', 'guest', 'kernel-host', 'init');
const BUILDER_SOURCES = [
  'kernel-host-image.ts',
  'debian-packages.ts',
  'initramfs.ts',
  'kernel-modules.ts',
  'cpio-newc.ts',
].map((file) => join(REPO_ROOT, 'host', 'lab', file));
const CACHE_DIR = join(SCRATCH_DIR, 'kernel-host');

/**
 * virtio_ring before virtio (see the init script); 9p for the shared root; virtio_console for the
 * guest agent's port; libnvdimm, nd_pmem and nd_e820 turn the memmap= regions into /dev/pmem*.
 */
const WANTED_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci',
  'virtio_console',
  '9pnet_virtio',
  '9p',
  'libnvdimm',
  'nd_pmem',
  'nd_e820',
] as const;

const TOOL_PACKAGES = ['kexec-tools', 'qemu-guest-agent'] as const;

export interface KernelHostImage {
  /** The kernel release, e.g. `6.1.0-57-amd64`. */
  readonly release: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The unpacked tools: `<tools>/sbin/kexec`, `<tools>/usr/sbin/qemu-ga`, libraries under `usr/lib`. */
  readonly tools: string;
}

async function build(release: string, target: string): Promise<void> {
  const work = await mkdtemp(join(CACHE_DIR, 'build-'));
  try {
    const debs = join(work, 'debs');
    const unpacked = join(work, 'root');
    const out = join(work, 'out');
    for (const dir of [debs, unpacked, out]) await mkdir(dir);
    await unpackPackages(
      await downloadPackages(debs, [`linux-image-${release}`, 'busybox-static']),
      unpacked,
    );
    const initrd = await busyboxInitramfs(
      unpacked,
      release,
      await readFile(KERNEL_HOST_INIT),
      WANTED_MODULES,
    );
    await rename(join(unpacked, 'boot', `vmlinuz-${release}`), join(out, 'vmlinuz'));
    await writeFile(join(out, 'initrd.gz'), initrd);
    const toolDebs = join(work, 'tool-debs');
    await mkdir(toolDebs);
    const toolPackages = [...TOOL_PACKAGES, ...(await missingLibraries(TOOL_PACKAGES))];
    await unpackPackages(await downloadPackages(toolDebs, toolPackages), join(out, 'tools'));
    await rename(out, target).catch(async (error: unknown) => {
      // Another process finished the same build first: its result is as good as ours.
      if (!(await exists(join(target, 'initrd.gz')))) throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let building: Promise<KernelHostImage> | undefined;

/** The kernel host's kernel, initramfs and tools, built first when not cached. One build per process. */
export function buildKernelHostImage(): Promise<KernelHostImage> {
  building ??= (async () => {
    const release = await currentKernelRelease();
    const hash = createHash('sha256').update(await readFile(KERNEL_HOST_INIT));
    for (const source of BUILDER_SOURCES) hash.update(await readFile(source));
    const dir = join(CACHE_DIR, `${release}-${hash.digest('hex').slice(0, 12)}`);
    if (!(await exists(join(dir, 'initrd.gz')))) {
      await mkdir(CACHE_DIR, { recursive: true });
      await build(release, dir);
      await pruneOtherBuilds(CACHE_DIR, dir);
    }
    return {
      release,
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.gz'),
      tools: join(dir, 'tools'),
    };
  })().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}
