/**
 * Removes a lab host completely: any host document still running on it (a process whose
 * REJUV_HOST_ROOT is the host) and every QEMU process whose command line points into the host's
 * directory are killed, its /dev/shm RAM files are deleted, and the directory goes; a field-shaped host
 * also loses its network namespace (with every process left in it, and its taps), its hugetlbfs and
 * the hugepages it added (host/lab/field-host.ts). Documents go first, so none can start a QEMU or
 * write a journal into the host after it is gone. Works from the directory name alone, so a test that
 * failed half-way through still cleans up everything.
 */
import { readdir, rm, unlink } from 'node:fs/promises';
import { basename, resolve, sep } from 'node:path';
import { teardownFieldHost } from './field-host.js';
import { LAB_HOSTS_DIR } from './repo-paths.js';
import { HOST_ROOT_ENV } from '../inventory/host-layout.js';
import { findProcesses, findProcessesWithEnv, waitForExit } from './vm-processes.js';

function insideLabHosts(hostRoot: string): boolean {
  return resolve(hostRoot).startsWith(resolve(LAB_HOSTS_DIR) + sep);
}

async function killAll(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await Promise.all(pids.map((pid) => waitForExit(pid, 5000)));
}

export async function teardownHost(hostRoot: string): Promise<void> {
  if (!insideLabHosts(hostRoot))
    throw new Error(`refusing to tear down ${hostRoot}: not a lab host under ${LAB_HOSTS_DIR}`);
  await killAll((await findProcessesWithEnv(HOST_ROOT_ENV, hostRoot)).filter((pid) => pid !== process.pid));
  const root = resolve(hostRoot) + sep;
  await killAll(
    await findProcesses(
      (argv) => basename(argv[0] ?? '').startsWith('qemu-system') && argv.some((arg) => arg.includes(root)),
    ),
  );
  await teardownFieldHost(hostRoot, killAll);
  const shmPrefix = `rejuv-${basename(hostRoot)}-`;
  for (const file of await readdir('/dev/shm')) {
    if (file.startsWith(shmPrefix)) await unlink(`/dev/shm/${file}`).catch(() => undefined);
  }
  await rm(hostRoot, { recursive: true, force: true });
}
