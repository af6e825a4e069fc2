/**
 * Builds the heartbeat test guest (host/guest/heartbeat.asm) with nasm into `.tmp/guest/`, keyed by a
 * hash of its source, so it is assembled once per change and never committed; and its leaking variant,
 * which makes its QEMU process's memory grow by a number of translated blocks per tick.
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

/** Above this the guest's ticks run late under TCG: 100 new blocks take longer than 10 ms to translate. */
export const MAX_LEAK_CALLS_PER_TICK = 100;

const building = new Map<number, Promise<string>>();

/**
 * Path of the assembled 512-byte boot sector; assembles it first when the source changed. Callers in
 * one process share one build: two concurrent builds would race on the same partial file.
 * `leakCallsPerTick` (1..100) builds the leaking variant; 0 or none, the plain guest.
 */
export function buildTestGuest(leakCallsPerTick = 0): Promise<string> {
  if (
    !Number.isInteger(leakCallsPerTick) ||
    leakCallsPerTick < 0 ||
    leakCallsPerTick > MAX_LEAK_CALLS_PER_TICK
  )
    return Promise.reject(
      new Error(
        `leakCallsPerTick must be a whole number from 0 to ${MAX_LEAK_CALLS_PER_TICK}, got ${leakCallsPerTick}`,
      ),
    );
  let build = building.get(leakCallsPerTick);
  if (build === undefined) {
    build = assembleTestGuest(leakCallsPerTick).catch((error: unknown) => {
      building.delete(leakCallsPerTick);
      throw error;
    });
    building.set(leakCallsPerTick, build);
  }
  return build;
}

async function assembleTestGuest(leakCallsPerTick: number): Promise<string> {
  const source = await readFile(GUEST_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(SCRATCH_DIR, 'guest');
  const variant = leakCallsPerTick === 0 ? 'heartbeat' : `heartbeat-leak${leakCallsPerTick}`;
  const image = join(dir, `${variant}-${digest}.img`);
  if (await exists(image)) return image;
  await mkdir(dir, { recursive: true });
  const partial = `${image}.${process.pid}.partial`;
  const defines = leakCallsPerTick === 0 ? [] : [`-DLEAK_CALLS_PER_TICK=${leakCallsPerTick}`];
  try {
    await run('nasm', ['-f', 'bin', ...defines, GUEST_SOURCE, '-o', partial]);
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
