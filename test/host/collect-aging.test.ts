import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHostDocument } from '../../host/documents/load-host-document.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { REPO_ROOT } from '../../host/lab/repo-paths.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { DocumentParameterError } from '../../host/runner/errors.js';
import { runDocument } from '../../host/runner/run-document.js';
import { judgeCollectorOutput } from '../../shared/aging/collector-output.js';

const run = promisify(execFile);

let host: LabHost;
let pids: Record<string, number>;
beforeAll(async () => {
  host = await createLabHost();
  await host.addVm({ name: 'vm-a', memoryMiB: 64 });
  await host.addVm({ name: 'vm-b', memoryMiB: 32 });
  await host.launch();
  pids = { 'vm-a': await vmPid(host.vm('vm-a').argv), 'vm-b': await vmPid(host.vm('vm-b').argv) };
});
afterAll(async () => {
  await host.teardown();
  await teardownOpenLabHosts();
});

/** Every file under the host's root with its size and modification time: what "touched nothing" means. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (path.includes(join('var', 'lib', 'amazon'))) continue; // the runner's own command directories
    if (entry.name.endsWith('.log')) continue; // guests' heartbeats and QEMU's logs keep growing
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) files.set(path, `${info.size}:${info.mtimeMs}`);
  }
  return files;
}

const collect = (hostId: string, env: Record<string, string> = {}) =>
  runDocument({
    document: loadHostDocument('CollectAging').content,
    documentName: 'CollectAging',
    parameters: { hostId },
    hostRoot: host.root,
    env,
  });

describe('Document: CollectAging on a lab host', () => {
  it('measures the host and each QEMU process of its inventory, and the coordinator accepts it', async () => {
    const before = await snapshot(host.root);
    const outcome = await collect(host.id, { AWS_SSM_INSTANCE_ID: 'mi-0123456789abcdef0' });
    expect(outcome).toMatchObject({ status: 'Success', responseCode: 0 });
    const verdict = judgeCollectorOutput(
      outcome.stdout,
      { hostId: host.id, instanceId: 'mi-0123456789abcdef0' },
      new Date(),
    );
    if (verdict.outcome !== 'accepted') throw new Error(`refused: ${verdict.reason}`);
    const { measurement } = verdict;
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1]) * 1024;
    expect(measurement.host.memTotalBytes).toBe(memTotal);
    expect(measurement.host.memAvailableBytes).toBeLessThanOrEqual(memTotal);
    expect(Object.keys(measurement.host.unusableFreeIndex)).toContain('order9');
    expect(measurement.qemu.map((p) => [p.vm, p.pid])).toEqual([
      ['vm-a', pids['vm-a']],
      ['vm-b', pids['vm-b']],
    ]);
    for (const process of measurement.qemu) {
      // A QEMU process holds at least its guest's touched RAM's page tables, its binary and libraries.
      expect(process.rssBytes).toBeGreaterThan(1 << 20);
      expect(process.threads).toBeGreaterThanOrEqual(1);
      expect(process.openFds).toBeGreaterThan(2);
      expect(process.uptimeSeconds).toBeLessThanOrEqual(measurement.host.uptimeSeconds);
    }
    expect(measurement.unmeasuredVms).toEqual([]);
    expect(await snapshot(host.root)).toEqual(before);
    expect(await vmPid(host.vm('vm-a').argv)).toBe(pids['vm-a']);
  });

  it('answers for the fleet with the instance its SSM agent names, and is refused as another host', async () => {
    const fleet = await collect('-', { AWS_SSM_INSTANCE_ID: 'mi-0123456789abcdef0' });
    expect(
      judgeCollectorOutput(fleet.stdout, { hostId: 'host-9', instanceId: 'mi-0123456789abcdef0' }, new Date())
        .outcome,
    ).toBe('accepted');
    expect(
      judgeCollectorOutput(
        fleet.stdout,
        { hostId: 'host-9', instanceId: 'mi-0fedcba9876543210' },
        new Date(),
      ),
    ).toMatchObject({ outcome: 'refused', code: 'wrong-host' });
    const named = await collect('host-7');
    expect(judgeCollectorOutput(named.stdout, { hostId: 'host-9' }, new Date())).toMatchObject({
      outcome: 'refused',
      code: 'wrong-host',
      reason: 'the reply is from host host-7, the command was for host-9',
    });
  });

  it.each([
    ['a quote', "h1' ; reboot ; '"],
    ['a dash option', '--help'],
    ['empty', ''],
    ['a path', '../h1'],
  ])('refuses a hostId with %s before anything runs', async (_what, hostId) => {
    await expect(collect(hostId)).rejects.toBeInstanceOf(DocumentParameterError);
  });
});

describe('Host agent: the collector’s parsers of /proc', () => {
  it('reads meminfo and buddyinfo, and computes the unusable free space index as Gorman defines it', async () => {
    const { stderr } = await run('python3', [
      '-B',
      join(import.meta.dirname, 'fixtures', 'aging_measurements.py'),
      join(REPO_ROOT, 'host', 'agent'),
    ]);
    expect(stderr).toMatch(/^Ran \d+ tests/m);
    expect(stderr.trim().split('\n').at(-1)).toBe('OK');
  });
});
