/** Runs a real host document on a lab host through the local runner, and reads its result line. */
import { access } from 'node:fs/promises';
import { loadHostDocument, type HostDocumentName } from '../../../host/documents/load-host-document.js';
import {
  expectDocumentResult,
  parseHostDocumentResult,
  type HostDocumentResult,
} from '../../../host/results/host-document-result.js';
import { runDocument, type DocumentRun, type ScriptLauncher } from '../../../host/runner/run-document.js';

export interface HostDocumentOutcome<R> {
  readonly run: DocumentRun;
  readonly result: R;
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Where the scripts run: a field-shaped lab host's `launcher` runs them inside its network namespace. */
  readonly launcher?: ScriptLauncher;
}

/** The workflow's documents, whose results host-document-result.ts describes (CollectAging has its own). */
type WorkflowDocumentName = HostDocumentName & HostDocumentResult['document'];

export async function runHostDocument<D extends WorkflowDocumentName>(
  hostRoot: string,
  document: D,
  parameters: Readonly<Record<string, string>>,
  options: RunOptions = {},
): Promise<HostDocumentOutcome<Extract<HostDocumentResult, { document: D }>>> {
  const run = await runDocument({
    document: loadHostDocument(document).content,
    documentName: document,
    parameters,
    hostRoot,
    ...options,
  });
  let result: HostDocumentResult;
  try {
    result = parseHostDocumentResult(run.stdout);
  } catch (error) {
    throw new Error(`${document} printed no valid result; status ${run.status}, stderr:\n${run.stderr}`, {
      cause: error,
    });
  }
  return { run, result: expectDocumentResult(result, document) };
}

export async function waitForFile(path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
