/**
 * The two reboot paths the benches compare, run for real on a lab host: the WarmReboot document as the
 * coordinator sends it (the local runner; device state only, RAM left in place), and the classic
 * baseline, the same agent with RAM copied into the state file too (`--classic`, a seam of the lab's
 * agent wrapper, host/lab/agent-seams/), restored into a fresh process: what saving a VM to disk and
 * restoring it costs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_WITH_SEAMS } from '../host/lab/agent-seams.js';
import { loadHostDocument } from '../host/documents/load-host-document.js';
import type { LabHost } from '../host/lab/lab-host.js';
import { REPO_ROOT } from '../host/lab/repo-paths.js';
import {
  expectDocumentResult,
  parseHostDocumentResult,
  type WarmRebootResult,
} from '../host/results/host-document-result.js';
import { runDocument } from '../host/runner/run-document.js';

const exec = promisify(execFile);

/** Where the paths run: the host's root, and how to run something where its VMs run (its namespace). */
export type BenchHost = Pick<LabHost, 'root' | 'launcher' | 'commandPrefix'>;

export async function warmViaDocument(host: BenchHost, runId: string): Promise<WarmRebootResult> {
  const run = await runDocument({
    document: loadHostDocument('WarmReboot').content,
    documentName: 'WarmReboot',
    parameters: { runId },
    hostRoot: host.root,
    launcher: host.launcher,
  });
  return expectDocumentResult(parseHostDocumentResult(run.stdout), 'WarmReboot');
}

export async function classicViaAgent(host: BenchHost, runId: string): Promise<WarmRebootResult> {
  const agent = join(REPO_ROOT, 'host', 'agent');
  const [command = 'python3', ...args] = [
    ...host.commandPrefix,
    'python3',
    '-B',
    AGENT_WITH_SEAMS,
    agent,
    'warm-reboot',
    '--run-id',
    runId,
    '--classic',
  ];
  const { stdout } = await exec(command, args, {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', REJUV_HOST_ROOT: host.root },
    maxBuffer: 1 << 20,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  return expectDocumentResult(parseHostDocumentResult(stdout), 'WarmReboot');
}
