import { AddTagsCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  localElbv2Client,
  startLocalElbv2Endpoint,
  type RunningLocalElbv2,
} from '../../../local/elbv2-endpoint.js';
import { drainRecordTagKey } from '../../../shared/adapters/elbv2/elbv2-drain-record.js';
import { Elbv2Drainer } from '../../../shared/adapters/elbv2/elbv2-drainer.js';
import {
  LoadBalancerUnavailableError,
  TargetGroupNotFoundError,
} from '../../../shared/adapters/elbv2/elbv2-errors.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { CorruptItemError, ValidationError } from '../../../shared/domain/errors.js';
import { HostSchema, type Host } from '../../../shared/domain/host.js';
import type { Lease } from '../../../shared/domain/lease.js';

const HOST_INSTANCE = 'i-0123456789abcdef0';
const NEIGHBOUR = 'i-0fedcba9876543210';
const DEREGISTRATION_DELAY_MS = 30_000;
const HEALTHY_AFTER_MS = 5_000;

let clock: ManualClock;
let elb: RunningLocalElbv2;
let client: ElasticLoadBalancingV2Client;
let arns: { web: string; api: string; admin: string };
let drainer: Elbv2Drainer;

// ELBv2 calls are not fenced by the lock (CompositeDrainer fences them); any values do here.
const executionId = 'exec-elb';
const lock: Lease = { resource: 'host#elb-host', owner: executionId, fencingToken: 1, expiresAtMs: 0 };

function host(instanceId: string = HOST_INSTANCE): Host {
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return HostSchema.parse({
    hostId: 'elb-host',
    pool: 'web',
    availabilityZone: 'az-1',
    instanceId,
    state: 'ADMITTED',
    stateVersion: 1,
    executionId,
    cordoned: true,
    tags: {},
    createdAt: at,
    updatedAt: at,
  });
}

beforeEach(async () => {
  clock = new ManualClock();
  // The host serves `web` on two ports and `api` on one; `admin` is a group it has never been in.
  elb = await startLocalElbv2Endpoint({
    targetGroups: {
      web: [HOST_INSTANCE, { id: HOST_INSTANCE, port: 8080 }, NEIGHBOUR],
      api: [HOST_INSTANCE],
      admin: [NEIGHBOUR],
    },
    deregistrationDelayMs: DEREGISTRATION_DELAY_MS,
    healthyAfterMs: HEALTHY_AFTER_MS,
    clock,
  });
  client = localElbv2Client(elb.endpoint);
  arns = {
    web: elb.targetGroupArn('web'),
    api: elb.targetGroupArn('api'),
    admin: elb.targetGroupArn('admin'),
  };
  drainer = new Elbv2Drainer(client, [arns.web, arns.api, arns.admin]);
});

afterEach(async () => {
  client.destroy();
  await elb.stop();
});

const hostRegistrations = (arn: string) => elb.health(arn).filter((r) => r.id === HOST_INSTANCE);

describe('Class: Elbv2Drainer', () => {
  describe('Method: drain', () => {
    it('deregisters the host on every port of every group it serves, and nothing else', async () => {
      await drainer.drain(host(), executionId, lock);
      expect(hostRegistrations(arns.web)).toEqual([
        { id: HOST_INSTANCE, port: 80, state: 'draining' },
        { id: HOST_INSTANCE, port: 8080, state: 'draining' },
      ]);
      expect(hostRegistrations(arns.api)).toEqual([{ id: HOST_INSTANCE, port: 80, state: 'draining' }]);
      expect(elb.health(arns.web)).toContainEqual({ id: NEIGHBOUR, port: 80, state: 'healthy' });
      expect(elb.health(arns.admin)).toEqual([{ id: NEIGHBOUR, port: 80, state: 'healthy' }]);
    });

    it('records on each group it drained which ports the host had, and on no other group', async () => {
      await drainer.drain(host(), executionId, lock);
      const key = drainRecordTagKey(HOST_INSTANCE);
      expect(elb.tags(arns.web)).toEqual({ [key]: '80 8080' });
      expect(elb.tags(arns.api)).toEqual({ [key]: '80' });
      expect(elb.tags(arns.admin)).toEqual({});
    });

    it('draining twice deregisters once, during and after the deregistration delay', async () => {
      await drainer.drain(host(), executionId, lock);
      const deregistrations = elb.requestCount('DeregisterTargets');
      const tags = { web: elb.tags(arns.web), api: elb.tags(arns.api) };
      await drainer.drain(host(), executionId, lock);
      clock.advance(DEREGISTRATION_DELAY_MS);
      await drainer.drain(host(), executionId, lock);
      expect(elb.requestCount('DeregisterTargets')).toBe(deregistrations);
      expect({ web: elb.tags(arns.web), api: elb.tags(arns.api) }).toEqual(tags);
    });
  });

  describe('Method: isDrained', () => {
    it('is false while the host is registered or draining, and true once the delay has run out', async () => {
      expect(await drainer.isDrained(host())).toBe(false);
      await drainer.drain(host(), executionId, lock);
      expect(await drainer.isDrained(host())).toBe(false);
      clock.advance(DEREGISTRATION_DELAY_MS - 1);
      expect(await drainer.isDrained(host())).toBe(false);
      clock.advance(1);
      expect(await drainer.isDrained(host())).toBe(true);
    });

    it('is true at once for a host that no configured group knows', async () => {
      expect(await drainer.isDrained(host('i-00000000000000bad'))).toBe(true);
    });
  });

  describe('Method: undrain', () => {
    it('registers the host back only where it was, on the same ports, and forgets the records', async () => {
      await drainer.drain(host(), executionId, lock);
      clock.advance(DEREGISTRATION_DELAY_MS);
      await drainer.undrain(host(), executionId, lock);
      expect(hostRegistrations(arns.web)).toEqual([
        { id: HOST_INSTANCE, port: 80, state: 'initial' },
        { id: HOST_INSTANCE, port: 8080, state: 'initial' },
      ]);
      expect(hostRegistrations(arns.api)).toEqual([{ id: HOST_INSTANCE, port: 80, state: 'initial' }]);
      expect(hostRegistrations(arns.admin)).toEqual([]);
      expect([elb.tags(arns.web), elb.tags(arns.api)]).toEqual([{}, {}]);
      clock.advance(HEALTHY_AFTER_MS);
      expect(hostRegistrations(arns.web).map((r) => r.state)).toEqual(['healthy', 'healthy']);
      expect(await drainer.isDrained(host())).toBe(false);
    });

    it('undraining twice registers once', async () => {
      await drainer.drain(host(), executionId, lock);
      clock.advance(DEREGISTRATION_DELAY_MS);
      await drainer.undrain(host(), executionId, lock);
      const registrations = elb.requestCount('RegisterTargets');
      const health = { web: elb.health(arns.web), api: elb.health(arns.api) };
      await drainer.undrain(host(), executionId, lock);
      expect(elb.requestCount('RegisterTargets')).toBe(registrations);
      expect({ web: elb.health(arns.web), api: elb.health(arns.api) }).toEqual(health);
    });

    it('puts back a host that is still draining (compensation right after a drain)', async () => {
      await drainer.drain(host(), executionId, lock);
      await drainer.undrain(host(), executionId, lock);
      expect(hostRegistrations(arns.web).map((r) => r.state)).toEqual(['initial', 'initial']);
      expect(hostRegistrations(arns.api).map((r) => r.state)).toEqual(['initial']);
    });

    it('registers nothing for a host that was never drained (compensation before the drain)', async () => {
      const before = { web: elb.health(arns.web), api: elb.health(arns.api), admin: elb.health(arns.admin) };
      await drainer.undrain(host(), executionId, lock);
      expect(elb.requestCount('RegisterTargets')).toBe(0);
      expect({ web: elb.health(arns.web), api: elb.health(arns.api), admin: elb.health(arns.admin) }).toEqual(
        before,
      );
    });

    it('refuses a drain record that was edited into something else, rather than guessing', async () => {
      await client.send(
        new AddTagsCommand({
          ResourceArns: [arns.api],
          Tags: [{ Key: drainRecordTagKey(HOST_INSTANCE), Value: 'eighty' }],
        }),
      );
      await expect(drainer.undrain(host(), executionId, lock)).rejects.toBeInstanceOf(CorruptItemError);
    });
  });

  describe('Errors', () => {
    it('lets the SDK retry one throttled call: the drain succeeds with one extra request', async () => {
      elb.failNext('DescribeTargetHealth', 'Throttling', 1);
      await drainer.drain(host(), executionId, lock);
      expect(elb.requestCount('DescribeTargetHealth')).toBe(3 + 1);
      expect(hostRegistrations(arns.api)).toEqual([{ id: HOST_INSTANCE, port: 80, state: 'draining' }]);
    });

    it('surfaces throttling that outlasts the SDK retries as retryable LoadBalancerUnavailableError', async () => {
      const twoAttempts = localElbv2Client(elb.endpoint, { maxAttempts: 2 });
      try {
        const impatient = new Elbv2Drainer(twoAttempts, [arns.web]);
        elb.failNext('DeregisterTargets', 'Throttling', 2);
        const attempt = impatient.drain(host(), executionId, lock);
        await expect(attempt).rejects.toBeInstanceOf(LoadBalancerUnavailableError);
        await expect(attempt).rejects.toMatchObject({
          retryable: true,
          code: 'Throttling',
          operation: 'DeregisterTargets',
          targetGroupArn: arns.web,
        });
        expect(elb.requestCount('DeregisterTargets')).toBe(2);
        // The state machine's retry of the step completes the drain.
        expect(hostRegistrations(arns.web).map((r) => r.state)).toEqual(['healthy', 'healthy']);
        await impatient.drain(host(), executionId, lock);
        expect(hostRegistrations(arns.web).map((r) => r.state)).toEqual(['draining', 'draining']);
        expect(elb.tags(arns.web)).toEqual({ [drainRecordTagKey(HOST_INSTANCE)]: '80 8080' });
      } finally {
        twoAttempts.destroy();
      }
    });

    it('records before it deregisters: when the record cannot be written, nothing is deregistered', async () => {
      const twoAttempts = localElbv2Client(elb.endpoint, { maxAttempts: 2 });
      try {
        elb.failNext('AddTags', 'Throttling', 2);
        const attempt = new Elbv2Drainer(twoAttempts, [arns.web]).drain(host(), executionId, lock);
        await expect(attempt).rejects.toMatchObject({
          name: 'LoadBalancerUnavailableError',
          operation: 'AddTags',
        });
        expect(elb.requestCount('DeregisterTargets')).toBe(0);
        expect(hostRegistrations(arns.web).map((r) => r.state)).toEqual(['healthy', 'healthy']);
      } finally {
        twoAttempts.destroy();
      }
    });

    it('names a configured target group that does not exist, not retryable', async () => {
      const gone = arns.web.replace(/\/[0-9a-f]{16}$/, '/0000000000000000');
      const attempt = new Elbv2Drainer(client, [gone]).drain(host(), executionId, lock);
      await expect(attempt).rejects.toBeInstanceOf(TargetGroupNotFoundError);
      await expect(attempt).rejects.toMatchObject({ retryable: false, targetGroupArn: gone });
    });

    it('refuses a target id mapping that yields nothing', async () => {
      const unmapped = new Elbv2Drainer(client, [arns.web], () => '');
      await expect(unmapped.drain(host(), executionId, lock)).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('Constructor', () => {
    it('refuses no target groups, a malformed ARN and a repeated one', () => {
      expect(() => new Elbv2Drainer(client, [])).toThrow(ValidationError);
      expect(() => new Elbv2Drainer(client, ['targetgroup/web'])).toThrow(ValidationError);
      expect(() => new Elbv2Drainer(client, [arns.web, arns.web])).toThrow(ValidationError);
    });
  });
});
