/**
 * Guest RAM on hugetlbfs for field-shaped lab hosts: 2 MiB pages are added to the machine's pool for
 * each VM, a hugetlbfs is mounted inside the host's directory, and on teardown both are given back.
 * What a host added to the pool is written into the host's directory as it is added, so a teardown
 * from the directory alone (after a failed test) gives back exactly that many, never pages another
 * user of the machine reserved. Changes to the pool are made one at a time within this process.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const NR_HUGEPAGES = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
export const HUGEPAGE_MIB = 2;
/** Where, inside a host's directory, the number of pages it added to the pool is kept. */
const RESERVED_FILE = 'hugepages.reserved';

let pool: Promise<unknown> = Promise.resolve();

/** Runs pool changes one after another: each reads the pool's size and writes a new one. */
function serialized<T>(change: () => Promise<T>): Promise<T> {
  const next = pool.then(change, change);
  pool = next.catch(() => undefined);
  return next;
}

async function poolSize(): Promise<number> {
  return Number((await readFile(NR_HUGEPAGES, 'utf8')).trim());
}

async function reservedBy(hostRoot: string): Promise<number> {
  const text = await readFile(join(hostRoot, RESERVED_FILE), 'utf8').catch(() => '0');
  return Number(text.trim()) || 0;
}

/**
 * Adds `pages` 2 MiB pages to the machine's pool on behalf of the host; throws (having given back any
 * it got) when the kernel cannot find that many.
 */
export function reserveHugepages(hostRoot: string, pages: number): Promise<void> {
  return serialized(async () => {
    const before = await poolSize();
    await writeFile(NR_HUGEPAGES, String(before + pages));
    const added = (await poolSize()) - before;
    if (added < pages) {
      await writeFile(NR_HUGEPAGES, String(Math.max(0, (await poolSize()) - added)));
      throw new Error(`the kernel found ${added} of ${pages} free 2 MiB pages for guest RAM on hugetlbfs`);
    }
    await writeFile(join(hostRoot, RESERVED_FILE), String((await reservedBy(hostRoot)) + added));
  });
}

/** Mounts a hugetlbfs of 2 MiB pages on `dir` (which must exist). */
export async function mountHugetlbfs(dir: string): Promise<void> {
  await run('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'none', dir]);
}

/** Mount points at or under `hostRoot`, deepest first. */
async function mountsUnder(hostRoot: string): Promise<string[]> {
  const root = resolve(hostRoot);
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return mounts
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((point) => point === root || point.startsWith(root + sep))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts every filesystem mounted inside the host's directory, then gives the pages the host added
 * back to the pool. Run after every process using them has ended.
 */
export async function releaseHostHugepages(hostRoot: string): Promise<void> {
  for (const point of await mountsUnder(hostRoot)) {
    await run('umount', [point]).catch(() => run('umount', ['-l', point]));
  }
  await serialized(async () => {
    const pages = await reservedBy(hostRoot);
    if (pages === 0) return;
    await writeFile(NR_HUGEPAGES, String(Math.max(0, (await poolSize()) - pages)));
    await writeFile(join(hostRoot, RESERVED_FILE), '0');
  });
}
