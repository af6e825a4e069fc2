/**
 * qcow2 disk images for field-shaped lab VMs, made with `qemu-img` (Debian's qemu-utils): an overlay
 * on a backing file, as field hosts give each VM a copy-on-write disk over a shared base image; and
 * reading a live image's contents from outside while its QEMU has it open.
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function qemuImg(args: readonly string[]): Promise<void> {
  try {
    await run('qemu-img', args);
  } catch (error) {
    throw new Error(`qemu-img ${args.join(' ')} failed (qemu-utils: scripts/install-system-deps.sh)`, {
      cause: error,
    });
  }
}

/** A qcow2 overlay of the same size as its raw backing file, which it names by absolute path. */
export async function createQcow2Overlay(overlay: string, backing: string): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'raw', overlay]);
}

/**
 * The guest-visible contents of a qcow2 image (through its backing file), read while a QEMU may have
 * it open for writing (`-U`: no lock taken); what the guest has flushed is there.
 */
export async function readQcow2Contents(image: string): Promise<Buffer> {
  const raw = `${image}.read-${process.pid}.raw`;
  try {
    await qemuImg(['convert', '-U', '-f', 'qcow2', '-O', 'raw', image, raw]);
    return await readFile(raw);
  } finally {
    await rm(raw, { force: true });
  }
}
