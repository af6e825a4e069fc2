/**
 * Builds the lab's Linux guest: Debian's own kernel and a busybox initramfs whose /init is
 * host/guest/linux/init. Both packages are fetched with `apt-get download` and unpacked with
 * `dpkg-deb -x` into scratch space (nothing is installed on the machine); the kernel's virtio, ext4
 * and helper modules go into the initramfs with the order to load them in, since Debian builds them
 * as modules. The result is cached under `.tmp/linux-guest/`, keyed by the kernel release and a hash
 * of the init script and of this builder, so it is built once per kernel update or change.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { cpioNewc, type CpioEntry } from './cpio-newc.js';
import { REPO_ROOT, SCRATCH_DIR } from './repo-paths.js';

const run = promisify(execFile);

export const LINUX_GUEST_INIT = join(REPO_ROOT, 'host', 'guest', 'linux', 'init');
const BUILDER_SOURCE = join(REPO_ROOT, 'host', 'lab', 'linux-guest.ts');
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

/** The release behind Debian's `linux-image-amd64` metapackage: the newest kernel apt knows of. */
async function currentKernelRelease(): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run('apt-cache', ['depends', 'linux-image-amd64']));
  } catch (error) {
    throw new Error('apt-cache cannot resolve linux-image-amd64 (run scripts/install-system-deps.sh)', {
      cause: error,
    });
  }
  const release = /Depends: linux-image-([0-9][^\s]*-amd64)\s/.exec(stdout)?.[1];
  if (release === undefined)
    throw new Error(`linux-image-amd64 names no kernel package (apt-cache said: ${stdout.trim()})`);
  return release;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** A module's `depends=` from its .modinfo section: the modules that must be loaded before it. */
function moduleDepends(ko: Buffer): string[] {
  const marker = Buffer.from('\0depends=');
  const at = ko.indexOf(marker);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + marker.length);
  return ko
    .toString('latin1', at + marker.length, end)
    .split(',')
    .filter((name) => name !== '');
}

/** The wanted modules and everything they depend on, dependencies first (kernel/ paths). */
async function moduleLoadOrder(modulesDir: string): Promise<string[]> {
  const byName = new Map<string, string>();
  for (const file of await filesUnder(join(modulesDir, 'kernel'))) {
    const name = /([^/]+)\.ko$/.exec(file)?.[1];
    if (name !== undefined) byName.set(name.replaceAll('-', '_'), file);
  }
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    const file = byName.get(name.replaceAll('-', '_'));
    if (file === undefined) throw new Error(`kernel module ${name} is not in ${modulesDir}`);
    if (order.includes(file) || visiting.has(name)) return;
    visiting.add(name);
    for (const dependency of moduleDepends(await readFile(file))) await visit(dependency);
    order.push(file);
  };
  for (const name of WANTED_MODULES) await visit(name);
  return order;
}

function directoriesOf(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

async function buildInitramfs(unpacked: string, release: string, init: Buffer): Promise<Buffer> {
  const modulesDir = join(unpacked, 'lib', 'modules', release);
  const modules = await moduleLoadOrder(modulesDir);
  const files = new Map<string, Buffer>([
    ['init', init],
    ['bin/busybox', await readFile(join(unpacked, 'bin', 'busybox'))],
    ['lib/modules/load-order', Buffer.from(modules.map((m) => `${relative(modulesDir, m)}\n`).join(''))],
  ]);
  for (const module of modules)
    files.set(`lib/modules/${relative(modulesDir, module)}`, await readFile(module));
  const dirs = directoriesOf([...files.keys(), 'dev/x', 'proc/x', 'sys/x', 'run/x', 'mnt/x', 'sbin/x']);
  const entries: CpioEntry[] = [
    ...dirs.map((path): CpioEntry => ({ kind: 'dir', path })),
    // The kernel opens /dev/console for /init before anything is mounted.
    { kind: 'char-device', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...[...files].map(([path, data]): CpioEntry => ({
      kind: 'file',
      path,
      data,
      mode: path === 'init' || path === 'bin/busybox' ? 0o755 : 0o644,
    })),
  ];
  return gzipSync(cpioNewc(entries), { level: 6 });
}

async function download(dir: string, packages: readonly string[]): Promise<string[]> {
  try {
    // As root apt drops to its _apt user to download, which cannot write into our scratch directory.
    await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', ...packages], { cwd: dir });
  } catch (error) {
    throw new Error(`apt-get download ${packages.join(' ')} failed (network, or apt lists missing?)`, {
      cause: error,
    });
  }
  return (await readdir(dir)).filter((f) => f.endsWith('.deb')).map((f) => join(dir, f));
}

async function build(release: string, target: string): Promise<void> {
  const work = await mkdtemp(join(CACHE_DIR, 'build-'));
  try {
    const unpacked = join(work, 'root');
    await mkdir(unpacked);
    for (const deb of await download(work, [`linux-image-${release}`, 'busybox-static']))
      await run('dpkg-deb', ['-x', deb, unpacked]);
    const initrd = await buildInitramfs(unpacked, release, await readFile(LINUX_GUEST_INIT));
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

/** Builds of older kernels or sources (~10 MB each) are never used again. */
async function pruneOtherBuilds(current: string): Promise<void> {
  for (const name of await readdir(CACHE_DIR)) {
    const path = join(CACHE_DIR, name);
    if (path !== current && !name.startsWith('build-')) await rm(path, { recursive: true, force: true });
  }
}

let building: Promise<LinuxGuest> | undefined;

/** The Linux guest's kernel and initramfs, built first when not cached. One build per process. */
export function buildLinuxGuest(): Promise<LinuxGuest> {
  building ??= (async () => {
    const release = await currentKernelRelease();
    const digest = createHash('sha256')
      .update(await readFile(LINUX_GUEST_INIT))
      .update(await readFile(BUILDER_SOURCE))
      .update(await readFile(join(REPO_ROOT, 'host', 'lab', 'cpio-newc.ts')))
      .digest('hex')
      .slice(0, 12);
    const dir = join(CACHE_DIR, `${release}-${digest}`);
    if (!(await exists(join(dir, 'initrd.gz')))) {
      await mkdir(CACHE_DIR, { recursive: true });
      await build(release, dir);
      await pruneOtherBuilds(dir);
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
