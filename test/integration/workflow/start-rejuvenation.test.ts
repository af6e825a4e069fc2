/**
 * The triggers' use cases on the real store. The execution starter is a double that behaves like
 * Step Functions for names (same name and input: nothing new) and can fail once, as a throttled or
 * crashed start would.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import type { ExecutionStarter, StartedExecution } from '../../../shared/ports/execution-starter.js';
import {
  startFromAlarm,
  startFromOperator,
  type TriggerDeps,
} from '../../../shared/workflow/start-rejuvenation.js';
import { agingAlarmEvent } from '../../../local/lab-fleet.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { admit } from '../../../shared/workflow/admit.js';
import { freshTables } from '../../support/dynamodb.js';
import { workflowDeps } from '../../support/workflow-deps.js';

class NamedExecutions implements ExecutionStarter {
  readonly started = new Map<string, string>();
  failNext = false;

  async start(executionName: string, input: unknown): Promise<StartedExecution> {
    if (this.failNext) {
      this.failNext = false;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    const executionArn = `arn:aws:states:local:000000000000:execution:rejuv:${executionName}`;
    if (this.started.has(executionName)) return { executionArn, executionName, started: false };
    this.started.set(executionName, JSON.stringify(input));
    return { executionArn, executionName, started: true };
  }
}

let store: Store;
beforeAll(async () => {
  store = (await freshTables()).store();
  for (const hostId of ['st-1', 'st-2', 'st-3', 'st-4'])
    await store.hosts.register({
      hostId,
      pool: 'p',
      availabilityZone: 'az-1',
      instanceId: 'mi-0000000000000abc1',
    });
});

const depsWith = (executions: ExecutionStarter): TriggerDeps => ({
  hosts: store.hosts,
  idempotency: store.idempotency,
  executions,
  dedupeTtlSeconds: 3600,
  clock: new ManualClock(Date.parse('2026-11-25T10:00:01Z')),
});
const mapping = { hostIdDimension: 'HostId', alarmNamePrefix: 'rejuv-aging-', level: 'vmm-process' } as const;

describe('Use case: start a rejuvenation', () => {
  it('an alarm delivered again after its first start crashed still starts its execution, once', async () => {
    const executions = new NamedExecutions();
    const event = agingAlarmEvent('st-1', '2026-11-25T10:00:00.000+0000');
    executions.failNext = true;
    await expect(startFromAlarm(depsWith(executions), mapping, event)).rejects.toThrow(/Rate exceeded/);
    expect(executions.started.size).toBe(0);

    const redelivered = await startFromAlarm(depsWith(executions), mapping, event);
    expect(redelivered).toMatchObject({ status: 'duplicate', hostId: 'st-1' });
    expect([...executions.started.keys()]).toEqual([redelivered.executionName]);

    expect(await startFromAlarm(depsWith(executions), mapping, event)).toMatchObject({ status: 'duplicate' });
    expect(executions.started.size).toBe(1);
  });

  it('an operator request is started once per request id and host; another id starts another', async () => {
    const executions = new NamedExecutions();
    const request = { hostId: 'st-2', reason: 'planned', principal: 'alice', requestId: 'ticket-1' };
    const first = await startFromOperator(depsWith(executions), request);
    expect(first).toMatchObject({ status: 'started', hostId: 'st-2' });
    expect(await startFromOperator(depsWith(executions), request)).toMatchObject({
      status: 'duplicate',
      executionName: first.status === 'started' ? first.executionName : '',
    });
    expect(
      await startFromOperator(depsWith(executions), { ...request, requestId: 'ticket-2' }),
    ).toMatchObject({
      status: 'started',
    });
    expect(executions.started.size).toBe(2);
  });

  it.each([
    [
      'an alarm',
      'st-3',
      (deps: TriggerDeps) =>
        startFromAlarm(deps, mapping, agingAlarmEvent('st-3', '2026-11-25T10:00:00.000+0000')),
    ],
    [
      'an operator',
      'st-4',
      (deps: TriggerDeps) =>
        startFromOperator(deps, {
          hostId: 'st-4',
          reason: 'planned',
          principal: 'alice',
          requestId: 'ticket-9',
        }),
    ],
  ])(
    'the execution %s trigger starts is admitted with its input, and refused with any other',
    async (_kind, hostId, trigger) => {
      const executions = new NamedExecutions();
      const started = await trigger(depsWith(executions));
      const input: unknown = JSON.parse(executions.started.get(started.executionName) ?? 'null');
      const deps = workflowDeps(store, new ManualClock(Date.parse('2026-11-25T10:00:02Z')));
      const forged = { ...(input as Record<string, unknown>), principal: 'mallory' };
      await expect(admit(deps, started.executionName, forged)).rejects.toMatchObject({
        name: 'UnclaimedExecutionError',
        finding: 'request-differs',
      });
      expect(await store.hostLock.current(hostId)).toBeUndefined();
      expect(await admit(deps, started.executionName, input)).toMatchObject({ hostState: 'ADMITTED' });
    },
  );
});
