/**
 * Register: an operator adds a host to the registry, IN_SERVICE. Checked first (a taken id writes
 * nothing), then the intent is audited, then the host is written, then the outcome is audited.
 *
 * An omitted availability zone is recorded as `unknown`, as the host sync records a hybrid (`mi-…`)
 * instance without a `rejuv:availability-zone` tag: SSM knows no zone for it, and nothing in rejuv
 * decides by zone today, so a made-up value would only mislead.
 *
 * Event ids: a host id can be registered again after a deregistration, on the same chain, so the id of
 * an attempt is fixed by the chain's head when it began (`operator:register:<host>:<head seq>`). A retry
 * of an attempt that crashed after its intent finds that intent as the chain's head and completes it
 * under the same ids; a retry after success finds its own completion as the head and returns the host
 * without appending anything.
 */
import { z } from 'zod';
import { hostChainId, type AuditRecord } from '../domain/audit-record.js';
import { HostAlreadyRegisteredError } from '../domain/errors.js';
import { UNKNOWN_AVAILABILITY_ZONE } from '../domain/host-sync-plan.js';
import type { Host } from '../domain/host.js';
import {
  AvailabilityZoneSchema,
  HostIdSchema,
  InstanceIdSchema,
  PoolIdSchema,
  PrincipalSchema,
} from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';
import { findHost } from './find-host.js';
import { operatorAuditBase, type OperatorUseCaseDeps } from './operator-deps.js';

export const RegisterHostInputSchema = z
  .object({
    hostId: HostIdSchema,
    instanceId: InstanceIdSchema,
    pool: PoolIdSchema,
    availabilityZone: AvailabilityZoneSchema.default(UNKNOWN_AVAILABILITY_ZONE),
  })
  .strict();

export type RegisterHostInput = z.input<typeof RegisterHostInputSchema>;
type Registration = z.output<typeof RegisterHostInputSchema>;

export interface RegisterHostResult {
  readonly host: Host;
  /** True when this was a retry of a registration already made: nothing was written. */
  readonly replayed: boolean;
}

const STEP = 'RegisterHost';

export async function registerHost(
  deps: Pick<OperatorUseCaseDeps, 'hosts' | 'audit' | 'clock'>,
  principal: string,
  input: unknown,
): Promise<RegisterHostResult> {
  const who = parseWith(PrincipalSchema, 'principal', principal);
  const registration = parseWith(RegisterHostInputSchema, 'register request', input);
  const { hostId } = registration;
  const chainId = hostChainId(hostId);
  const [existing, head] = await Promise.all([findHost(deps.hosts, hostId), deps.audit.head(chainId)]);
  const ours = head !== undefined && isOurs(head, who, registration) ? head : undefined;
  if (existing !== undefined) {
    if (ours === undefined || !isRegisteredAs(existing, registration))
      throw new HostAlreadyRegisteredError(hostId);
    // Our own attempt wrote the host; only its completion may be missing.
    if (ours.outcome === 'started') await appendDone(deps, chainId, who, ours.eventId, registration);
    return { host: existing, replayed: ours.outcome !== 'started' };
  }
  const eventId =
    ours?.outcome === 'started' ? ours.eventId : `operator:register:${hostId}:${head?.seq ?? 0}`;
  await deps.audit.append(chainId, {
    ...operatorAuditBase(deps, who, STEP),
    eventId,
    outcome: 'started',
    toState: 'IN_SERVICE',
    reason: `registering host ${hostId}: instance ${registration.instanceId} in pool ${registration.pool}`,
    detail: detailOf(registration),
  });
  const host = await deps.hosts.register(registration);
  await appendDone(deps, chainId, who, eventId, registration);
  return { host, replayed: false };
}

async function appendDone(
  deps: Pick<OperatorUseCaseDeps, 'audit' | 'clock'>,
  chainId: string,
  principal: string,
  eventId: string,
  registration: Registration,
): Promise<void> {
  await deps.audit.append(chainId, {
    ...operatorAuditBase(deps, principal, STEP),
    eventId: `${eventId}:done`,
    outcome: 'succeeded',
    toState: 'IN_SERVICE',
    reason: `registered host ${registration.hostId}: instance ${registration.instanceId} in pool ${registration.pool}`,
    detail: detailOf(registration),
  });
}

function detailOf(r: Registration) {
  return { change: 'register', instanceId: r.instanceId, pool: r.pool, availabilityZone: r.availabilityZone };
}

/** The chain's head is this principal's registration of exactly this host: an intent or its completion. */
function isOurs(head: AuditRecord, principal: string, r: Registration): boolean {
  const d = head.detail ?? {};
  return (
    head.step === STEP &&
    head.principal === principal &&
    head.eventId.startsWith(`operator:register:${r.hostId}:`) &&
    (head.outcome === 'started' || head.outcome === 'succeeded') &&
    d['instanceId'] === r.instanceId &&
    d['pool'] === r.pool &&
    d['availabilityZone'] === r.availabilityZone
  );
}

function isRegisteredAs(host: Host, r: Registration): boolean {
  return (
    host.instanceId === r.instanceId && host.pool === r.pool && host.availabilityZone === r.availabilityZone
  );
}
