/**
 * An execution refused at Admit (host locked by another execution, not in service, pool full for too
 * long, bad input) holds nothing; it is recorded on the host's chain where the host is known, and told.
 */
import { hostChainId } from '../domain/audit-record.js';
import { HostIdSchema } from '../domain/identifiers.js';
import { describeCaught } from './compensate.js';
import { RejuvenationRequestSchema } from './rejuvenation-request.js';
import type { CaughtError } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export interface Refusal {
  readonly outcome: 'refused';
  readonly executionId: string;
  readonly hostId?: string;
  readonly reason: string;
}

export async function recordRefusal(
  deps: Pick<WorkflowDeps, 'store' | 'notifier' | 'clock'>,
  executionId: string,
  input: unknown,
  error: CaughtError,
): Promise<Refusal> {
  const reason = describeCaught(error);
  const request = RejuvenationRequestSchema.safeParse(input);
  const hostId = request.success
    ? request.data.hostId
    : HostIdSchema.safeParse((input as { hostId?: unknown } | null)?.hostId).data;
  if (hostId === undefined) return { outcome: 'refused', executionId, reason };
  const known = await deps.store.hosts.get(hostId).then(
    () => true,
    () => false,
  );
  if (known && request.success) {
    await deps.store.audit.append(hostChainId(hostId), {
      eventId: `${executionId}:Admit:refused`,
      at: new Date(deps.clock.nowMs()).toISOString(),
      principal: request.data.principal,
      trigger: request.data.trigger,
      step: 'Admit',
      outcome: 'refused',
      executionId,
      reason,
      detail: { error: error.Error },
    });
  }
  await deps.notifier.notify({
    kind: 'refused',
    hostId,
    executionId,
    subject: `rejuv: host ${hostId} refused`,
    message: `Execution ${executionId} did not start on host ${hostId}: ${reason}`,
  });
  return { outcome: 'refused', executionId, hostId, reason };
}
