/** The last resort: take the host out of automation with a reason a person will read, and say so. */
import { advance } from './advance.js';
import { reclaimHostLock } from './reclaim-lock.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export async function quarantine(
  deps: WorkflowDeps,
  staleCtx: WorkflowContext,
  reason: string,
): Promise<WorkflowContext> {
  const host = await deps.store.hosts.get(staleCtx.request.hostId);
  const ctx: WorkflowContext = { ...staleCtx, hostState: host.state, hostVersion: host.stateVersion };
  if (host.state === 'QUARANTINED' || host.executionId !== ctx.executionId) return ctx;
  if (host.state === 'IN_SERVICE') return ctx;
  return advance(deps, await reclaimHostLock(deps, ctx), 'QUARANTINED', {
    step: 'Quarantine',
    reason: reason.slice(0, 1024),
  });
}
