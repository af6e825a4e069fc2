/**
 * The host's VM inventory: one JSON file per VM, `<root>/etc/rejuv/vms.d/<name>.json`, holding the
 * exact QEMU argv the VM runs with (a restore must use identical arguments), its QMP socket, the
 * directory for its saved device state, and the serial log its guest writes a heartbeat counter to.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { hostLayout } from './host-layout.js';

export const INVENTORY_SCHEMA_VERSION = 1;

export const VmNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'VM name: 1-63 chars of a-z 0-9 -, starting alphanumeric');

const AbsolutePathSchema = z.string().refine(isAbsolute, 'must be an absolute path');

export const VmInventoryEntrySchema = z
  .object({
    schemaVersion: z.literal(INVENTORY_SCHEMA_VERSION),
    name: VmNameSchema,
    /** argv[0] is the QEMU binary; must not contain -incoming (the agent appends it to restore). */
    argv: z
      .array(z.string())
      .min(1)
      .refine((argv) => !argv.includes('-incoming'), 'argv must not contain -incoming'),
    /** The QMP server socket the argv opens (`-qmp unix:<path>,server=on,wait=off`). */
    qmpSocket: AbsolutePathSchema,
    /** Where the agent keeps the VM's saved device state and QEMU's own log. */
    stateDir: AbsolutePathSchema,
    heartbeat: z
      .object({
        /** A log the guest appends to across restarts (e.g. a serial chardev file with append=on). */
        log: AbsolutePathSchema,
        /** A regular expression with one group: the guest's counter, which only ever increases. */
        pattern: z.string(),
      })
      .strict(),
  })
  .strict();

export type VmInventoryEntry = z.output<typeof VmInventoryEntrySchema>;

export function inventoryEntryPath(hostRoot: string, name: string): string {
  return join(hostLayout(hostRoot).inventoryDir, `${name}.json`);
}

export async function writeInventoryEntry(hostRoot: string, entry: VmInventoryEntry): Promise<void> {
  const checked = VmInventoryEntrySchema.parse(entry);
  const path = inventoryEntryPath(hostRoot, checked.name);
  await mkdir(hostLayout(hostRoot).inventoryDir, { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(checked, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

export async function readInventory(hostRoot: string): Promise<VmInventoryEntry[]> {
  const dir = hostLayout(hostRoot).inventoryDir;
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return [];
  }
  const entries = await Promise.all(
    files
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map(async (file) => VmInventoryEntrySchema.parse(JSON.parse(await readFile(join(dir, file), 'utf8')))),
  );
  return entries;
}

/** The files backing guest RAM that the argv names (memory-backend-file mem-path values). */
export function ramBackingFiles(argv: readonly string[]): string[] {
  const files: string[] = [];
  argv.forEach((arg, index) => {
    const next = argv[index + 1];
    if (arg !== '-object' || next === undefined || !next.startsWith('memory-backend-file,')) return;
    const memPath = next
      .split(',')
      .find((field) => field.startsWith('mem-path='))
      ?.slice('mem-path='.length);
    if (memPath !== undefined) files.push(memPath);
  });
  return files;
}
