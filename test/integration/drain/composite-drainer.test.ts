/**
 * The drainer the coordinator deploys: the cordon in DynamoDB Local and the host's target groups on the
 * local ELBv2, with one clock for lock expiry and deregistration delay.
 */
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  localElbv2Client,
  startLocalElbv2Endpoint,
  type RunningLocalElbv2,
} from '../../../local/elbv2-endpoint.js';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { CompositeDrainer } from '../../../shared/adapters/drain/composite-drainer.js';
import { CordonDrainer } from '../../../shared/adapters/drain/cordon-drainer.js';
import { Elbv2Drainer } from '../../../shared/adapters/elbv2/elbv2-drainer.js';
import { LoadBalancerUnavailableError } from '../../../shared/adapters/elbv2/elbv2-errors.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { LeaseLostError, ValidationError } from '../../../shared/domain/errors.js';
import type { Lease } from '../../../shared/domain/lease.js';
import { freshTables } from '../../support/dynamodb.js';

const DEREGISTRATION_DELAY_MS = 30_000;
/** One instance per test, all registered in the one target group from the start. */
const INSTANCES = Array.from({ length: 8 }, (_, i) => `i-${String(i + 1).padStart(17, '0')}`);

let clock: ManualClock;
let store: Store;
let elb: RunningLocalElbv2;
let client: ElasticLoadBalancingV2Client;
let web: string;
let drainer: CompositeDrainer;
let n = 0;

beforeAll(async () => {
  const t = await freshTables();
  clock = new ManualClock();
  store = t.store(clock);
  elb = await startLocalElbv2Endpoint({
    targetGroups: { web: INSTANCES },
    deregistrationDelayMs: DEREGISTRATION_DELAY_MS,
    healthyAfterMs: 0,
    clock,
  });
  client = localElbv2Client(elb.endpoint, { maxAttempts: 2 });
  web = elb.targetGroupArn('web');
  drainer = new CompositeDrainer([new CordonDrainer(store.hosts), new Elbv2Drainer(client, [web])]);
});

afterAll(async () => {
  client.destroy();
  await elb.stop();
});

interface OwnedHost {
  readonly hostId: string;
  readonly instanceId: string;
  readonly executionId: string;
  readonly lock: Lease;
}

async function ownedHost(leaseMs = 600_000): Promise<OwnedHost> {
  const instanceId = INSTANCES[n] ?? 'i-ffffffffffffffff';
  n += 1;
  const hostId = `composite-h-${n}`;
  const executionId = `exec-composite-${n}`;
  await store.hosts.register({ hostId, pool: 'web', availabilityZone: 'az-1', instanceId });
  const lock = await store.hostLock.acquire(hostId, executionId, leaseMs);
  await store.hosts.transition(
    { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId },
    lock,
  );
  return { hostId, instanceId, executionId, lock };
}

const current = (h: OwnedHost) => store.hosts.get(h.hostId);
const inWeb = (h: OwnedHost) =>
  elb
    .health(web)
    .filter((r) => r.id === h.instanceId)
    .map((r) => r.state);

async function takeOver(h: OwnedHost): Promise<void> {
  clock.advance(h.lock.expiresAtMs - clock.nowMs() + 1);
  await store.hostLock.acquire(h.hostId, `exec-successor-${h.hostId}`, 600_000);
}

describe('Class: CompositeDrainer', () => {
  it('drains by cordoning and deregistering, is drained once both are done, and undrains both', async () => {
    const h = await ownedHost();
    await drainer.drain(await current(h), h.executionId, h.lock);
    expect((await current(h)).cordoned).toBe(true);
    expect(inWeb(h)).toEqual(['draining']);
    expect(await drainer.isDrained(await current(h))).toBe(false);
    clock.advance(DEREGISTRATION_DELAY_MS);
    expect(await drainer.isDrained(await current(h))).toBe(true);

    await drainer.undrain(await current(h), h.executionId, h.lock);
    expect((await current(h)).cordoned).toBe(false);
    expect(inWeb(h)).toEqual(['healthy']);
    expect(await drainer.isDrained(await current(h))).toBe(false);
  });

  it('draining and undraining twice each has the effect of once', async () => {
    const h = await ownedHost();
    await drainer.drain(await current(h), h.executionId, h.lock);
    await drainer.drain(await current(h), h.executionId, h.lock);
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([true, ['draining']]);
    clock.advance(DEREGISTRATION_DELAY_MS);
    const registrations = elb.requestCount('RegisterTargets');
    await drainer.undrain(await current(h), h.executionId, h.lock);
    await drainer.undrain(await current(h), h.executionId, h.lock);
    expect(elb.requestCount('RegisterTargets')).toBe(registrations + 1);
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([false, ['healthy']]);
  });

  it('cordons before touching the load balancer: a failed deregistration leaves the host cordoned', async () => {
    const h = await ownedHost();
    elb.failNext('DeregisterTargets', 'Throttling', 2);
    await expect(drainer.drain(await current(h), h.executionId, h.lock)).rejects.toBeInstanceOf(
      LoadBalancerUnavailableError,
    );
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([true, ['healthy']]);
  });

  it('lifts the cordon last: a failed re-registration leaves the host cordoned', async () => {
    const h = await ownedHost();
    await drainer.drain(await current(h), h.executionId, h.lock);
    clock.advance(DEREGISTRATION_DELAY_MS);
    elb.failNext('RegisterTargets', 'Throttling', 2);
    await expect(drainer.undrain(await current(h), h.executionId, h.lock)).rejects.toBeInstanceOf(
      LoadBalancerUnavailableError,
    );
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([true, []]);
  });

  it('refuses a stale execution before it deregisters anything', async () => {
    const h = await ownedHost(10_000);
    await takeOver(h);
    const deregistrations = elb.requestCount('DeregisterTargets');
    await expect(drainer.drain(await current(h), h.executionId, h.lock)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(elb.requestCount('DeregisterTargets')).toBe(deregistrations);
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([false, ['healthy']]);
  });

  it('refuses a stale execution before it registers the host back into the load balancer', async () => {
    const h = await ownedHost(100_000);
    await drainer.drain(await current(h), h.executionId, h.lock);
    clock.advance(DEREGISTRATION_DELAY_MS);
    await takeOver(h);
    const registrations = elb.requestCount('RegisterTargets');
    await expect(drainer.undrain(await current(h), h.executionId, h.lock)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(elb.requestCount('RegisterTargets')).toBe(registrations);
    expect([(await current(h)).cordoned, inWeb(h)]).toEqual([true, []]);
  });

  it('refuses an empty list of drainers', () => {
    expect(() => new CompositeDrainer([])).toThrow(ValidationError);
  });
});
