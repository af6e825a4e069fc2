/**
 * Fetching Debian packages without installing them: `apt-get download` into scratch space and
 * `dpkg-deb -x` into a directory. The lab's Linux guest and kernel host take Debian's kernel, busybox
 * and host tools this way, so nothing lands in the machine's /boot or package database.
 */
import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The release behind Debian's `linux-image-amd64` metapackage: the newest kernel apt knows of. */
export async function currentKernelRelease(): Promise<string> {
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

/** Downloads `packages` into `dir`; resolves with the paths of the .deb files there. */
export async function downloadPackages(dir: string, packages: readonly string[]): Promise<string[]> {
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

/** Unpacks every .deb into `root` (files only: no maintainer scripts run). */
export async function unpackPackages(debs: readonly string[], root: string): Promise<void> {
  for (const deb of debs) await run('dpkg-deb', ['-x', deb, root]);
}

async function installed(pkg: string): Promise<boolean> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', pkg]);
    return stdout.includes('install ok installed');
  } catch {
    return false;
  }
}

/**
 * The shared-library packages (`lib*`) in the dependency closure of `packages` that this machine
 * lacks: unpacked beside the tools, they let them run from the unpacked tree with LD_LIBRARY_PATH.
 * (Debian's kexec-tools links Xen's libraries, which a machine without Xen does not have.)
 */
export async function missingLibraries(packages: readonly string[]): Promise<string[]> {
  const { stdout } = await run('apt-cache', [
    'depends',
    '--recurse',
    '--no-recommends',
    '--no-suggests',
    '--no-conflicts',
    '--no-breaks',
    '--no-replaces',
    '--no-enhances',
    ...packages,
  ]);
  const closure = [...new Set(stdout.split('\n').filter((line) => /^lib[a-z0-9.+-]+$/.test(line)))];
  const missing: string[] = [];
  for (const pkg of closure) if (!(await installed(pkg))) missing.push(pkg);
  return missing.sort();
}
