import { describe, expect, it } from 'vitest';
import { cpioNewc } from '../../../host/lab/cpio-newc.js';

interface ParsedEntry {
  readonly name: string;
  readonly mode: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  readonly data: string;
}

/** Reads a newc archive the way the kernel's initramfs unpacker does: 110-byte header, name, data, 4-byte alignment. */
function parse(archive: Buffer): ParsedEntry[] {
  const records: ParsedEntry[] = [];
  let at = 0;
  for (;;) {
    expect(at % 4).toBe(0);
    expect(archive.toString('latin1', at, at + 6)).toBe('070701');
    const field = (index: number) =>
      parseInt(archive.toString('latin1', at + 6 + index * 8, at + 14 + index * 8), 16);
    const nameSize = field(11);
    const dataSize = field(6);
    const name = archive.toString('latin1', at + 110, at + 110 + nameSize - 1);
    expect(archive[at + 110 + nameSize - 1]).toBe(0);
    const dataAt = Math.ceil((at + 110 + nameSize) / 4) * 4;
    records.push({
      name,
      mode: field(1),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: archive.toString('latin1', dataAt, dataAt + dataSize),
    });
    at = Math.ceil((dataAt + dataSize) / 4) * 4;
    if (name === 'TRAILER!!!') break;
  }
  expect(at).toBe(archive.length);
  return records;
}

describe('Function: cpioNewc', () => {
  it('writes directories, files, symlinks and device nodes the kernel can unpack, ending with the trailer', () => {
    const archive = cpioNewc([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: '/bin/tool', data: Buffer.from('abcde'), mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'tool' },
      { kind: 'char-device', path: 'console', major: 5, minor: 1 },
    ]);

    expect(parse(archive)).toEqual([
      { name: 'bin', mode: 0o040755, rdevMajor: 0, rdevMinor: 0, data: '' },
      { name: 'bin/tool', mode: 0o100755, rdevMajor: 0, rdevMinor: 0, data: 'abcde' },
      { name: 'bin/sh', mode: 0o120777, rdevMajor: 0, rdevMinor: 0, data: 'tool' },
      { name: 'console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1, data: '' },
      { name: 'TRAILER!!!', mode: 0, rdevMajor: 0, rdevMinor: 0, data: '' },
    ]);
  });

  it('refuses a path that climbs out of the archive', () => {
    expect(() => cpioNewc([{ kind: 'dir', path: 'a/../../etc' }])).toThrow('bad cpio path: a/../../etc');
  });
});
