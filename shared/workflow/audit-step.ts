/** Appends one workflow event to the host's audit chain, with the execution's who/why filled in. */
import { hostChainId, type AuditEventInput, type AuditRecord } from '../domain/audit-record.js';
import type { WorkflowDeps } from './workflow-deps.js';
import type { WorkflowContext } from './workflow-context.js';

type StepEvent = Pick<
  AuditEventInput,
  'step' | 'outcome' | 'fromState' | 'toState' | 'durationMs' | 'commandId' | 'detail'
> & {
  /** Distinguishes events of one step, e.g. `DRAINED` or `result`; with the execution id it makes the event id. */
  readonly key: string;
  readonly reason?: string;
};

export function auditStep(
  deps: Pick<WorkflowDeps, 'store' | 'clock'>,
  ctx: Pick<WorkflowContext, 'executionId' | 'request'>,
  event: StepEvent,
): Promise<AuditRecord> {
  const { key, reason, ...rest } = event;
  return deps.store.audit.append(hostChainId(ctx.request.hostId), {
    ...rest,
    eventId: `${ctx.executionId}:${event.step}:${key}`,
    at: new Date(deps.clock.nowMs()).toISOString(),
    principal: ctx.request.principal,
    trigger: ctx.request.trigger,
    executionId: ctx.executionId,
    reason: (reason ?? ctx.request.reason).slice(0, 1024),
  });
}
