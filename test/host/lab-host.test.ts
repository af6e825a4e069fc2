import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadHostDocument } from '../../host/documents/load-host-document.js';
import { holdSeamEnv } from '../../host/lab/agent-seams.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { findVmProcesses } from '../../host/lab/vm-processes.js';
import { runDocument } from '../../host/runner/run-document.js';
import { waitForFile } from './support/host-documents.js';

let host: LabHost | undefined;
let holdDir: string | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
  if (holdDir !== undefined) await rm(holdDir, { recursive: true, force: true });
  holdDir = undefined;
});
afterAll(teardownOpenLabHosts);

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('Lab host: teardown', () => {
  it('ends a document still running on the host, so nothing comes back after the host is gone', async () => {
    host = await createLabHost();
    const entry = await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();
    holdDir = await mkdtemp(join(tmpdir(), 'rejuv-hold-'));
    const running = runDocument({
      document: loadHostDocument('WarmReboot').content,
      parameters: { runId: 'in-flight' },
      hostRoot: host.root,
      env: holdSeamEnv('vm-a:stopped', holdDir),
    });
    await waitForFile(join(holdDir, 'vm-a:stopped.reached'));

    const root = host.root;
    await host.teardown();
    host = undefined;

    const run = await running;
    expect(run.status).toBe('Failed');
    expect(run.responseCode).toBe(128 + 9);
    expect(await exists(root)).toBe(false);
    expect(await findVmProcesses(entry.argv)).toEqual([]);
    expect((await readdir('/dev/shm')).filter((file) => file.includes(root.split('/').at(-1) ?? ''))).toEqual(
      [],
    );
  });
});
