/**
 * Faults of the store under a running rejuvenation: DynamoDB Local stopped and started again (its
 * tables on disk), throttling, server errors whose writes did happen, and slow responses. The handlers
 * reach DynamoDB through a pass-through that injects the errors DynamoDB itself sends.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { addFleetHost, type FleetHost } from '../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../local/local-environment.js';
import type { RunningRequestCounter } from '../../local/request-counter.js';
import { startFaultEnvironment } from './support/fault-environment.js';
import { operatorStart, whenFinished as whenFinishedOn } from './support/fault-triggers.js';
import { checkInvariants, onRecord, type FaultVerdict } from './support/invariants.js';
import { injectFault } from './support/tally.js';

let env: LocalEnvironment;
let proxy: RunningRequestCounter;
let hostCount = 0;

beforeAll(async () => {
  env = await startFaultEnvironment({
    dynamoDbPath: mkdtempSync(join(tmpdir(), 'rejuv-ddb-')),
    // The deployed backoff (2 s doubling, 6 attempts) spans a minute; here 3 s between attempts (15 s)
    // spans a DynamoDB Local restart, JVM start included, even on a loaded machine (1.5 s did not, once,
    // with the JVM starting under a load of 8 on 2 cores).
    retryIntervalMs: 3000,
    // Long enough that retrying through a fault never outlives the lock, as with the deployed 2 h.
    coordinator: { leaseDuration: Duration.seconds(60) },
  });
  if (env.dynamoDbRequests === undefined) throw new Error('no DynamoDB pass-through');
  proxy = env.dynamoDbRequests;
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

async function newHost(): Promise<FleetHost> {
  hostCount += 1;
  return addFleetHost(env, {
    hostId: `sf-${hostCount}`,
    pool: `sf-pool-${hostCount}`,
    vms: [{ name: 'vm1' }, { name: 'vm2' }],
  });
}

const operator = (host: FleetHost) => operatorStart(env, host, 'store faults', 'store');
const whenFinished = (host: FleetHost, document: string, body: () => void | Promise<void>) =>
  whenFinishedOn(env, host, document, body);

function expectRejuvenated(verdict: FaultVerdict, executionName: string): void {
  const trail = verdict.records
    .map(
      (r) =>
        `${r.seq} ${r.step}:${r.outcome}${r.toState === undefined ? '' : `>${r.toState}`} ${(r.reason ?? '').slice(0, 200)}`,
    )
    .join('\n');
  expect(verdict.problems, `${verdict.ending}\n${trail}`).toEqual([]);
  expect(verdict.lostGuests + verdict.lostAuditRecords).toBe(0);
  // The store faults are all survivable by retrying: the run must complete, each step recorded once.
  expect(env.stepFunctions.execution(executionName)?.status).toBe('SUCCEEDED');
  const transitions = verdict.records.filter((r) => r.toState !== undefined).map((r) => r.toState);
  expect(new Set(transitions).size).toBe(transitions.length);
}

describe('Store faults during a rejuvenation', () => {
  it('DynamoDB Local stopped and restarted mid-execution', async () => {
    const fault = injectFault('DynamoDB Local stopped and restarted mid-execution');
    const host = await newHost();
    let restarted: Promise<void> | undefined;
    whenFinished(host, 'WarmReboot', () => {
      restarted = env.dynamoDb.restart(1000);
    });
    const name = await operator(host);
    await env.stepFunctions.execution(name)?.done;
    await restarted;
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: onRecord.recordedOnce,
    });
    expect(restarted).toBeDefined();
    expectRejuvenated(verdict, name);
  });

  it('DynamoDB throttles a burst of requests', async () => {
    const fault = injectFault('DynamoDB throttling burst');
    const host = await newHost();
    whenFinished(host, 'Preflight', () => proxy.failNext({ fault: 'throttle', count: 10 }));
    const before = proxy.faultsAnswered();
    const name = await operator(host);
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: onRecord.recordedOnce,
    });
    expect(proxy.faultsAnswered() - before).toBe(10);
    expectRejuvenated(verdict, name);
  });

  it('transactions fail with a server error after they were applied (the reply is lost)', async () => {
    const fault = injectFault('DynamoDB replies lost after the write (500 after commit)');
    const host = await newHost();
    whenFinished(host, 'Preflight', () =>
      proxy.failNext({
        fault: 'serverError',
        count: 6,
        operations: ['TransactWriteItems'],
        afterForwarding: true,
      }),
    );
    const before = proxy.faultsAnswered();
    const name = await operator(host);
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: onRecord.recordedOnce,
    });
    expect(proxy.faultsAnswered() - before).toBe(6);
    expectRejuvenated(verdict, name);
  });

  it('DynamoDB answers slowly (each of 8 requests held 2 s)', async () => {
    const fault = injectFault('DynamoDB responses delayed 2 s');
    const host = await newHost();
    whenFinished(host, 'Preflight', () => proxy.delayNext(8, 2000));
    const name = await operator(host);
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: onRecord.recordedOnce,
    });
    expectRejuvenated(verdict, name);
  });
});
