/**
 * Compensation after any failure: work out from the host's real state (not the possibly stale context)
 * what is owed, and take the first step of it. The state machine then runs the plan:
 * - `release`: nothing on the host was touched, or it is already back;
 * - `undrain`: guests were never paused; put load back, then IN_SERVICE;
 * - `recover`: guests may be paused or gone; run the Recover document from RECOVERING;
 * - `quarantine`: no safe automatic way back (e.g. the host cannot be reached).
 */
import type { HostNotBackError } from '../domain/errors.js';
import type { HostState } from '../domain/host-state.js';
import { advance } from './advance.js';
import { auditStep } from './audit-step.js';
import { reclaimHostLock } from './reclaim-lock.js';
import type { CaughtError, WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export type CompensationPlan = 'release' | 'undrain' | 'recover' | 'quarantine';

export interface Compensation {
  readonly ctx: WorkflowContext;
  readonly plan: CompensationPlan;
  readonly reason: string;
}

const GUESTS_MAY_BE_PAUSED: ReadonlySet<HostState> = new Set([
  'SUSPENDING',
  'RELOADING',
  'RESUMING',
  'VERIFYING',
  'RECOVERING',
]);

export function describeCaught(error: CaughtError): string {
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Cause is plain text already.
  }
  return `${error.Error}: ${message}`.slice(0, 1000);
}

export async function compensate(
  deps: WorkflowDeps,
  staleCtx: WorkflowContext,
  error: CaughtError,
): Promise<Compensation> {
  const reason = describeCaught(error);
  const host = await deps.store.hosts.get(staleCtx.request.hostId);
  const current: WorkflowContext = { ...staleCtx, hostState: host.state, hostVersion: host.stateVersion };
  const owesWork =
    host.executionId === current.executionId && host.state !== 'IN_SERVICE' && host.state !== 'QUARANTINED';
  const ctx = owesWork ? await reclaimHostLock(deps, current) : current;
  await auditStep(deps, ctx, {
    key: 'caught',
    step: 'Compensate',
    outcome: 'started',
    reason,
    detail: { error: error.Error, hostState: host.state },
  });

  const ours = host.executionId === ctx.executionId;
  if (!ours || host.state === 'IN_SERVICE' || host.state === 'QUARANTINED')
    return { ctx, plan: 'release', reason };
  if (host.state === 'ADMITTED') {
    return {
      ctx: await advance(deps, ctx, 'IN_SERVICE', { step: 'Compensate', reason }),
      plan: 'release',
      reason,
    };
  }
  // The drain may have begun even if the context does not know it yet: undrain is idempotent, so owe it.
  if (host.state === 'DRAINING' || host.state === 'DRAINED') {
    return {
      ctx: await advance(deps, ctx, 'UNDRAINING', { step: 'Compensate', reason }),
      plan: 'undrain',
      reason,
    };
  }
  if (host.state === 'UNDRAINING') return { ctx, plan: 'undrain', reason };
  if (GUESTS_MAY_BE_PAUSED.has(host.state)) {
    // An unreachable host cannot run Recover; a person has to look at it.
    // The literal, type-checked against the class: `HostNotBackError.name` is minified away in AWS.
    if (error.Error === ('HostNotBackError' satisfies HostNotBackError['name']))
      return { ctx, plan: 'quarantine', reason };
    const next =
      host.state === 'RECOVERING'
        ? ctx
        : await advance(deps, ctx, 'RECOVERING', { step: 'Compensate', reason });
    return { ctx: next, plan: 'recover', reason };
  }
  return { ctx, plan: 'quarantine', reason };
}
