/** Registering a host as an operator, on DynamoDB Local: checked first, audited before and after. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import { HostAlreadyRegisteredError, ValidationError } from '../../../shared/domain/errors.js';
import { deregisterHost } from '../../../shared/operator/deregister-host.js';
import type { OperatorUseCaseDeps } from '../../../shared/operator/operator-deps.js';
import { registerHost } from '../../../shared/operator/register-host.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { chainOf, OPERATOR, operatorDeps, snapshot } from './operator-support.js';

let t: TestTables;
let deps: OperatorUseCaseDeps;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  deps = operatorDeps(t, new ManualClock(Date.UTC(2026, 10, 25)));
});

const nextHost = () => {
  n += 1;
  return { hostId: `reg-${n}`, instanceId: `mi-${String(n).padStart(17, '0')}`, pool: 'web' };
};

describe('Use case: registerHost', () => {
  it('registers the host IN_SERVICE, its zone unknown when not given, audited as the operator', async () => {
    const input = nextHost();
    const { host, replayed } = await registerHost(deps, OPERATOR, input);
    expect(replayed).toBe(false);
    expect(host).toMatchObject({
      ...input,
      availabilityZone: 'unknown',
      state: 'IN_SERVICE',
      stateVersion: 0,
    });
    expect(await deps.hosts.get(input.hostId)).toEqual(host);
    const chain = await chainOf(t, input.hostId);
    expect(chain.map((r) => [r.eventId, r.outcome, r.principal, r.trigger, r.step])).toEqual([
      [`operator:register:${input.hostId}:0`, 'started', OPERATOR, 'operator', 'RegisterHost'],
      [`operator:register:${input.hostId}:0:done`, 'succeeded', OPERATOR, 'operator', 'RegisterHost'],
    ]);
    expect(chain[1]?.detail).toEqual({
      change: 'register',
      instanceId: input.instanceId,
      pool: 'web',
      availabilityZone: 'unknown',
    });
  });

  it.each([
    ['a malformed request', { hostId: 'bad id', instanceId: 'mi-00000000000000999', pool: 'web' }, OPERATOR],
    [
      'an unknown field',
      { hostId: 'reg-x', instanceId: 'mi-00000000000000999', pool: 'web', state: 'QUARANTINED' },
      OPERATOR,
    ],
    [
      'a malformed principal',
      { hostId: 'reg-x', instanceId: 'mi-00000000000000999', pool: 'web' },
      'alice smith',
    ],
  ])('refuses %s and writes nothing', async (_, input, principal) => {
    const before = await snapshot(t, 'reg-x');
    await expect(registerHost(deps, principal, input)).rejects.toThrow(ValidationError);
    expect(await snapshot(t, 'reg-x')).toEqual(before);
    expect(before.item).toBeUndefined();
  });

  it('refuses an id already registered and writes nothing, not even an intent', async () => {
    const input = nextHost();
    await registerHost(deps, OPERATOR, input);
    const before = await snapshot(t, input.hostId);
    const other = { ...input, instanceId: 'mi-0000000000000ffff', pool: 'db' };
    await expect(registerHost(deps, OPERATOR, other)).rejects.toThrow(HostAlreadyRegisteredError);
    // The same request from another principal is not this principal's retry either.
    await expect(registerHost(deps, 'someone-else', input)).rejects.toThrow(HostAlreadyRegisteredError);
    expect(await snapshot(t, input.hostId)).toEqual(before);
  });

  it('a retry after success returns the host and appends nothing', async () => {
    const input = { ...nextHost(), availabilityZone: 'eu-west-1a' };
    const first = await registerHost(deps, OPERATOR, input);
    const before = await snapshot(t, input.hostId);
    expect(await registerHost(deps, OPERATOR, input)).toEqual({ host: first.host, replayed: true });
    expect(await snapshot(t, input.hostId)).toEqual(before);
  });

  it('a crash between the write and its record: the retry completes the record once', async () => {
    const input = nextHost();
    let crash = true;
    const crashing: OperatorUseCaseDeps = {
      ...deps,
      audit: new Proxy(deps.audit, {
        get: (target, prop, receiver) =>
          prop === 'append'
            ? (chainId: string, event: { eventId: string }) => {
                if (crash && event.eventId.endsWith(':done')) {
                  crash = false;
                  return Promise.reject(new Error('Runtime exited'));
                }
                return target.append(chainId, event as Parameters<typeof target.append>[1]);
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(registerHost(crashing, OPERATOR, input)).rejects.toThrow('Runtime exited');
    expect((await chainOf(t, input.hostId)).map((r) => r.outcome)).toEqual(['started']);
    expect((await registerHost(deps, OPERATOR, input)).replayed).toBe(false);
    expect((await chainOf(t, input.hostId)).map((r) => r.outcome)).toEqual(['started', 'succeeded']);
  });

  it('a registration racing another one with other values loses the conditional write', async () => {
    const input = nextHost();
    const racing: OperatorUseCaseDeps = {
      ...deps,
      hosts: new Proxy(deps.hosts, {
        get: (target, prop, receiver) =>
          prop === 'register'
            ? async (registration: Parameters<typeof target.register>[0]) => {
                // Someone else (the host sync) registers the id between the check and the write.
                await target.register({ ...registration, instanceId: 'mi-0000000000000eeee' });
                return target.register(registration);
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(registerHost(racing, OPERATOR, input)).rejects.toThrow(HostAlreadyRegisteredError);
    expect((await deps.hosts.get(input.hostId)).instanceId).toBe('mi-0000000000000eeee');
    expect((await chainOf(t, input.hostId)).map((r) => r.outcome)).toEqual(['started']);
  });

  it('registers an id again after it was deregistered, with records of its own', async () => {
    const input = nextHost();
    await registerHost(deps, OPERATOR, input);
    await deregisterHost(deps, OPERATOR, { hostId: input.hostId, reason: 'moved racks' });
    const again = await registerHost(deps, OPERATOR, input);
    expect(again.replayed).toBe(false);
    const chain = await chainOf(t, input.hostId);
    expect(chain.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'RegisterHost:started',
      'RegisterHost:succeeded',
      'DeregisterHost:started',
      'DeregisterHost:succeeded',
      'RegisterHost:started',
      'RegisterHost:succeeded',
    ]);
    expect(chain[4]?.eventId).toBe(`operator:register:${input.hostId}:4`);
    expect(await t.store().audit.verify(`host#${input.hostId}`)).toMatchObject({ ok: true });
  });
});
