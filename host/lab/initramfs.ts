/**
 * A gzipped newc initramfs for a busybox /init: the files given, every directory they need, the
 * directories /init mounts over, `/dev/console` (the kernel opens it for /init before anything is
 * mounted) and `/bin/sh`. Shared by the lab's Linux guest and its kernel host.
 */
import { gzipSync } from 'node:zlib';
import { cpioNewc, type CpioEntry } from './cpio-newc.js';

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
