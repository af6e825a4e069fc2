/** After the reload, wait (by looping in the state machine) until the host's agent reports back. */
import { HostNotBackError } from '../domain/errors.js';
import { auditStep } from './audit-step.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export interface AwaitHostProgress {
  readonly online: boolean;
  readonly deadline: string;
}

export async function checkHostBack(
  deps: WorkflowDeps,
  ctx: WorkflowContext,
  previous: { readonly deadline?: string | undefined },
): Promise<AwaitHostProgress> {
  const nowMs = deps.clock.nowMs();
  const deadline =
    previous.deadline ?? new Date(nowMs + deps.config.awaitHostTimeoutSeconds * 1000).toISOString();
  const status = await deps.agents.status(ctx.instanceId);
  if (status.pingStatus === 'Online') {
    await auditStep(deps, ctx, {
      key: 'online',
      step: 'AwaitHost',
      outcome: 'succeeded',
      detail: { pingStatus: status.pingStatus, agentVersion: status.agentVersion ?? null },
    });
    return { online: true, deadline };
  }
  if (nowMs >= Date.parse(deadline))
    throw new HostNotBackError(ctx.request.hostId, deadline, status.pingStatus);
  return { online: false, deadline };
}
