/**
 * Builds the lab's Linux guest: Debian's own kernel and a busybox initramfs whose /init is
 * host/guest/linux/init. Both packages are fetched with `apt-get download` and unpacked with
 * `dpkg-deb -x` into scratch space (nothing is installed on the machine); the kernel's virtio, ext4
 * and helper modules go into the initramfs with the order to load them in, since Debian builds them
 * as modules. The result is cached under `.tmp/linux-guest/`, keyed by the kernel release and a hash
 * of the init script and of this builder, so it is built once per kernel update or change.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { currentKernelRelease, downloadPackages, exists, unpackPackages } from './debian-packages.js';
import { busyboxInitramfs, pruneOtherBuilds } from './initramfs.js';
import { REPO_ROOT, SCRATCH_DIR } from './repo-paths.js';

export const LINUX_GUEST_INIT = join(REPO_ROOT, 'host', 'guest', 'linux', 'init');
/** What the build depends on besides the kernel release: a change to any of them rebuilds it. */
const BUILDER_SOURCES = [
  'linux-guest.ts',
  'debian-packages.ts',
  'initramfs.ts',
  'kernel-modules.ts',
  'cpio-newc.ts',
].map((file) => join(REPO_ROOT, 'host', 'lab', file));
const CACHE_DIR = join(SCRATCH_DIR, 'linux-guest');

/** What /init needs: virtio-blk and virtio-net over virtio-pci, and ext2 (ext4 serves it) for the data disk. */
const WANTED_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'crc32c_generic', 'ext4'] as const;

export interface LinuxGuest {
  /** The kernel release, e.g. `6.1.0-57-amd64`. */
  readonly release: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The kernel command line /init expects (its console on ttyS2). */
  readonly append: string;
}

export const LINUX_GUEST_APPEND = 'console=ttyS2 loglevel=4 panic=-1 no_timer_check';

async function build(release: string, target: string): Promise<void> {
  const work = await mkdtemp(join(CACHE_DIR, 'build-'));
  try {
    const unpacked = join(work, 'root');
    await mkdir(unpacked);
    await unpackPackages(
      await downloadPackages(work, [`linux-image-${release}`, 'busybox-static']),
      unpacked,
    );
    const initrd = await busyboxInitramfs(
      unpacked,
      release,
      await readFile(LINUX_GUEST_INIT),
      WANTED_MODULES,
    );
    const out = join(work, 'out');
    await mkdir(out);
    await rename(join(unpacked, 'boot', `vmlinuz-${release}`), join(out, 'vmlinuz'));
    await writeFile(join(out, 'initrd.gz'), initrd);
    await rename(out, target).catch(async (error: unknown) => {
      // Another process finished the same build first: its result is as good as ours.
      if (!(await exists(join(target, 'initrd.gz')))) throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let building: Promise<LinuxGuest> | undefined;

/** The Linux guest's kernel and initramfs, built first when not cached. One build per process. */
export function buildLinuxGuest(): Promise<LinuxGuest> {
  building ??= (async () => {
    const release = await currentKernelRelease();
    const hash = createHash('sha256').update(await readFile(LINUX_GUEST_INIT));
    for (const source of BUILDER_SOURCES) hash.update(await readFile(source));
    const digest = hash.digest('hex').slice(0, 12);
    const dir = join(CACHE_DIR, `${release}-${digest}`);
    if (!(await exists(join(dir, 'initrd.gz')))) {
      await mkdir(CACHE_DIR, { recursive: true });
      await build(release, dir);
      await pruneOtherBuilds(CACHE_DIR, dir);
    }
    return {
      release,
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.gz'),
      append: LINUX_GUEST_APPEND,
    };
  })().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}
