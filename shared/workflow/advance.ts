/** Moves the host one edge along its lifecycle and records it: the unit every workflow step is built of. */
import { LeaseLostError } from '../domain/errors.js';
import type { HostState } from '../domain/host-state.js';
import { auditStep } from './audit-step.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export interface AdvanceOptions {
  readonly step: string;
  readonly reason?: string;
  readonly detail?: Record<string, string | number | boolean | null>;
  readonly commandId?: string;
  readonly durationMs?: number;
}

export async function advance(
  deps: Pick<WorkflowDeps, 'store' | 'clock' | 'config'>,
  staleLeases: WorkflowContext,
  to: HostState,
  options: AdvanceOptions,
): Promise<WorkflowContext> {
  const ctx = await keepLeases(deps, staleLeases, to);
  const from = ctx.hostState;
  const host = await deps.store.hosts.transition(
    {
      hostId: ctx.request.hostId,
      from,
      to,
      expectedVersion: ctx.hostVersion,
      executionId: ctx.executionId,
      ...(to === 'QUARANTINED' ? { reason: options.reason ?? ctx.request.reason } : {}),
    },
    ctx.lock,
  );
  await auditStep(deps, ctx, {
    key: `${from}.${to}`,
    step: options.step,
    outcome: 'succeeded',
    fromState: from,
    toState: to,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.detail === undefined ? {} : { detail: options.detail }),
    ...(options.commandId === undefined ? {} : { commandId: options.commandId }),
    ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
  });
  return { ...ctx, hostState: host.state, hostVersion: host.stateVersion };
}

/** Moves back towards service or into quarantine: never blocked by a lost pool slot. */
const RETURNING: ReadonlySet<HostState> = new Set(['UNDRAINING', 'RECOVERING', 'IN_SERVICE', 'QUARANTINED']);

/**
 * An execution holds its lock and pool slot from Admit to Release, through drains and waits that may
 * outlast one lease; every transition renews them once less than half their duration is left. A lost
 * lock always stops the move (fencing). A lost pool slot stops moves deeper into maintenance, but not
 * a move back: the slot only limits how many hosts leave service, and this one is already out.
 */
async function keepLeases(
  deps: Pick<WorkflowDeps, 'store' | 'clock' | 'config'>,
  ctx: WorkflowContext,
  to: HostState,
): Promise<WorkflowContext> {
  const duration = deps.config.leaseDurationMs;
  const dueBefore = deps.clock.nowMs() + duration / 2;
  const lock =
    ctx.lock.expiresAtMs < dueBefore ? await deps.store.hostLock.renew(ctx.lock, duration) : ctx.lock;
  const poolSlot =
    ctx.poolSlot.expiresAtMs < dueBefore
      ? await deps.store.poolSemaphore.renew(ctx.poolSlot, duration).catch((error: unknown) => {
          if (error instanceof LeaseLostError && RETURNING.has(to)) return ctx.poolSlot;
          throw error;
        })
      : ctx.poolSlot;
  return lock === ctx.lock && poolSlot === ctx.poolSlot ? ctx : { ...ctx, lock, poolSlot };
}
