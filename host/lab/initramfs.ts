/**
 * A gzipped newc initramfs for a busybox /init: the files given, every directory they need, the
 * directories /init mounts over, `/dev/console` (the kernel opens it for /init before anything is
 * mounted) and `/bin/sh`. Shared by the lab's Linux guest and its kernel host.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpioNewc, type CpioEntry } from './cpio-newc.js';
import { moduleLoadOrder } from './kernel-modules.js';

export interface InitramfsFile {
  readonly data: Buffer;
  readonly executable?: boolean;
}

const MOUNT_POINTS = ['dev', 'proc', 'sys', 'run', 'mnt', 'sbin', 'tmp'] as const;

function directoriesOf(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

/** `files` maps paths inside the initramfs (no leading slash) to their content; it must hold `bin/busybox`. */
export function buildInitramfs(files: ReadonlyMap<string, InitramfsFile>): Buffer {
  if (!files.has('bin/busybox')) throw new Error('an initramfs for a busybox /init needs bin/busybox');
  const dirs = directoriesOf([...files.keys(), ...MOUNT_POINTS.map((dir) => `${dir}/x`)]);
  const entries: CpioEntry[] = [
    ...dirs.map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'char-device', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...[...files].map(([path, file]): CpioEntry => ({
      kind: 'file',
      path,
      data: file.data,
      mode: file.executable === true ? 0o755 : 0o644,
    })),
  ];
  return gzipSync(cpioNewc(entries), { level: 6 });
}

/**
 * The initramfs of an unpacked Debian kernel and busybox-static (`unpacked` holds both): `init`, busybox,
 * the `wanted` modules with their dependencies, and `lib/modules/load-order` listing them in the order
 * /init loads them.
 */
export async function busyboxInitramfs(
  unpacked: string,
  release: string,
  init: Buffer,
  wanted: readonly string[],
): Promise<Buffer> {
  const modulesDir = join(unpacked, 'lib', 'modules', release);
  const modules = await moduleLoadOrder(modulesDir, wanted);
  const files = new Map<string, InitramfsFile>([
    ['init', { data: init, executable: true }],
    ['bin/busybox', { data: await readFile(join(unpacked, 'bin', 'busybox')), executable: true }],
    [
      'lib/modules/load-order',
      { data: Buffer.from(modules.map((m) => `${relative(modulesDir, m)}\n`).join('')) },
    ],
  ]);
  for (const module of modules)
    files.set(`lib/modules/${relative(modulesDir, module)}`, { data: await readFile(module) });
  return buildInitramfs(files);
}

/** Removes the builds in `cacheDir` other than `current` (older kernels or sources are never used again). */
export async function pruneOtherBuilds(cacheDir: string, current: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    if (path !== current && !name.startsWith('build-')) await rm(path, { recursive: true, force: true });
  }
}
