/**
 * The scheduled host sync: reads both views, applies the plan (host-sync-plan.ts) with conditional writes,
 * and audits every change on the host's chain under the sync's principal.
 */
import { hostChainId } from '../domain/audit-record.js';
import type { Clock } from '../domain/clock.js';
import { HostAlreadyRegisteredError, StaleHostStateError } from '../domain/errors.js';
import { MANAGED_TAG_KEY, planHostSync, type HostSyncAction } from '../domain/host-sync-plan.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { HostRepository } from '../ports/host-repository.js';
import type { ManagedInstances } from '../ports/managed-instances.js';
import type { AgingAlarmSettings } from '../aging/aging-alarm-settings.js';
import type { AgingAlarms } from '../ports/aging-alarms.js';
import { reconcileAgingAlarms, type AlarmReconciliation } from './reconcile-aging-alarms.js';

export const HOST_SYNC_PRINCIPAL = 'rejuv:host-sync';

export interface HostSyncDeps {
  readonly hosts: HostRepository;
  readonly audit: AuditLog;
  readonly instances: ManagedInstances;
  readonly clock: Clock;
  /** Who the audit records name. @default HOST_SYNC_PRINCIPAL */
  readonly principal?: string;
  /** The per-host aging alarms to keep after the hosts are synced. @default - alarms are not touched */
  readonly agingAlarms?: { readonly alarms: AgingAlarms; readonly settings: AgingAlarmSettings };
}

export interface HostSyncResult {
  readonly registered: string[];
  readonly markedUnavailable: string[];
  readonly markedAvailable: string[];
  /** Hosts the sync may not write (mid-lifecycle, quarantined, owned), with what it saw. */
  readonly observed: { hostId: string; observation: string }[];
  readonly refused: { instanceId: string; reason: string }[];
  /** Instances whose tags could not be read: they and their hosts are left as they are until the next run. */
  readonly unreadable: { instanceId: string; reason: string }[];
  /** Writes whose condition no longer held (the host moved meanwhile): left for the next run. */
  readonly skipped: string[];
  /** The aging alarms kept after the hosts were synced (when the sync keeps them). */
  alarms?: AlarmReconciliation;
}

export async function syncHosts(deps: HostSyncDeps): Promise<HostSyncResult> {
  const [registry, instances] = await Promise.all([
    deps.hosts.list(),
    deps.instances.listTagged(MANAGED_TAG_KEY),
  ]);
  const result: HostSyncResult = {
    registered: [],
    markedUnavailable: [],
    markedAvailable: [],
    observed: [],
    refused: [],
    unreadable: [],
    skipped: [],
  };
  for (const action of planHostSync(registry, instances).actions) {
    try {
      await apply(deps, action, result);
    } catch (error) {
      // Someone else moved or registered the host between the read and the write: the next run sees it.
      if (error instanceof StaleHostStateError || error instanceof HostAlreadyRegisteredError) {
        result.skipped.push('instanceId' in action ? action.instanceId : action.host.hostId);
        continue;
      }
      throw error;
    }
  }
  if (deps.agingAlarms !== undefined) result.alarms = await keepAlarms(deps, deps.agingAlarms);
  return result;
}

/** The registry as the sync left it; a failure to read it or the alarms fails the alarms only, not the sync. */
async function keepAlarms(
  deps: HostSyncDeps,
  { alarms, settings }: NonNullable<HostSyncDeps['agingAlarms']>,
): Promise<AlarmReconciliation> {
  try {
    return await reconcileAgingAlarms(await deps.hosts.list(), alarms, settings);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    return { put: [], deleted: [], foreign: [], failed: [{ reason: error.message }] };
  }
}

async function apply(deps: HostSyncDeps, action: HostSyncAction, result: HostSyncResult): Promise<void> {
  const at = new Date(deps.clock.nowMs()).toISOString();
  const principal = deps.principal ?? HOST_SYNC_PRINCIPAL;
  const base = { at, principal, trigger: 'system' as const, step: 'HostSync' };
  switch (action.kind) {
    case 'refuse':
      result.refused.push({ instanceId: action.instanceId, reason: action.reason });
      return;
    case 'unreadable':
      result.unreadable.push({ instanceId: action.instanceId, reason: action.reason });
      return;
    case 'register': {
      // Intent first. Its id is fixed by the chain's head when this attempt began: a crash before the write
      // leaves the intent as the head, and the next run reuses its id (the append is a no-op) and writes;
      // a host registered again after a deregistration gets records of its own, not a silent no-op.
      const chainId = hostChainId(action.hostId);
      const attempt = `host-sync:register:${action.hostId}:${action.instanceId}`;
      const head = await deps.audit.head(chainId);
      const eventId =
        head?.outcome === 'started' && head.eventId.startsWith(`${attempt}:`)
          ? head.eventId
          : `${attempt}:${head?.seq ?? 0}`;
      const detail = { change: 'register', instanceId: action.instanceId, pool: action.pool };
      await deps.audit.append(chainId, {
        ...base,
        eventId,
        outcome: 'started',
        reason: `registering from SSM: instance ${action.instanceId} tagged for pool ${action.pool}`,
        detail,
      });
      const host = await recordSkipped(deps, chainId, eventId, base, () =>
        deps.hosts.register({
          hostId: action.hostId,
          pool: action.pool,
          availabilityZone: action.availabilityZone,
          instanceId: action.instanceId,
        }),
      );
      await deps.audit.append(chainId, {
        ...base,
        eventId: `${eventId}:done`,
        outcome: 'succeeded',
        toState: 'IN_SERVICE',
        reason: `registered from SSM: instance ${action.instanceId} tagged for pool ${action.pool}`,
        detail,
      });
      result.registered.push(host.hostId);
      return;
    }
    case 'mark-unavailable':
    case 'mark-available': {
      const { host } = action;
      const chainId = hostChainId(host.hostId);
      const unavailable =
        action.kind === 'mark-unavailable' ? { reason: action.unavailable.reason, since: at } : undefined;
      const reason =
        unavailable === undefined
          ? `available again: instance ${host.instanceId} online and managed`
          : `unavailable: instance ${host.instanceId} ${unavailable.reason === 'offline' ? 'is offline' : 'is no longer managed (tag removed or deregistered)'}`;
      const record = {
        ...base,
        fromState: host.state,
        toState: host.state,
        detail: {
          change: action.kind,
          instanceId: host.instanceId,
          unavailable: unavailable?.reason ?? null,
        },
      };
      // The record as it was read fixes the id: a retry after a crash appends nothing new.
      const eventId = `host-sync:${action.kind}:${host.hostId}:${host.updatedAt}`;
      await deps.audit.append(chainId, {
        ...record,
        eventId,
        outcome: 'started',
        reason: `${reason} (marking)`,
      });
      await recordSkipped(deps, chainId, eventId, base, () =>
        deps.hosts.setAvailability(host.hostId, host.stateVersion, unavailable),
      );
      await deps.audit.append(chainId, {
        ...record,
        eventId: `${eventId}:done`,
        outcome: 'succeeded',
        reason,
      });
      (action.kind === 'mark-available' ? result.markedAvailable : result.markedUnavailable).push(
        host.hostId,
      );
      return;
    }
    case 'observe': {
      const { host } = action;
      // Once per observation and host version: a sync every few minutes does not flood the chain.
      await deps.audit.append(hostChainId(host.hostId), {
        ...base,
        eventId: `host-sync:observe:${host.hostId}:${host.stateVersion}:${action.observation}`,
        outcome: 'skipped',
        fromState: host.state,
        toState: host.state,
        reason: `observed ${action.observation} while ${host.state}${host.executionId === undefined ? '' : ` (owned by ${host.executionId})`}: not changed by the sync`,
        detail: { change: 'observe', instanceId: host.instanceId, observation: action.observation },
      });
      result.observed.push({ hostId: host.hostId, observation: action.observation });
      return;
    }
  }
}

/** Runs the write; when its condition no longer holds, audits that the intended change was not made. */
async function recordSkipped<T>(
  deps: HostSyncDeps,
  chainId: string,
  eventId: string,
  base: { at: string; principal: string; trigger: 'system'; step: string },
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof StaleHostStateError || error instanceof HostAlreadyRegisteredError) {
      await deps.audit.append(chainId, {
        ...base,
        eventId: `${eventId}:skipped`,
        outcome: 'skipped',
        reason: `not changed: ${error.message}`,
      });
    }
    throw error;
  }
}
