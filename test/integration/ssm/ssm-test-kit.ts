/** What the SSM tests share: tiny Command documents, controllable executors, and waiting without sleeping blind. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  DocumentExecution,
  DocumentExecutor,
  ExecutedDocument,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import type { SsmHostCommands } from '../../../shared/adapters/ssm/ssm-host-commands.js';
import {
  TERMINAL_COMMAND_STATUSES,
  type HostCommandInvocation,
  type HostCommandRequest,
} from '../../../shared/ports/host-commands.js';

export function shellDocument(
  runCommand: readonly string[],
  options: { parameters?: Record<string, unknown>; timeoutSeconds?: number } = {},
) {
  return {
    schemaVersion: '2.2',
    description: 'test document',
    parameters: options.parameters ?? {},
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'run',
        inputs: {
          runCommand,
          ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
        },
      },
    ],
  };
}

export const WORD_PARAMETER = { word: { type: 'String', allowedPattern: '^[a-z]{1,16}$' } };

/** Polls `read` until `done` holds; fails after `attempts` (about 20 ms apart) instead of hanging the run. */
export async function eventually<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  attempts = 500,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await read();
    if (done(value)) return value;
    if (attempt >= attempts) throw new Error(`condition not reached; last value ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

export function untilFinished(
  commands: SsmHostCommands,
  commandId: string,
  instanceId: string,
): Promise<HostCommandInvocation> {
  return eventually(
    () => commands.invocation(commandId, instanceId),
    (i) => (TERMINAL_COMMAND_STATUSES as readonly string[]).includes(i.status),
  );
}

export function commandRequest(
  instanceId: string,
  documentName: string,
  stepKey: string,
  parameters: Record<string, string> = {},
): HostCommandRequest {
  return { instanceId, documentName, parameters, executionTimeoutSeconds: 60, stepKey };
}

export interface HeldRun {
  readonly execution: DocumentExecution;
  finish(result: ExecutedDocument): void;
}

/**
 * An executor whose runs last until the test finishes them; a cancelled run ends Cancelled as the
 * runner's does. `runs` lists them in the order they started.
 */
export function heldExecutor(): { executor: DocumentExecutor; runs: HeldRun[] } {
  const runs: HeldRun[] = [];
  const executor: DocumentExecutor = (execution) =>
    new Promise((resolve) => {
      runs.push({ execution, finish: resolve });
      execution.signal.addEventListener('abort', () =>
        resolve({ status: 'Cancelled', responseCode: 137, stdout: '', stderr: '' }),
      );
    });
  return { executor, runs };
}

/** An executor that answers at once with `result`, counting its runs. */
export function instantExecutor(result: ExecutedDocument): { executor: DocumentExecutor; runs: number } {
  const state = {
    runs: 0,
    executor: (async () => {
      state.runs += 1;
      return result;
    }) satisfies DocumentExecutor,
  };
  return state;
}

export async function withHostRoot(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'rejuv-ssm-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
