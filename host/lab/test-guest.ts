/**
 * Builds the heartbeat test guest (host/guest/heartbeat.asm) with nasm into `.tmp/guest/`, keyed by a
 * hash of its source, so it is assembled once per change and never committed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GUEST_SOURCE, SCRATCH_DIR } from './repo-paths.js';

const run = promisify(execFile);
const BOOT_SECTOR_BYTES = 512;

/** The serial line pattern of the guest's heartbeat, with the counter as its one group. */
export const HEARTBEAT_PATTERN = '^HB ([0-9]+)$';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

let building: Promise<string> | undefined;

/**
 * Path of the assembled 512-byte boot sector; assembles it first when the source changed. Callers in
 * one process share one build: two concurrent builds would race on the same partial file.
 */
export function buildTestGuest(): Promise<string> {
  building ??= assembleTestGuest().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function assembleTestGuest(): Promise<string> {
  const source = await readFile(GUEST_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(SCRATCH_DIR, 'guest');
  const image = join(dir, `heartbeat-${digest}.img`);
  if (await exists(image)) return image;
  await mkdir(dir, { recursive: true });
  const partial = `${image}.${process.pid}.partial`;
  try {
    await run('nasm', ['-f', 'bin', GUEST_SOURCE, '-o', partial]);
  } catch (error) {
    throw new Error(`nasm could not assemble ${GUEST_SOURCE} (install it: scripts/install-system-deps.sh)`, {
      cause: error,
    });
  }
  const { size } = await stat(partial);
  if (size !== BOOT_SECTOR_BYTES)
    throw new Error(`test guest is ${size} bytes, not one ${BOOT_SECTOR_BYTES}-byte sector`);
  await rename(partial, image);
  return image;
}
