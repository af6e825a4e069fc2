/**
 * The backstop for executions that ended without their own cleanup: stopped (StopExecution), timed
 * out, or failed with an error no Catch handled. Step Functions reports each such end as an event; if
 * the execution still owns its host in the middle of the lifecycle, the host goes to QUARANTINED with
 * a reason naming its guests (they may be paused, and an SSM command may still be running, so only a
 * person can say what is safe), and whatever lock or pool slot the execution held is given back.
 * A host still ADMITTED was never touched (the workflow moves it to DRAINING before draining, and
 * Preflight only reads), so it goes straight back to IN_SERVICE instead, as Compensate would do.
 * Audited and notified; a redelivered event finds nothing left and changes nothing.
 */
import { z } from 'zod';
import { LeaseLostError } from '../domain/errors.js';
import { hostChainId } from '../domain/audit-record.js';
import { ExecutionIdSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';
import { advance } from './advance.js';
import { auditStep } from './audit-step.js';
import { RejuvenationRequestSchema } from './rejuvenation-request.js';
import { poolLimit } from './workflow-config.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** Ends after which no state of the workflow runs again. */
export const REAPED_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;

export const ExecutionStatusChangeSchema = z
  .object({
    source: z.literal('aws.states'),
    'detail-type': z.literal('Step Functions Execution Status Change'),
    detail: z
      .object({
        executionArn: z.string().startsWith('arn:').max(2048),
        name: ExecutionIdSchema,
        status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
        startDate: z.number().nonnegative().nullish(),
        input: z.string().max(262_144).nullish(),
      })
      .loose(),
  })
  .loose();

export type ReapResult =
  | { readonly status: 'ignored'; readonly reason: string }
  | {
      readonly status: 'reaped';
      readonly hostId: string;
      readonly executionName: string;
      readonly hostState: string;
      readonly quarantined: boolean;
      readonly returnedToService: boolean;
      readonly released: readonly string[];
    };

export async function reapEndedExecution(deps: WorkflowDeps, input: unknown): Promise<ReapResult> {
  const { detail } = parseWith(ExecutionStatusChangeSchema, 'execution status change event', input);
  const name = detail.name;
  if (!(REAPED_STATUSES as readonly string[]).includes(detail.status))
    return { status: 'ignored', reason: `execution ${name} is ${detail.status}` };
  const request = parseWith(RejuvenationRequestSchema, `input of execution ${name}`, parseJson(detail.input));
  const host = await deps.store.hosts.get(request.hostId);
  const owesHost = host.executionId === name && host.state !== 'IN_SERVICE' && host.state !== 'QUARANTINED';
  const live = await deps.store.hostLock.current(host.hostId);
  const heldLock = live?.owner === name ? live : undefined;
  const heldSlots = (
    await deps.store.poolSemaphore.holders(host.pool, poolLimit(deps.config, host.pool))
  ).filter((slot) => slot.owner === name);
  if (!owesHost && heldLock === undefined && heldSlots.length === 0)
    return { status: 'ignored', reason: `execution ${name} left nothing behind` };

  const identity = { executionId: name, request };
  const untouched = owesHost && host.state === 'ADMITTED';
  const quarantines = owesHost && !untouched;
  // Said of the host only when the host is moved; an execution that left only leases behind gets its
  // reason once they are given back, naming them.
  const hostReason = untouched
    ? `execution ${name} ended ${detail.status} with the host ADMITTED, before anything on it was touched: ` +
      'returned to service'
    : quarantines
      ? `execution ${name} ended ${detail.status} with the host ${host.state}; ` +
        `guests ${await guestsOf(deps, host.hostId, name)} may be paused and an SSM command may still be ` +
        'running on the host: check the host, run Recover, then release it from quarantine'
      : undefined;
  let lock = heldLock;
  let hostState: string = host.state;
  // Defined exactly when the host is owed a move.
  if (hostReason !== undefined) {
    lock ??= await deps.store.hostLock.acquire(host.hostId, name, deps.config.leaseDurationMs);
    const ctx: WorkflowContext = {
      ...identity,
      instanceId: host.instanceId,
      pool: host.pool,
      hostState: host.state,
      hostVersion: host.stateVersion,
      lock,
      // Without a live slot the lock stands in: advance never blocks a move back to service or into
      // quarantine on a lost slot.
      poolSlot: heldSlots[0] ?? lock,
      startedAt: new Date(detail.startDate ?? deps.clock.nowMs()).toISOString(),
    };
    const to = untouched ? 'IN_SERVICE' : 'QUARANTINED';
    hostState = (await advance(deps, ctx, to, { step: 'Reap', reason: hostReason.slice(0, 1024) })).hostState;
  }
  const released: string[] = [];
  for (const slot of heldSlots)
    if (await giveBack(() => deps.store.poolSemaphore.release(slot))) released.push(slot.resource);
  if (lock !== undefined && (await giveBack(() => deps.store.hostLock.release(lock))))
    released.push(lock.resource);

  const reason =
    hostReason ??
    leftBehindReason(
      name,
      detail.status,
      host.state,
      [...heldSlots.map((s) => s.resource), ...(heldLock === undefined ? [] : [heldLock.resource])],
      released,
    );

  await auditStep(deps, identity, {
    key: 'reaped',
    step: 'Reap',
    outcome: quarantines ? 'failed' : 'compensated',
    reason: reason.slice(0, 1024),
    detail: { endedAs: detail.status, hostState, released: released.join(',') || null },
  });
  if (quarantines)
    await deps.notifier.notify({
      kind: 'quarantined',
      hostId: host.hostId,
      executionId: name,
      subject: `rejuv: host ${host.hostId} quarantined`,
      message: `Host ${host.hostId} (pool ${host.pool}) is QUARANTINED: ${reason}.`,
    });
  return {
    status: 'reaped',
    hostId: host.hostId,
    executionName: name,
    hostState,
    quarantined: quarantines,
    returnedToService: untouched,
    released,
  };
}

/**
 * Why an execution that owed its host nothing was reaped: it ended still holding a lock or pool slot
 * (e.g. it had put the host back IN_SERVICE but not yet released them). Names what was given back, and
 * what another owner had already taken over, so the record is not read as a problem with the host.
 */
function leftBehindReason(
  name: string,
  status: string,
  hostState: string,
  held: readonly string[],
  released: readonly string[],
): string {
  const taken = held.filter((resource) => !released.includes(resource));
  return (
    `execution ${name} ended ${status}; the host (${hostState}) needed nothing from it, but it still held ` +
    `${held.join(' and ')}: ` +
    (released.length > 0 ? `gave back ${released.join(' and ')}` : 'gave back nothing') +
    (taken.length > 0 ? `; ${taken.join(' and ')} already held by another owner` : '')
  );
}

/** The VMs the execution's Preflight found on the host, from its audit record. */
async function guestsOf(
  deps: Pick<WorkflowDeps, 'store'>,
  hostId: string,
  executionId: string,
): Promise<string> {
  let names: string[] | undefined;
  for await (const r of deps.store.audit.read(hostChainId(hostId))) {
    const summary = r.detail?.['summary'];
    if (r.executionId !== executionId || r.step !== 'Preflight' || typeof summary !== 'string') continue;
    try {
      const vms = JSON.parse(summary) as { name?: unknown }[];
      names = vms.map((v) => String(v.name));
    } catch {
      // An unreadable summary names no one; said below.
    }
  }
  return names === undefined || names.length === 0
    ? '(unknown: no Preflight result recorded)'
    : names.join(', ');
}

/** True when released now, false when someone else already holds it. */
async function giveBack(release: () => Promise<void>): Promise<boolean> {
  try {
    await release();
    return true;
  } catch (error) {
    if (error instanceof LeaseLostError) return false;
    throw error;
  }
}

function parseJson(text: string | null | undefined): unknown {
  try {
    return JSON.parse(text ?? 'null') as unknown;
  } catch {
    return text;
  }
}
