/**
 * Release: an operator puts a QUARANTINED host back IN_SERVICE, the one edge out of quarantine. Unless
 * forced, the host's Preflight and then Verify must pass first (release-checks.ts); a check that does not
 * pass leaves the host QUARANTINED, and the audit trail says which check and why. A host SSM reports
 * offline or unmanaged is refused unless forced: its checks could not run.
 *
 * The host lock is held from before the checks to after the transition, as a workflow step holds it, so
 * two releases never run checks on one host at once; the transition itself is the store's one
 * conditional, fenced write (state, version, live lease) that also clears the quarantine reason.
 *
 * Retries: the attempt's id (`releaseId`) is fixed by the host, the quarantine's version and `requestId`,
 * so a retried request finds its commands already sent (SSM's step keys) and its audit records already
 * appended, and a retry after the release returns the released host. Without `requestId` every request
 * is a fresh attempt.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hostChainId, type AuditEventInput, type AuditRecord } from '../domain/audit-record.js';
import {
  HostNotQuarantinedError,
  HostUnavailableError,
  LeaseLostError,
  ReleaseCheckFailedError,
  StaleHostStateError,
} from '../domain/errors.js';
import type { Host } from '../domain/host.js';
import { HostIdSchema, PrincipalSchema, ReasonSchema } from '../domain/identifiers.js';
import type { Lease } from '../domain/lease.js';
import { parseWith } from '../domain/validation.js';
import { operatorAuditBase, RELEASE_CHECKS, type OperatorUseCaseDeps } from './operator-deps.js';
import { releaseId, runCheck, type CheckVerdict } from './release-checks.js';

export const ReleaseHostInputSchema = z
  .object({
    hostId: HostIdSchema,
    /** Why the host may go back: recorded on the host's chain, with the checks' verdicts. */
    reason: ReasonSchema,
    /** Skip the checks (and the unavailability refusal); the audit trail records that it was forced. */
    force: z.boolean().default(false),
    /** Makes a retried request idempotent; without it, every request is a fresh attempt. */
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'request id: 1-64 chars of A-Z a-z 0-9 _ -')
      .optional(),
  })
  .strict();

export type ReleaseHostInput = z.input<typeof ReleaseHostInputSchema>;

export interface ReleaseHostResult {
  /** The host as released: IN_SERVICE. */
  readonly host: Host;
  /** The attempt's id: the transition's execution id and the checks' runId. */
  readonly releaseId: string;
  readonly forced: boolean;
  /** The checks run, in order; empty when forced. */
  readonly checks: readonly CheckVerdict[];
  /** True when this was a retry of a release already made: nothing more was done. */
  readonly replayed: boolean;
}

const STEP = 'ReleaseHost';

export async function releaseHost(
  deps: OperatorUseCaseDeps,
  principal: string,
  input: unknown,
): Promise<ReleaseHostResult> {
  const who = parseWith(PrincipalSchema, 'principal', principal);
  const request = parseWith(ReleaseHostInputSchema, 'release request', input);
  const requestId = request.requestId ?? `fresh-${randomUUID()}`;
  const host = await deps.hosts.get(request.hostId);
  const chainId = hostChainId(host.hostId);

  // A retry of this very release, after it took effect: complete its record, move nothing.
  const previous = releaseId(host, host.stateVersion - 1, requestId);
  const last = host.lastTransition;
  if (host.state === 'IN_SERVICE' && last?.from === 'QUARANTINED' && last.executionId === previous) {
    await appendReleased(auditor(deps, who, chainId, previous), previous, request.force, request.reason);
    return { host, releaseId: previous, forced: request.force, checks: [], replayed: true };
  }
  if (host.state !== 'QUARANTINED') throw new HostNotQuarantinedError(host.hostId, host.state);
  if (host.unavailable !== undefined && !request.force)
    throw new HostUnavailableError(host.hostId, host.unavailable.reason, host.unavailable.since);

  const id = releaseId(host, host.stateVersion, requestId);
  const audit = auditor(deps, who, chainId, id);
  let lease = await deps.hostLock.acquire(host.hostId, id, deps.config.leaseDurationMs);
  try {
    await audit({
      eventId: `${id}:intent`,
      outcome: 'started',
      fromState: 'QUARANTINED',
      toState: 'IN_SERVICE',
      reason: request.reason,
      detail: {
        forced: request.force,
        requestId: request.requestId ?? null,
        quarantineReason: host.quarantineReason ?? null,
        quarantinedBy: host.executionId ?? null,
        unavailable: host.unavailable?.reason ?? null,
      },
    });
    const checks: CheckVerdict[] = [];
    if (!request.force) {
      for (const check of RELEASE_CHECKS) {
        const verdict = await runCheck(deps, host.instanceId, check, id, host.executionId);
        checks.push(verdict);
        await audit({
          eventId: `${id}:${check}`,
          outcome: verdict.passed ? 'succeeded' : 'failed',
          commandId: verdict.commandId,
          durationMs: verdict.durationMs,
          reason: verdict.summary.slice(0, 1024),
          detail: { check, status: verdict.status, passed: verdict.passed },
        });
        if (!verdict.passed) {
          await audit({
            eventId: `${id}:refused`,
            outcome: 'refused',
            fromState: 'QUARANTINED',
            toState: 'QUARANTINED',
            reason: `not released: ${verdict.summary}`.slice(0, 1024),
            detail: { failedCheck: check, forced: false },
          });
          throw new ReleaseCheckFailedError(host.hostId, check, verdict.summary);
        }
        // The checks may outlast one lease: renew it (or take it again, as the same owner) each time.
        lease = await deps.hostLock.acquire(host.hostId, id, deps.config.leaseDurationMs);
      }
    }
    let released: Host;
    try {
      released = await deps.hosts.transition(
        {
          hostId: host.hostId,
          from: 'QUARANTINED',
          to: 'IN_SERVICE',
          expectedVersion: host.stateVersion,
          executionId: id,
        },
        lease,
      );
    } catch (error) {
      if (error instanceof StaleHostStateError || error instanceof LeaseLostError) {
        await audit({
          eventId: `${id}:skipped`,
          outcome: 'skipped',
          fromState: 'QUARANTINED',
          toState: 'IN_SERVICE',
          reason: `not released: ${error.message}`.slice(0, 1024),
        });
      }
      throw error;
    }
    await appendReleased(audit, id, request.force, request.reason);
    return { host: released, releaseId: id, forced: request.force, checks, replayed: false };
  } finally {
    await giveBack(deps, lease);
  }
}

/** What a release record says beyond who, when and which attempt. */
type ReleaseEvent = Omit<AuditEventInput, 'at' | 'principal' | 'trigger' | 'step' | 'executionId'>;
type Auditor = (event: ReleaseEvent) => Promise<AuditRecord>;

/** Appends to the host's chain as this attempt: the operator, and the attempt's id as execution id. */
function auditor(deps: OperatorUseCaseDeps, principal: string, chainId: string, id: string): Auditor {
  return (event) =>
    deps.audit.append(chainId, { ...operatorAuditBase(deps, principal, STEP), executionId: id, ...event });
}

async function appendReleased(audit: Auditor, id: string, forced: boolean, reason: string): Promise<void> {
  await audit({
    eventId: `${id}:done`,
    outcome: 'succeeded',
    fromState: 'QUARANTINED',
    toState: 'IN_SERVICE',
    reason: (forced ? `forced release, checks skipped: ${reason}` : reason).slice(0, 1024),
    detail: { forced },
  });
}

/** The lock is given back whatever happened; one already lost (expired, taken over) is not an error. */
async function giveBack(deps: OperatorUseCaseDeps, lease: Lease): Promise<void> {
  try {
    await deps.hostLock.release(lease);
  } catch (error) {
    if (!(error instanceof LeaseLostError)) throw error;
  }
}
