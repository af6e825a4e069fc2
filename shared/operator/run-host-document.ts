/**
 * Runs one host document for an operator request and waits for it: sends it (or finds it sent already
 * under the same step key), polls until it ends, and cancels it at its deadline. The release checks and
 * the host census share it; each judges the outcome its own way.
 */
import {
  TERMINAL_COMMAND_STATUSES,
  type HostCommandInvocation,
  type HostCommandRequest,
} from '../ports/host-commands.js';
import type { OperatorUseCaseDeps } from './operator-deps.js';

export type HostDocumentRun =
  | {
      readonly ended: true;
      readonly commandId: string;
      readonly durationMs: number;
      readonly invocation: HostCommandInvocation;
    }
  | {
      /** Still running at its deadline: it was cancelled. */
      readonly ended: false;
      readonly commandId: string;
      readonly durationMs: number;
      readonly lastStatus: HostCommandInvocation['status'];
    };

/** `request.executionTimeoutSeconds` is also the deadline, measured here from send to result. */
export async function runHostDocument(
  deps: Pick<OperatorUseCaseDeps, 'hostCommands' | 'clock' | 'sleep' | 'config'>,
  request: HostCommandRequest,
): Promise<HostDocumentRun> {
  const sentAtMs = deps.clock.nowMs();
  const deadlineMs = sentAtMs + request.executionTimeoutSeconds * 1000;
  const { commandId } = await deps.hostCommands.send(request);
  for (;;) {
    const invocation = await deps.hostCommands.invocation(commandId, request.instanceId);
    const nowMs = deps.clock.nowMs();
    if ((TERMINAL_COMMAND_STATUSES as readonly string[]).includes(invocation.status))
      return { ended: true, commandId, durationMs: nowMs - sentAtMs, invocation };
    if (nowMs >= deadlineMs) {
      await deps.hostCommands.cancel(commandId, request.instanceId);
      return { ended: false, commandId, durationMs: nowMs - sentAtMs, lastStatus: invocation.status };
    }
    await deps.sleep(deps.config.checkPollIntervalMs);
  }
}
