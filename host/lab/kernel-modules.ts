/**
 * Which of Debian's kernel modules an initramfs needs, in the order to load them: Debian builds virtio,
 * 9p, nvdimm and most filesystems as modules, and a busybox /init loads them with insmod (Debian 12's
 * modules are plain `.ko`), dependencies first.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** A module's `depends=` from its .modinfo section: the modules that must be loaded before it. */
function moduleDepends(ko: Buffer): string[] {
  const marker = Buffer.from('\0depends=');
  const at = ko.indexOf(marker);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + marker.length);
  return ko
    .toString('latin1', at + marker.length, end)
    .split(',')
    .filter((name) => name !== '');
}

/**
 * The `wanted` modules and everything they depend on, dependencies first, as files under
 * `modulesDir`/kernel. `wanted` is visited in its own order, so a module that needs another without
 * declaring it (Debian's `virtio` uses a symbol of `virtio_ring`) is listed after it.
 */
export async function moduleLoadOrder(modulesDir: string, wanted: readonly string[]): Promise<string[]> {
  const byName = new Map<string, string>();
  for (const file of await filesUnder(join(modulesDir, 'kernel'))) {
    const name = /([^/]+)\.ko$/.exec(file)?.[1];
    if (name !== undefined) byName.set(name.replaceAll('-', '_'), file);
  }
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    const file = byName.get(name.replaceAll('-', '_'));
    if (file === undefined) throw new Error(`kernel module ${name} is not in ${modulesDir}`);
    if (order.includes(file) || visiting.has(name)) return;
    visiting.add(name);
    for (const dependency of moduleDepends(await readFile(file))) await visit(dependency);
    order.push(file);
  };
  for (const name of wanted) await visit(name);
  return order;
}
