import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentArchive } from '../../host/documents/agent-archive.js';
import { agentGateLines, agentInstallLines, AGENT_FILE_NAME } from '../../host/documents/agent-install.js';
import { parseHostDocumentResult } from '../../host/results/host-document-result.js';
import { runDocument } from '../../host/runner/run-document.js';

const archive = agentArchive();
const roots: string[] = [];

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function hostRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'rejuv-agent-install-'));
  roots.push(root);
  return root;
}

function script(lines: string, then: string) {
  return {
    schemaVersion: '2.2' as const,
    parameters: {},
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'step',
        inputs: { runCommand: [`#!/bin/bash\nset -euo pipefail\n${lines}\n${then}`] },
      },
    ],
  };
}

const installed = (root: string, sha256 = archive.sha256) =>
  join(root, 'var', 'lib', 'rejuv', 'agent', sha256, AGENT_FILE_NAME);

async function install(root: string, bytes: Buffer) {
  const downloaded = join(root, 'downloads', AGENT_FILE_NAME);
  await mkdir(join(root, 'downloads'), { recursive: true });
  await writeFile(downloaded, bytes);
  return runDocument({
    document: script(agentInstallLines('Preflight', archive, downloaded), 'echo installed'),
    hostRoot: root,
  });
}

describe('Versioned agent on the host', () => {
  it('installs the archive side by side with older versions, root-only, and again changes nothing', async () => {
    const root = await hostRoot();
    const older = installed(root, 'a'.repeat(64));
    await mkdir(join(older, '..'), { recursive: true });
    await writeFile(older, 'an older agent');
    const first = await install(root, archive.bytes);
    expect(first.status).toBe('Success');
    expect(await readFile(installed(root))).toEqual(archive.bytes);
    expect((await stat(join(installed(root), '..'))).mode & 0o777).toBe(0o700);
    expect((await stat(installed(root))).mode & 0o777).toBe(0o600);
    const before = await stat(installed(root));
    const again = await install(root, archive.bytes);
    expect(again.status).toBe('Success');
    expect((await stat(installed(root))).mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(older, 'utf8')).toBe('an older agent');
    expect((await readdir(join(installed(root), '..'))).sort()).toEqual([AGENT_FILE_NAME]);
  });

  it('refuses a tampered archive and installs nothing', async () => {
    const root = await hostRoot();
    const tampered = Buffer.from(archive.bytes);
    tampered[100] = (tampered[100] ?? 0) ^ 0xff;
    const run = await install(root, tampered);
    expect(run).toMatchObject({ status: 'Failed', responseCode: 1 });
    expect(parseHostDocumentResult(run.stdout)).toMatchObject({
      outcome: 'refused',
      reasonCode: 'agent-hash-mismatch',
    });
    await expect(stat(join(root, 'var', 'lib', 'rejuv', 'agent', archive.sha256))).rejects.toThrow();
  });

  it('refuses before running anything when its version is absent, and runs the installed one once it is there', async () => {
    const root = await hostRoot();
    const marker = join(root, 'ran');
    const gated = script(
      agentGateLines('WarmReboot', archive),
      `touch '${marker}'\nrejuv_agent collect --host-id -`,
    );
    const absent = await runDocument({ document: gated, hostRoot: root });
    expect(absent).toMatchObject({ status: 'Failed', responseCode: 1 });
    expect(parseHostDocumentResult(absent.stdout)).toMatchObject({
      document: 'WarmReboot',
      outcome: 'refused',
      reasonCode: 'agent-version-absent',
    });
    await expect(stat(marker)).rejects.toThrow();
    expect((await install(root, archive.bytes)).status).toBe('Success');
    const present = await runDocument({ document: gated, hostRoot: root });
    expect(present.status).toBe('Success');
    expect(JSON.parse(present.stdout.trim())).toMatchObject({ document: 'CollectAging', outcome: 'ok' });
  });
});
