/**
 * The operator API's decisions on DynamoDB Local: the principal is the authenticated caller, never the
 * payload's; a caller without a grant on the host's pool is refused, audited, and nothing runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { HostNotFoundError, NotAuthorizedError, ValidationError } from '../../../shared/domain/errors.js';
import {
  handleOperatorCall,
  OPERATOR_API_CHAIN,
  type OperatorActions,
  type OperatorApiDeps,
} from '../../../shared/operator/operator-api.js';
import { freshTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';

const ACCOUNT = '123456789012';
const WEB_OPS = `arn:aws:sts::${ACCOUNT}:assumed-role/WebOps/alice`;
const PLATFORM = `arn:aws:iam::${ACCOUNT}:user/platform`;
const STRANGER = `arn:aws:iam::${ACCOUNT}:user/eve`;

let store: Store;
const calls: { action: string; principal: string; input?: Record<string, unknown> }[] = [];
let deps: OperatorApiDeps;

const recorded =
  (action: keyof OperatorActions) => async (principal: string, input?: Record<string, unknown>) => {
    calls.push({ action, principal, ...(input === undefined ? {} : { input }) });
    return { done: action };
  };

beforeAll(async () => {
  store = (await freshTables()).store();
  await registerHost(store, 'web-1', 'web');
  await registerHost(store, 'db-1', 'db');
  deps = {
    grants: [
      { principals: [`arn:aws:iam::${ACCOUNT}:role/WebOps`], pools: ['web'] },
      { principals: [PLATFORM], pools: ['*'] },
    ],
    hosts: store.hosts,
    audit: store.audit,
    clock: new ManualClock(Date.UTC(2026, 11, 1)),
    actions: {
      start: recorded('start'),
      release: recorded('release'),
      register: recorded('register'),
      deregister: recorded('deregister'),
      sync: recorded('sync'),
      inventory: recorded('inventory'),
    },
  };
});

let request = 0;
const call = (callerArn: string, body: unknown) =>
  handleOperatorCall(deps, { callerArn, requestId: `req-${++request}`, body });

async function chain(chainId: string) {
  const records = [];
  for await (const r of store.audit.read(chainId)) records.push(r);
  return records;
}

describe('Operator API', () => {
  it('runs the action as the authenticated caller; a principal in the payload is dropped, not believed', async () => {
    calls.length = 0;
    const answer = await call(WEB_OPS, {
      action: 'start',
      hostId: 'web-1',
      reason: 'planned',
      requestId: 'r1',
      principal: 'arn:aws:iam::123456789012:user/ceo',
    });
    expect(answer).toEqual({ action: 'start', principal: WEB_OPS, result: { done: 'start' } });
    expect(calls).toEqual([
      { action: 'start', principal: WEB_OPS, input: { hostId: 'web-1', reason: 'planned', requestId: 'r1' } },
    ]);
  });

  it('refuses a caller on a pool they hold no grant for, audits it on the host chain, runs nothing', async () => {
    calls.length = 0;
    const before = (await chain('host#db-1')).length;
    await expect(call(WEB_OPS, { action: 'release', hostId: 'db-1', reason: 'x' })).rejects.toThrow(
      NotAuthorizedError,
    );
    expect(calls).toEqual([]);
    const records = await chain('host#db-1');
    expect(records).toHaveLength(before + 1);
    expect(records.at(-1)).toMatchObject({
      principal: WEB_OPS,
      outcome: 'refused',
      step: 'OperatorApi',
      trigger: 'operator',
      reason: `${WEB_OPS} may not release pool db`,
      detail: { action: 'release', pool: 'db' },
    });
    expect(await store.audit.verify('host#db-1')).toMatchObject({ ok: true });
  });

  it("runs a host's inventory for a grant on its pool only; a refusal is audited on the host chain", async () => {
    calls.length = 0;
    await expect(call(WEB_OPS, { action: 'inventory', hostId: 'db-1', adopt: '*' })).rejects.toThrow(
      NotAuthorizedError,
    );
    expect(calls).toEqual([]);
    expect((await chain('host#db-1')).at(-1)).toMatchObject({
      principal: WEB_OPS,
      outcome: 'refused',
      reason: `${WEB_OPS} may not inventory pool db`,
    });
    const answer = await call(WEB_OPS, { action: 'inventory', hostId: 'web-1', adopt: 'vm-a' });
    expect(answer).toEqual({ action: 'inventory', principal: WEB_OPS, result: { done: 'inventory' } });
    expect(calls).toEqual([
      { action: 'inventory', principal: WEB_OPS, input: { hostId: 'web-1', adopt: 'vm-a' } },
    ]);
  });

  it('refuses a caller no grant names, and a register into a pool not theirs, on the operator-api chain', async () => {
    calls.length = 0;
    await expect(
      call(STRANGER, { action: 'start', hostId: 'web-1', reason: 'x', requestId: 'r' }),
    ).rejects.toThrow(NotAuthorizedError);
    await expect(
      call(WEB_OPS, { action: 'register', hostId: 'db-2', instanceId: 'i-0123456789abcdef0', pool: 'db' }),
    ).rejects.toThrow(NotAuthorizedError);
    expect(calls).toEqual([]);
    const refusals = await chain(OPERATOR_API_CHAIN);
    expect(refusals.slice(-2).map((r) => [r.principal, r.outcome, r.detail?.['action']])).toEqual([
      [STRANGER, 'refused', 'start'],
      [WEB_OPS, 'refused', 'register'],
    ]);
  });

  it('sync needs a grant on every pool', async () => {
    calls.length = 0;
    await expect(call(WEB_OPS, { action: 'sync' })).rejects.toThrow(NotAuthorizedError);
    expect(await call(PLATFORM, { action: 'sync' })).toMatchObject({ principal: PLATFORM });
    expect(calls).toEqual([{ action: 'sync', principal: PLATFORM }]);
  });

  it('bad input and unknown hosts are refused plainly, with nothing audited or run', async () => {
    calls.length = 0;
    const audited = (await chain(OPERATOR_API_CHAIN)).length;
    for (const body of [undefined, 'start', [], { action: 'reboot', hostId: 'web-1' }, { hostId: 'web-1' }])
      await expect(call(WEB_OPS, body), JSON.stringify(body)).rejects.toThrow(ValidationError);
    await expect(call(WEB_OPS, { action: 'start', hostId: 'web 1; rm -rf /' })).rejects.toThrow(
      ValidationError,
    );
    await expect(call(WEB_OPS, { action: 'register', hostId: 'x', pool: '../db' })).rejects.toThrow(
      ValidationError,
    );
    await expect(call(WEB_OPS, { action: 'start', hostId: 'nope', reason: 'x' })).rejects.toThrow(
      HostNotFoundError,
    );
    await expect(handleOperatorCall(deps, { callerArn: '', requestId: 'r', body: {} })).rejects.toThrow(
      ValidationError,
    );
    expect(calls).toEqual([]);
    expect(await chain(OPERATOR_API_CHAIN)).toHaveLength(audited);
  });
});
