/**
 * Onboarding from SSM's own inventory: what a scheduled sync does to the host registry, decided from the
 * registry's hosts and SSM's managed instances alone (pure; the adapters fetch both views).
 *
 * - An instance tagged `rejuv:managed=true` with a valid `rejuv:pool` that no host names yet is registered.
 *   Its host id is the `rejuv:host-id` tag when present, else the instance id (always a valid host id); a
 *   host-id tag that is invalid, or taken by another instance, refuses the instance rather than falling
 *   back, so a typo never registers the same machine twice under two names.
 * - A registered host whose instance is offline, or no longer carries the managed tag (or is gone from SSM),
 *   is marked unavailable with the reason; one that is back online and tagged is marked available again.
 * - Only an IN_SERVICE host with no owning execution is ever written. A host mid-lifecycle or QUARANTINED
 *   is left as it is: the sync only records what it observed, so a rejuvenation in flight (whose host is
 *   offline by design during the reload) is never disturbed and a quarantine stays a person's decision.
 * - Nothing is ever removed from the registry.
 */
import { z } from 'zod';
import type { Host, HostUnavailability } from './host.js';
import { HostIdSchema, PoolIdSchema } from './identifiers.js';

export const MANAGED_TAG_KEY = 'rejuv:managed';
export const MANAGED_TAG_VALUE = 'true';
export const POOL_TAG_KEY = 'rejuv:pool';
export const HOST_ID_TAG_KEY = 'rejuv:host-id';
/** Hybrid (mi-) instances have no availability zone in SSM; this tag may name one. */
export const AVAILABILITY_ZONE_TAG_KEY = 'rejuv:availability-zone';
export const UNKNOWN_AVAILABILITY_ZONE = 'unknown';

const AvailabilityZoneTagSchema = z.string().regex(/^[a-z0-9-]{1,32}$/);

/** One managed instance as SSM reports it (DescribeInstanceInformation plus ListTagsForResource). */
export interface ManagedInstanceView {
  readonly instanceId: string;
  /** SSM's PingStatus: Online, ConnectionLost, Inactive. */
  readonly pingStatus: string;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Why its tags could not be read this time (a refused or failed call): the sync then judges neither the
   * instance nor its host, and reports it; the next run looks again.
   */
  readonly unreadable?: string;
}

export type HostSyncAction =
  | {
      readonly kind: 'register';
      readonly hostId: string;
      readonly instanceId: string;
      readonly pool: string;
      readonly availabilityZone: string;
    }
  | {
      readonly kind: 'mark-unavailable';
      readonly host: Host;
      readonly unavailable: Omit<HostUnavailability, 'since'>;
    }
  | { readonly kind: 'mark-available'; readonly host: Host }
  /** A host the sync may not write (not IN_SERVICE, or owned): what was seen is only recorded. */
  | {
      readonly kind: 'observe';
      readonly host: Host;
      readonly observation: UnavailabilityReason | 'available';
    }
  | { readonly kind: 'refuse'; readonly instanceId: string; readonly reason: string }
  /** An instance whose tags could not be read: nothing is written for it or its host this run. */
  | { readonly kind: 'unreadable'; readonly instanceId: string; readonly reason: string };

export type UnavailabilityReason = HostUnavailability['reason'];

export interface HostSyncPlan {
  readonly actions: readonly HostSyncAction[];
}

export function planHostSync(
  registry: readonly Host[],
  instances: readonly ManagedInstanceView[],
): HostSyncPlan {
  const actions: HostSyncAction[] = [];
  const byInstance = new Map(instances.map((i) => [i.instanceId, i]));
  const hostByInstance = new Map(registry.map((h) => [h.instanceId, h]));
  const hostById = new Map(registry.map((h) => [h.hostId, h]));

  for (const instance of instances)
    if (instance.unreadable !== undefined)
      actions.push({ kind: 'unreadable', instanceId: instance.instanceId, reason: instance.unreadable });
  for (const host of registry) {
    const instance = byInstance.get(host.instanceId);
    if (instance?.unreadable !== undefined) continue;
    const seen = observe(instance);
    const writable = host.state === 'IN_SERVICE' && host.executionId === undefined;
    if (seen === 'available') {
      if (host.unavailable === undefined) continue;
      actions.push(
        writable ? { kind: 'mark-available', host } : { kind: 'observe', host, observation: seen },
      );
    } else {
      if (host.unavailable?.reason === seen) continue;
      actions.push(
        writable
          ? { kind: 'mark-unavailable', host, unavailable: { reason: seen } }
          : { kind: 'observe', host, observation: seen },
      );
    }
  }

  const candidates = instances
    .filter(
      (i) =>
        i.unreadable === undefined &&
        !hostByInstance.has(i.instanceId) &&
        i.tags[MANAGED_TAG_KEY] === MANAGED_TAG_VALUE,
    )
    .map((i) => ({ instance: i, decision: registration(i) }));
  const claims = new Map<string, number>();
  for (const c of candidates)
    if (c.decision.ok) claims.set(c.decision.hostId, (claims.get(c.decision.hostId) ?? 0) + 1);
  for (const { instance, decision } of [...candidates].sort((a, b) =>
    a.instance.instanceId.localeCompare(b.instance.instanceId),
  )) {
    if (!decision.ok) {
      actions.push({ kind: 'refuse', instanceId: instance.instanceId, reason: decision.reason });
      continue;
    }
    const owner = hostById.get(decision.hostId);
    if (owner !== undefined) {
      actions.push({
        kind: 'refuse',
        instanceId: instance.instanceId,
        reason: `host id ${decision.hostId} is already registered for instance ${owner.instanceId}`,
      });
    } else if ((claims.get(decision.hostId) ?? 0) > 1) {
      actions.push({
        kind: 'refuse',
        instanceId: instance.instanceId,
        reason: `host id ${decision.hostId} is claimed by more than one new instance`,
      });
    } else {
      const { hostId, pool, availabilityZone } = decision;
      actions.push({ kind: 'register', instanceId: instance.instanceId, hostId, pool, availabilityZone });
    }
  }
  return { actions };
}

function observe(instance: ManagedInstanceView | undefined): UnavailabilityReason | 'available' {
  if (instance === undefined || instance.tags[MANAGED_TAG_KEY] !== MANAGED_TAG_VALUE) return 'not-managed';
  if (instance.pingStatus !== 'Online') return 'offline';
  return 'available';
}

type Registration =
  | { readonly ok: true; readonly hostId: string; readonly pool: string; readonly availabilityZone: string }
  | { readonly ok: false; readonly reason: string };

function registration(instance: ManagedInstanceView): Registration {
  const poolTag = instance.tags[POOL_TAG_KEY];
  if (poolTag === undefined) return { ok: false, reason: `no ${POOL_TAG_KEY} tag` };
  const pool = PoolIdSchema.safeParse(poolTag);
  if (!pool.success)
    return { ok: false, reason: `${POOL_TAG_KEY} tag ${JSON.stringify(poolTag)} is not a pool id` };
  const hostIdTag = instance.tags[HOST_ID_TAG_KEY];
  const hostId = HostIdSchema.safeParse(hostIdTag ?? instance.instanceId);
  if (!hostId.success)
    return { ok: false, reason: `${HOST_ID_TAG_KEY} tag ${JSON.stringify(hostIdTag)} is not a host id` };
  const azTag = instance.tags[AVAILABILITY_ZONE_TAG_KEY];
  const az = AvailabilityZoneTagSchema.safeParse(azTag ?? UNKNOWN_AVAILABILITY_ZONE);
  if (!az.success)
    return {
      ok: false,
      reason: `${AVAILABILITY_ZONE_TAG_KEY} tag ${JSON.stringify(azTag)} is not an availability zone`,
    };
  return { ok: true, hostId: hostId.data, pool: pool.data, availabilityZone: az.data };
}
