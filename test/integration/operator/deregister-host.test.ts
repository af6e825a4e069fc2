/** Deregistering a host as an operator, on DynamoDB Local: one conditional delete, the chain kept. */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  HostNotFoundError,
  HostOwnedByExecutionError,
  StaleHostStateError,
  ValidationError,
} from '../../../shared/domain/errors.js';
import { deregisterHost } from '../../../shared/operator/deregister-host.js';
import type { OperatorUseCaseDeps } from '../../../shared/operator/operator-deps.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { chainOf, OPERATOR, operatorDeps, placeIn, snapshot } from './operator-support.js';

let t: TestTables;
let deps: OperatorUseCaseDeps;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  deps = operatorDeps(t, new ManualClock(Date.UTC(2026, 10, 25)));
});

async function newHost(): Promise<string> {
  const hostId = `dereg-${++n}`;
  await registerHost(t.store(), hostId);
  return hostId;
}

describe('Use case: deregisterHost', () => {
  it('removes an IN_SERVICE host and keeps its chain, which says who and why', async () => {
    const hostId = await newHost();
    const result = await deregisterHost(deps, OPERATOR, { hostId, reason: 'decommissioned: ticket 7' });
    expect(result).toMatchObject({ hostId, replayed: false, host: { hostId, state: 'IN_SERVICE' } });
    await expect(deps.hosts.get(hostId)).rejects.toThrow(HostNotFoundError);
    const chain = await chainOf(t, hostId);
    expect(chain.map((r) => [r.outcome, r.principal, r.trigger, r.fromState, r.reason])).toEqual([
      ['started', OPERATOR, 'operator', 'IN_SERVICE', 'decommissioned: ticket 7'],
      ['succeeded', OPERATOR, 'operator', 'IN_SERVICE', 'decommissioned: ticket 7'],
    ]);
    expect(await deps.audit.verify(`host#${hostId}`)).toMatchObject({ ok: true, length: 2 });
  });

  it('removes a QUARANTINED host, naming the execution that quarantined it', async () => {
    const hostId = await newHost();
    await placeIn(t, hostId, 'QUARANTINED', 9);
    await deregisterHost(deps, OPERATOR, { hostId, reason: 'hardware fault' });
    await expect(deps.hosts.get(hostId)).rejects.toThrow(HostNotFoundError);
    expect((await chainOf(t, hostId)).at(-1)?.detail).toMatchObject({
      quarantinedBy: 'op-h-0123456789abcdef',
      stateVersion: 9,
    });
  });

  it.each(['ADMITTED', 'SUSPENDING', 'RECOVERING'] as const)(
    'refuses a host %s (owned by an execution), naming the state, and writes nothing',
    async (state) => {
      const hostId = await newHost();
      await placeIn(t, hostId, state, 4);
      const before = await snapshot(t, hostId);
      const refused = deregisterHost(deps, OPERATOR, { hostId, reason: 'r' });
      await expect(refused).rejects.toThrow(HostOwnedByExecutionError);
      await expect(refused).rejects.toThrow(`is ${state}, owned by execution op-h-0123456789abcdef`);
      expect(await snapshot(t, hostId)).toEqual(before);
    },
  );

  it.each([
    ['no reason', { hostId: 'dereg-bad' }],
    ['a blank reason', { hostId: 'dereg-bad', reason: ' ' }],
    ['an unknown field', { hostId: 'dereg-bad', reason: 'r', force: true }],
  ])('refuses %s and writes nothing', async (_, input) => {
    await registerHost(t.store(), 'dereg-bad').catch(() => undefined);
    const before = await snapshot(t, 'dereg-bad');
    await expect(deregisterHost(deps, OPERATOR, input)).rejects.toThrow(ValidationError);
    expect(await snapshot(t, 'dereg-bad')).toEqual(before);
    expect(before.item).toBeDefined();
  });

  it('refuses an unknown host', async () => {
    await expect(deregisterHost(deps, OPERATOR, { hostId: 'nowhere', reason: 'r' })).rejects.toThrow(
      HostNotFoundError,
    );
    expect(await chainOf(t, 'nowhere')).toEqual([]);
  });

  it('a retry after success appends nothing; a crash before the last record is completed once', async () => {
    const hostId = await newHost();
    await deregisterHost(deps, OPERATOR, { hostId, reason: 'gone' });
    const before = await snapshot(t, hostId);
    expect(await deregisterHost(deps, OPERATOR, { hostId, reason: 'gone' })).toEqual({
      hostId,
      replayed: true,
    });
    expect(await snapshot(t, hostId)).toEqual(before);

    const crashed = await newHost();
    let crash = true;
    const crashing: OperatorUseCaseDeps = {
      ...deps,
      audit: new Proxy(deps.audit, {
        get: (target, prop, receiver) =>
          prop === 'append'
            ? (chainId: string, event: Parameters<typeof target.append>[1]) => {
                if (crash && event.outcome === 'succeeded') {
                  crash = false;
                  return Promise.reject(new Error('Runtime exited'));
                }
                return target.append(chainId, event);
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(deregisterHost(crashing, OPERATOR, { hostId: crashed, reason: 'gone' })).rejects.toThrow(
      'Runtime exited',
    );
    expect(await deregisterHost(deps, OPERATOR, { hostId: crashed, reason: 'gone' })).toEqual({
      hostId: crashed,
      replayed: true,
    });
    expect((await chainOf(t, crashed)).map((r) => r.outcome)).toEqual(['started', 'succeeded']);
    // Someone else's request for a host already gone is not a retry: it is told the host is unknown.
    await expect(deregisterHost(deps, 'bob', { hostId: crashed, reason: 'gone' })).rejects.toThrow(
      HostNotFoundError,
    );
  });

  it('a host moved between the read and the delete stays, and the chain says it was not removed', async () => {
    const hostId = await newHost();
    const racing: OperatorUseCaseDeps = {
      ...deps,
      hosts: new Proxy(deps.hosts, {
        get: (target, prop, receiver) =>
          prop === 'deregister'
            ? async (id: string, version: number) => {
                // An execution admits the host meanwhile.
                await t.documents.send(
                  new UpdateCommand({
                    TableName: t.tables.hosts,
                    Key: { hostId: id },
                    UpdateExpression: 'SET #s = :s, stateVersion = :v, executionId = :e',
                    ExpressionAttributeNames: { '#s': 'state' },
                    ExpressionAttributeValues: { ':s': 'ADMITTED', ':v': version + 1, ':e': 'exec-racer' },
                  }),
                );
                return target.deregister(id, version);
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(deregisterHost(racing, OPERATOR, { hostId, reason: 'r' })).rejects.toThrow(
      StaleHostStateError,
    );
    expect(await deps.hosts.get(hostId)).toMatchObject({ state: 'ADMITTED', executionId: 'exec-racer' });
    const chain = await chainOf(t, hostId);
    expect(chain.map((r) => r.outcome)).toEqual(['started', 'skipped']);
    expect(chain[1]?.reason).toMatch(/^not deregistered: host .* is ADMITTED@v1 owned by exec-racer/);
  });
});
