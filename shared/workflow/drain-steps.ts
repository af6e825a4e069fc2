/** Drain and undrain around the warm reboot. Each call is idempotent; the state machine loops on the check. */
import { auditStep } from './audit-step.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export async function startDrain(deps: WorkflowDeps, ctx: WorkflowContext): Promise<WorkflowContext> {
  const host = await deps.store.hosts.get(ctx.request.hostId);
  await deps.drainer.drain(host, ctx.executionId, ctx.lock);
  await auditStep(deps, ctx, { key: 'started', step: 'Drain', outcome: 'started' });
  return ctx;
}

export async function isDrained(deps: WorkflowDeps, ctx: WorkflowContext): Promise<boolean> {
  return deps.drainer.isDrained(await deps.store.hosts.get(ctx.request.hostId));
}

export async function undrain(deps: WorkflowDeps, ctx: WorkflowContext): Promise<WorkflowContext> {
  const host = await deps.store.hosts.get(ctx.request.hostId);
  await deps.drainer.undrain(host, ctx.executionId, ctx.lock);
  await auditStep(deps, ctx, { key: 'done', step: 'Undrain', outcome: 'succeeded' });
  return ctx;
}
