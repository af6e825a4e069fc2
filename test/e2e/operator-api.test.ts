/**
 * The operator API end to end, as deployed: requests signed with SigV4 reach the function URL, which
 * verifies them and authorizes lambda:InvokeFunctionUrl under local IAM, then the OperatorApi bundle runs
 * under its own role against lab hosts. The principal is the signer; pools are enforced and refusals
 * audited; release runs the real Preflight and Verify documents on the host.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import type { LocalIdentity } from '../../local/iam/local-iam.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { LOCAL_ACCOUNT } from '../../local/step-functions/synthesized-workflow.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/document-client.js';
import { auditChain, finished } from './support/execution.js';
import { addFleetHost, type FleetHost } from './support/local-fleet.js';

let env: LocalEnvironment;
let web: FleetHost;
let db: FleetHost;
/** Granted the pool `web` only by the construct's props. */
let webOperator: LocalIdentity;
/** A user of the account no grant names (and no policy lets invoke the URL). */
let stranger: LocalIdentity;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      defaultMaxHostsInMaintenance: 3,
      operators: [{ principals: [`arn:aws:iam::${LOCAL_ACCOUNT}:user/web-operator`], pools: ['web'] }],
    },
    waitMs: 100,
  });
  webOperator = env.iam.createUser('web-operator', []);
  stranger = env.iam.createUser('stranger', []);
  [web, db] = await Promise.all([
    addFleetHost(env, { hostId: 'api-web-1', pool: 'web', vms: [{ name: 'vm1' }] }),
    addFleetHost(env, { hostId: 'api-db-1', pool: 'db', vms: [{ name: 'vm1' }] }),
  ]);
});

// Every call the functions made was one their deployed roles may make (the people refused here are meant to be).
afterEach(() => {
  expect(env.iam.refusals().filter((r) => r.principalArn.includes(':assumed-role/'))).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

/** Puts a host in QUARANTINED as a failed execution would have left it (an administrator's write). */
async function quarantine(hostId: string): Promise<void> {
  const host = await env.store.hosts.get(hostId);
  await createDocumentClient(env.client).send(
    new PutCommand({
      TableName: env.tables.hosts,
      Item: {
        ...host,
        state: 'QUARANTINED',
        stateVersion: host.stateVersion + 1,
        executionId: 'op-h-0123456789abcdef',
        quarantineReason: 'compensation could not reach the host',
      },
    }),
  );
}

describe('Operator API (function URL, AuthType AWS_IAM)', () => {
  it('records the signer as the principal: a principal in the payload is ignored', async () => {
    const answer = await env.operatorApi.send(
      {
        action: 'start',
        hostId: web.hostId,
        reason: 'planned',
        requestId: 'forged-principal',
        dryRun: true,
        principal: 'arn:aws:iam::000000000000:user/ceo',
      },
      webOperator,
    );
    expect(answer.status).toBe(200);
    const body = answer.body as { principal: string; result: { executionName: string } };
    expect(body.principal).toBe(webOperator.principalArn);
    await finished(env, body.result.executionName);
    const records = (await auditChain(env, web.hostId)).filter(
      (r) => r.executionId?.endsWith(body.result.executionName) === true,
    );
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.principal))).toEqual(new Set([webOperator.principalArn]));
  });

  it('refuses a pool the caller holds no grant for, audits it on the host chain, starts nothing', async () => {
    const before = await auditChain(env, db.hostId);
    const answer = await env.operatorApi.send(
      { action: 'start', hostId: db.hostId, reason: 'not mine', requestId: 'other-pool' },
      webOperator,
    );
    expect(answer).toMatchObject({ status: 403, body: { error: 'NotAuthorizedError' } });
    const after = await auditChain(env, db.hostId);
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatchObject({
      principal: webOperator.principalArn,
      outcome: 'refused',
      step: 'OperatorApi',
      detail: { action: 'start', pool: 'db' },
    });
    expect(env.stepFunctions.execution(`op-${db.hostId}`)).toBeUndefined();
    expect((await env.store.hosts.get(db.hostId)).state).toBe('IN_SERVICE');
  });

  it('a caller the function URL does not let in gets AWS\u2019s 403, and the function never runs', async () => {
    const invoked = env.operatorApi.requests().length;
    const before = await auditChain(env, web.hostId);
    const answer = await env.operatorApi.send(
      { action: 'start', hostId: web.hostId, reason: 'x', requestId: 'stranger' },
      stranger,
    );
    expect(answer).toEqual({ status: 403, body: { Message: 'Forbidden' } });
    const unsigned = await fetch(env.operatorApi.url, {
      method: 'POST',
      body: JSON.stringify({ action: 'sync' }),
    });
    expect(unsigned.status).toBe(403);
    const forged = await env.operatorApi.send(
      { action: 'sync' },
      { ...webOperator, secretAccessKey: 'guess' },
    );
    expect(forged.status).toBe(403);
    const records = env.operatorApi.requests().slice(invoked);
    expect(records.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(await auditChain(env, web.hostId)).toHaveLength(before.length);
  });

  it('syncing needs a grant on every pool', async () => {
    expect(await env.operatorApi.send({ action: 'sync' }, webOperator)).toMatchObject({
      status: 403,
      body: { error: 'NotAuthorizedError' },
    });
    expect(await env.operatorApi.send({ action: 'sync' })).toMatchObject({
      status: 200,
      body: { principal: env.operatorApi.operator.principalArn },
    });
  });

  it('registers and deregisters a host in a pool of theirs, audited under their ARN; refuses bad input and other pools', async () => {
    const register = {
      action: 'register',
      hostId: 'api-new-1',
      instanceId: 'mi-0000000000000beef',
      pool: 'web',
    };
    expect(await env.operatorApi.send({ ...register, pool: 'db' }, webOperator)).toMatchObject({
      status: 403,
    });
    for (const bad of [
      { ...register, instanceId: 'i-$(reboot)' },
      { ...register, hostId: '../etc' },
      { ...register, unexpected: true },
    ])
      expect(await env.operatorApi.send(bad, webOperator), JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { error: 'ValidationError' },
      });
    await expect(env.store.hosts.get('api-new-1')).rejects.toThrow();

    expect(await env.operatorApi.send(register, webOperator)).toMatchObject({ status: 200 });
    expect(await env.store.hosts.get('api-new-1')).toMatchObject({ pool: 'web', state: 'IN_SERVICE' });
    expect(
      await env.operatorApi.send({ ...register, instanceId: 'mi-0000000000000cafe' }, webOperator),
    ).toMatchObject({ status: 409, body: { error: 'HostAlreadyRegisteredError' } });
    expect(
      await env.operatorApi.send({ action: 'deregister', hostId: 'api-new-1' }, webOperator),
    ).toMatchObject({ status: 400 });
    expect(
      await env.operatorApi.send(
        { action: 'deregister', hostId: 'api-new-1', reason: 'test host, decommissioned' },
        webOperator,
      ),
    ).toMatchObject({ status: 200 });
    await expect(env.store.hosts.get('api-new-1')).rejects.toThrow();
    const chain = await auditChain(env, 'api-new-1');
    expect(chain.map((r) => [r.step, r.outcome, r.principal])).toEqual([
      ['RegisterHost', 'started', webOperator.principalArn],
      ['RegisterHost', 'succeeded', webOperator.principalArn],
      ['DeregisterHost', 'started', webOperator.principalArn],
      ['DeregisterHost', 'succeeded', webOperator.principalArn],
    ]);
  });

  it('releases a quarantined host only once Preflight and Verify pass on it', async () => {
    const notQuarantined = await env.operatorApi.send(
      { action: 'release', hostId: web.hostId, reason: 'checked by hand' },
      webOperator,
    );
    expect(notQuarantined).toMatchObject({ status: 409, body: { error: 'HostNotQuarantinedError' } });

    await quarantine(web.hostId);
    const before = await auditChain(env, web.hostId);
    expect(await env.operatorApi.send({ action: 'release', hostId: web.hostId }, webOperator)).toMatchObject({
      status: 400,
      body: { error: 'ValidationError' },
    });
    expect(await auditChain(env, web.hostId)).toHaveLength(before.length);

    const released = await env.operatorApi.send(
      { action: 'release', hostId: web.hostId, reason: 'host rebooted by hand; guests fine' },
      webOperator,
    );
    expect(released.status).toBe(200);
    const checks = (released.body as { result: { checks: { check: string; passed: boolean }[] } }).result
      .checks;
    expect(checks.map((c) => [c.check, c.passed])).toEqual([
      ['Preflight', true],
      ['Verify', true],
    ]);
    expect(await env.store.hosts.get(web.hostId)).toMatchObject({ state: 'IN_SERVICE' });
    expect(
      (await env.store.hosts.get(web.hostId)).quarantineReason,
      'the quarantine reason is cleared',
    ).toBeUndefined();
    const records = (await auditChain(env, web.hostId)).slice(before.length);
    expect(records.every((r) => r.principal === webOperator.principalArn)).toBe(true);
    expect(records.at(-1)).toMatchObject({
      step: 'ReleaseHost',
      outcome: 'succeeded',
      toState: 'IN_SERVICE',
    });
  });

  it('keeps a host quarantined when a check fails on it, saying which; --force releases it, audited as forced', async () => {
    await quarantine(db.hostId);
    const vm = [...db.lab.vms.values()][0];
    if (vm === undefined) throw new Error('no VM');
    process.kill(await vmPid(vm.argv), 'SIGKILL');

    const refused = await env.operatorApi.send({
      action: 'release',
      hostId: db.hostId,
      reason: 'looks fine to me',
    });
    expect(refused).toMatchObject({ status: 409, body: { error: 'ReleaseCheckFailedError' } });
    expect((refused.body as { message: string }).message).toMatch(/Preflight/);
    expect(await env.store.hosts.get(db.hostId)).toMatchObject({ state: 'QUARANTINED' });

    const forced = await env.operatorApi.send({
      action: 'release',
      hostId: db.hostId,
      reason: 'vm1 decommissioned; host needed back',
      force: true,
    });
    expect(forced).toMatchObject({ status: 200, body: { result: { forced: true, checks: [] } } });
    expect(await env.store.hosts.get(db.hostId)).toMatchObject({ state: 'IN_SERVICE' });
    expect((await auditChain(env, db.hostId)).at(-1)).toMatchObject({
      step: 'ReleaseHost',
      outcome: 'succeeded',
      principal: env.operatorApi.operator.principalArn,
      detail: expect.objectContaining({ forced: true }),
    });
  });
});
