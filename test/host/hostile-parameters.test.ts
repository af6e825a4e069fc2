import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHostDocument, type HostDocumentName } from '../../host/documents/load-host-document.js';
import { hostLayout } from '../../host/inventory/host-layout.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { DocumentParameterError } from '../../host/runner/errors.js';
import { runDocument } from '../../host/runner/run-document.js';
import { runHostDocument } from './support/host-documents.js';

let host: LabHost;
let pid: number;
beforeAll(async () => {
  host = await createLabHost();
  await host.addVm({ name: 'vm-a', memoryMiB: 64 });
  await host.launch();
  pid = await vmPid(host.vm('vm-a').argv);
});
afterAll(async () => {
  await host.teardown();
  await teardownOpenLabHosts();
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Each command the runner starts gets a directory here, before its script runs. */
async function commandsStarted(): Promise<number> {
  return readdir(join(host.root, 'var', 'lib', 'amazon', 'ssm', 'orchestration')).then(
    (entries) => entries.length,
    () => 0,
  );
}

const hostile: [HostDocumentName, string, Record<string, string>][] = [
  ['WarmReboot', 'a quote breaking out of the shell argument', { runId: "r1' ; touch /tmp/pwned ; '" }],
  ['WarmReboot', 'command substitution', { runId: '$(reboot)' }],
  ['WarmReboot', 'a newline', { runId: 'r1\nreboot' }],
  ['WarmReboot', 'a level that is not offered', { runId: 'r1', level: 'firmware' }],
  ['Preflight', 'path traversal in a VM name', { runId: 'r1', vms: '../../etc/passwd' }],
  ['Verify', 'path traversal in the run id', { runId: '../../../tmp/x' }],
  ['Verify', 'a shell glob in the timeout', { runId: 'r1', heartbeatTimeoutSeconds: '*' }],
  ['Preflight', 'an allowSilentGuests that is not a boolean', { runId: 'r1', allowSilentGuests: 'yes' }],
  ['Preflight', 'an allowSilentGuests with a quote', { runId: 'r1', allowSilentGuests: "true' '--x" }],
  ['Preflight', 'a heartbeat window over a minute', { runId: 'r1', heartbeatTimeoutSeconds: '61' }],
  ['Verify', 'a quote in silentAtPreflight', { runId: 'r1', silentAtPreflight: "vm-a';reboot;'" }],
  ['Verify', 'an empty silentAtPreflight', { runId: 'r1', silentAtPreflight: '' }],
  ['Verify', 'a silentAtPreflight starting with a dash option', { runId: 'r1', silentAtPreflight: '--vms' }],
  ['Recover', 'a VM list with spaces', { runId: 'r1', vms: 'vm-a, vm-b' }],
  ['Recover', 'a coldStart that is not a boolean', { runId: 'r1', coldStart: 'yes;reboot' }],
  ['Recover', 'a parameter the document does not declare', { runId: 'r1', command: 'reboot' }],
];

describe('Local runner: hostile parameters', () => {
  it.each(hostile)('%s: rejects %s before anything runs', async (document, _what, parameters) => {
    const started = await commandsStarted();
    const attempt = runDocument({
      document: loadHostDocument(document).content,
      documentName: document,
      parameters,
      hostRoot: host.root,
    });
    await expect(attempt).rejects.toBeInstanceOf(DocumentParameterError);
    expect(await commandsStarted()).toBe(started);
    expect(await exists(hostLayout(host.root).runsDir)).toBe(false);
    expect(await vmPid(host.vm('vm-a').argv)).toBe(pid);
  });
});

describe('Documents: VM names that are not in the inventory', () => {
  it('Verify refuses a silentAtPreflight VM that it does not check, and touches nothing', async () => {
    const { run, result } = await runHostDocument(host.root, 'Verify', {
      runId: 'r-unknown',
      silentAtPreflight: 'vm-zz',
    });
    expect(run.responseCode).toBe(2);
    expect(result).toMatchObject({ outcome: 'refused', reasonCode: 'unknown-vm' });
    expect(result.reason).toMatch(/silentAtPreflight names 'vm-zz'/);
    expect(await vmPid(host.vm('vm-a').argv)).toBe(pid);
  });

  it.each(['Preflight', 'WarmReboot', 'Verify', 'Recover'] as const)(
    '%s refuses an unknown VM name and touches nothing',
    async (document) => {
      const { run, result } = await runHostDocument(host.root, document, {
        runId: 'r-unknown',
        vms: 'vm-a,vm-zz',
      });
      expect(run.status).toBe('Failed');
      expect(run.responseCode).toBe(2);
      expect(result.outcome).toBe('refused');
      expect(result.reasonCode).toBe('unknown-vm');
      expect(result.reason).toMatch(/unknown VM 'vm-zz'/);
      expect(await vmPid(host.vm('vm-a').argv)).toBe(pid);
    },
  );
});
