/**
 * Deregister: an operator removes a host from the registry, by one conditional delete at the version
 * read. Only a host no execution owns: IN_SERVICE, or QUARANTINED (which keeps the id of the execution
 * that quarantined it, for the record, but is not owned). The host's audit chain is kept, and says who
 * removed it and why.
 *
 * The host sync registers every instance tagged `rejuv:managed=true` that no host names: remove the
 * tag (or deregister the instance from SSM) first, or the next sync registers the host again.
 *
 * Event ids are fixed by the record as read (`operator:deregister:<host>:<createdAt>:v<version>`), so a
 * retry appends nothing new; a retry after the delete finds the host gone and its own intent or
 * completion as the chain's head, and completes or returns without writing.
 */
import { z } from 'zod';
import { hostChainId, type AuditRecord } from '../domain/audit-record.js';
import { HostNotFoundError, HostOwnedByExecutionError, StaleHostStateError } from '../domain/errors.js';
import type { Host } from '../domain/host.js';
import { OWNED_STATES } from '../domain/host-state.js';
import { HostIdSchema, PrincipalSchema, ReasonSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';
import { findHost } from './find-host.js';
import { operatorAuditBase, type OperatorUseCaseDeps } from './operator-deps.js';

export const DeregisterHostInputSchema = z.object({ hostId: HostIdSchema, reason: ReasonSchema }).strict();

export type DeregisterHostInput = z.input<typeof DeregisterHostInputSchema>;

export type DeregisterHostResult =
  | {
      readonly hostId: string;
      readonly replayed: false;
      /** As it was before removal. */ readonly host: Host;
    }
  /** A retry of a removal already made: the host is gone, nothing more was removed. */
  | { readonly hostId: string; readonly replayed: true };

const STEP = 'DeregisterHost';

export async function deregisterHost(
  deps: Pick<OperatorUseCaseDeps, 'hosts' | 'audit' | 'clock'>,
  principal: string,
  input: unknown,
): Promise<DeregisterHostResult> {
  const who = parseWith(PrincipalSchema, 'principal', principal);
  const { hostId, reason } = parseWith(DeregisterHostInputSchema, 'deregister request', input);
  const chainId = hostChainId(hostId);
  const host = await findHost(deps.hosts, hostId);
  if (host === undefined) {
    const head = await deps.audit.head(chainId);
    if (head === undefined || !isOurRemoval(head, who, hostId)) throw new HostNotFoundError(hostId);
    if (head.outcome === 'started') await appendDone(deps, chainId, who, reason, head);
    return { hostId, replayed: true };
  }
  refuseOwned(host);
  const intent = await deps.audit.append(chainId, {
    ...operatorAuditBase(deps, who, STEP),
    eventId: `operator:deregister:${hostId}:${host.createdAt}:v${host.stateVersion}`,
    outcome: 'started',
    fromState: host.state,
    reason,
    detail: detailOf(host),
  });
  try {
    await deps.hosts.deregister(hostId, host.stateVersion);
  } catch (error) {
    if (error instanceof StaleHostStateError || error instanceof HostNotFoundError) {
      // Moved or removed between the read and the delete: say so on the chain, change nothing.
      await deps.audit.append(chainId, {
        ...operatorAuditBase(deps, who, STEP),
        eventId: `${intent.eventId}:skipped`,
        outcome: 'skipped',
        fromState: host.state,
        reason: `not deregistered: ${error.message}`.slice(0, 1024),
        detail: detailOf(host),
      });
    }
    throw error;
  }
  await appendDone(deps, chainId, who, reason, intent);
  return { hostId, replayed: false, host };
}

/** An execution owns the host: it is mid-rejuvenation, and removing it would strand that execution. */
export function refuseOwned(host: Host): void {
  if (OWNED_STATES.has(host.state) || (host.state === 'IN_SERVICE' && host.executionId !== undefined))
    throw new HostOwnedByExecutionError(host.hostId, host.state, host.executionId ?? 'unknown');
}

async function appendDone(
  deps: Pick<OperatorUseCaseDeps, 'audit' | 'clock'>,
  chainId: string,
  principal: string,
  reason: string,
  intent: AuditRecord,
): Promise<void> {
  await deps.audit.append(chainId, {
    ...operatorAuditBase(deps, principal, STEP),
    eventId: `${intent.eventId.replace(/:done$/, '')}:done`,
    outcome: 'succeeded',
    ...(intent.fromState === undefined ? {} : { fromState: intent.fromState }),
    reason: intent.reason ?? reason,
    ...(intent.detail === undefined ? {} : { detail: intent.detail }),
  });
}

function detailOf(host: Host) {
  return {
    change: 'deregister',
    instanceId: host.instanceId,
    pool: host.pool,
    stateVersion: host.stateVersion,
    quarantinedBy: host.state === 'QUARANTINED' ? (host.executionId ?? null) : null,
  };
}

function isOurRemoval(head: AuditRecord, principal: string, hostId: string): boolean {
  return (
    head.step === STEP &&
    head.principal === principal &&
    head.eventId.startsWith(`operator:deregister:${hostId}:`) &&
    (head.outcome === 'started' || head.outcome === 'succeeded')
  );
}
