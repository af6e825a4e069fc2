/**
 * What the local SSM agent does with a delivered command: run the document on the host. The default is
 * the host document runner (host/runner), which runs it as the SSM agent would; tests of the endpoint
 * itself pass small executors of their own.
 */
import type { CommandDocument } from '../../host/runner/command-document.js';
import type { SuppliedParameters } from '../../host/runner/document-parameters.js';
import { runDocument, type ScriptLauncher } from '../../host/runner/run-document.js';

export type ExecutionStatus = 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

export interface DocumentExecution {
  readonly document: CommandDocument;
  readonly documentName: string;
  /** As SendCommand received them (already checked against the document's parameter declarations). */
  readonly parameters: SuppliedParameters;
  /** The directory acting as the host's root. */
  readonly hostRoot: string;
  /** Extra environment the host's agent gives its documents (fault seams of the host agent). */
  readonly env?: Readonly<Record<string, string>>;
  /** Aborted when the command is cancelled or the endpoint stops; the run should end soon after. */
  readonly signal: AbortSignal;
  /** Where the host runs a step's script: this machine unless the host has its own kernel. */
  readonly launcher?: ScriptLauncher;
  /** How the host reboots when a step exits 194; absent for hosts that cannot (a directory). */
  readonly reboot?: (signal: AbortSignal | undefined) => Promise<void>;
}

export interface ExecutedDocument {
  readonly status: ExecutionStatus;
  /** The exit code the agent reports; -1 when nothing ran. */
  readonly responseCode: number;
  /** Untruncated is fine: the endpoint truncates as GetCommandInvocation does. */
  readonly stdout: string;
  readonly stderr: string;
}

export type DocumentExecutor = (execution: DocumentExecution) => Promise<ExecutedDocument>;

export const runnerExecutor: DocumentExecutor = async (execution) => {
  const run = await runDocument(execution);
  return { status: run.status, responseCode: run.responseCode, stdout: run.stdout, stderr: run.stderr };
};
