/**
 * A cpio archive in the "newc" format, the one the Linux kernel unpacks as an initramfs. Written here
 * rather than with cpio(1): a fresh Debian machine lacks cpio, and the archive can then hold device
 * nodes and root-owned files without root.
 */

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Buffer; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | { readonly kind: 'char-device'; readonly path: string; readonly major: number; readonly minor: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000, 'char-device': 0o020000 } as const;
const TRAILER = 'TRAILER!!!';

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new Error(`cpio header field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}

/** Header and name padded together, and data, each to a multiple of 4 bytes, as newc requires. */
function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function record(
  ino: number,
  name: string,
  mode: number,
  data: Buffer,
  rdev = { major: 0, minor: 0 },
): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const header = Buffer.from(
    [
      '070701',
      hex8(ino),
      hex8(mode),
      hex8(0), // uid: root
      hex8(0), // gid: root
      hex8((mode & TYPE_BITS.dir) !== 0 ? 2 : 1), // nlink
      hex8(0), // mtime: fixed, so the same inputs give the same archive
      hex8(data.length),
      hex8(0),
      hex8(0),
      hex8(rdev.major),
      hex8(rdev.minor),
      hex8(nameBytes.length),
      hex8(0),
    ].join(''),
  );
  const head = Buffer.concat([header, nameBytes]);
  return Buffer.concat([head, pad4(head.length), data, pad4(data.length)]);
}

/** The archive of `entries`, in order (a directory must come before what it holds). */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const records = entries.map((entry, index) => {
    const name = entry.path.replace(/^\/+/, '');
    if (name === '' || name.split('/').includes('..')) throw new Error(`bad cpio path: ${entry.path}`);
    const ino = index + 1;
    switch (entry.kind) {
      case 'dir':
        return record(ino, name, TYPE_BITS.dir | (entry.mode ?? 0o755), Buffer.alloc(0));
      case 'file':
        return record(ino, name, TYPE_BITS.file | (entry.mode ?? 0o644), entry.data);
      case 'symlink':
        return record(ino, name, TYPE_BITS.symlink | 0o777, Buffer.from(entry.target));
      case 'char-device':
        return record(ino, name, TYPE_BITS['char-device'] | 0o600, Buffer.alloc(0), entry);
    }
  });
  return Buffer.concat([...records, record(entries.length + 1, TRAILER, 0, Buffer.alloc(0))]);
}
