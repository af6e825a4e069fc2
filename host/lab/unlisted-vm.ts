/**
 * VMs a lab host runs that its inventory does not list, as field hosts run VMs their own tooling started:
 * a raw QEMU (the census finds it adoptable) or one shaped the way libvirt starts QEMU (foreign). Each
 * is a heartbeat test guest whose argv points into the host's directory, so the host's teardown ends it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inventoryEntryPath, type VmInventoryEntry } from '../inventory/vm-inventory.js';
import { launchVm, type LaunchedVm } from './launch-vms.js';
import { createTestVm } from './test-vm.js';

export type UnlistedShape = 'raw' | 'libvirt';

/**
 * libvirt's marks that QEMU 7.2 accepts without libvirt around: guest RAM under
 * /var/lib/libvirt/qemu/ram/<domain id>-<name>/ (here under the host's root) and a `secret` object (its
 * master key). The monitor libvirt passes as a file descriptor and `-S` need libvirt itself.
 */
async function libvirtShaped(hostRoot: string, entry: VmInventoryEntry): Promise<VmInventoryEntry> {
  const ramPath = join(hostRoot, 'var', 'lib', 'libvirt', 'qemu', 'ram', `1-${entry.name}`, 'pc.ram');
  const keyPath = join(hostRoot, 'var', 'lib', 'libvirt', 'qemu', `domain-1-${entry.name}`, 'master-key.aes');
  await mkdir(dirname(ramPath), { recursive: true });
  await mkdir(dirname(keyPath), { recursive: true });
  await writeFile(keyPath, Buffer.alloc(32, 7));
  const argv = entry.argv.map((arg) =>
    arg.startsWith('memory-backend-file,') ? arg.replace(/mem-path=[^,]*/, `mem-path=${ramPath}`) : arg,
  );
  return {
    ...entry,
    argv: [...argv, '-object', `secret,id=masterKey0,format=raw,file=${keyPath}`],
  };
}

/** Starts a heartbeat guest the host's inventory does not list, shaped `raw` or like libvirt's. */
export async function launchUnlistedVm(
  hostRoot: string,
  name: string,
  shape: UnlistedShape,
): Promise<LaunchedVm> {
  const listed = await createTestVm(hostRoot, { name, memoryMiB: 64, ram: 'shared-file' });
  await rm(inventoryEntryPath(hostRoot, name));
  return launchVm(shape === 'libvirt' ? await libvirtShaped(hostRoot, listed) : listed);
}
