/**
 * The local Step Functions' `states:startExecution` integrations, which the campaign machine uses and the
 * interpreter lacks: a child starts in the same service under the parent machine's role; `.sync:2`
 * waits for it and answers with its description (input and output as JSON); a child that fails fails the
 * task with States.TaskFailed and the description (the child's Error and Cause) as Cause; a role without
 * what `.sync` needs is refused before anything starts.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIam, type PolicyDocument } from '../../../local/iam/local-iam.js';
import {
  localStateMachineArn,
  startLocalStepFunctions,
  SYNC_EXECUTION_EVENTS_RULE,
  type RunningLocalStepFunctions,
} from '../../../local/step-functions/local-step-functions.js';

const childArn = localStateMachineArn('child');
const child = {
  StartAt: 'Outcome',
  States: {
    Outcome: {
      Type: 'Choice',
      Choices: [{ Variable: '$.fail', BooleanEquals: true, Next: 'Broken' }],
      Default: 'Done',
    },
    Done: { Type: 'Pass', Parameters: { 'echo.$': '$.value' }, End: true },
    Broken: { Type: 'Fail', Error: 'Quarantined', Cause: 'the host needs a person' },
  },
};
const parent = {
  StartAt: 'RunChild',
  States: {
    RunChild: {
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: { StateMachineArn: childArn, 'Name.$': '$.name', 'Input.$': '$.input' },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
      ResultPath: '$.result',
      End: true,
    },
    Caught: { Type: 'Pass', End: true },
  },
};

const syncPolicy = (withEvents: boolean): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'states:StartExecution', Resource: childArn },
    {
      Effect: 'Allow',
      Action: ['states:DescribeExecution', 'states:StopExecution'],
      Resource: `${childArn.replace(':stateMachine:', ':execution:')}:*`,
    },
    ...(withEvents
      ? [
          {
            Effect: 'Allow' as const,
            Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            Resource: `arn:aws:events:local:000000000000:rule/${SYNC_EXECUTION_EVENTS_RULE}`,
          },
        ]
      : []),
  ],
});

let sfn: RunningLocalStepFunctions;
let client: SFNClient;

beforeAll(async () => {
  const iam = new LocalIam('000000000000');
  sfn = await startLocalStepFunctions({
    workflow: { definition: child, functionsByArn: new Map(), template: { Resources: {} } },
    stateMachineName: 'child',
    handlers: {},
    authorizer: iam,
    additionalStateMachines: [
      {
        name: 'parent',
        definition: parent,
        executionRoleAccessKeyId: iam.assumeRole('parent-role', 'states', [syncPolicy(true)]).accessKeyId,
      },
      {
        name: 'parent-without-events',
        definition: parent,
        executionRoleAccessKeyId: iam.assumeRole('weak-role', 'states', [syncPolicy(false)]).accessKeyId,
      },
    ],
  });
  client = new SFNClient({
    endpoint: sfn.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client?.destroy();
  await sfn?.stop();
});

async function run(machine: string, name: string, input: unknown) {
  await client.send(
    new StartExecutionCommand({
      stateMachineArn: localStateMachineArn(machine),
      name,
      input: JSON.stringify(input),
    }),
  );
  const execution = sfn.execution(name);
  await execution?.done;
  return JSON.parse(execution?.output ?? 'null') as {
    result?: Record<string, unknown>;
    error?: { Error: string; Cause: string };
  };
}

describe('Local Step Functions: states:startExecution.sync:2', () => {
  it('starts the child under the given name and answers with its description, input and output as JSON', async () => {
    const out = await run('parent', 'p-ok', { name: 'c-ok', input: { value: 42, fail: false } });
    expect(out.result).toMatchObject({
      ExecutionArn: `${childArn.replace(':stateMachine:', ':execution:')}:c-ok`,
      Name: 'c-ok',
      StateMachineArn: childArn,
      Status: 'SUCCEEDED',
      Input: { value: 42, fail: false },
      Output: { echo: 42 },
    });
    expect(typeof out.result?.['StartDate']).toBe('number');
    expect(sfn.execution('c-ok')?.status).toBe('SUCCEEDED');
  });

  it('fails the task with States.TaskFailed when the child fails, the child’s error in the Cause', async () => {
    const out = await run('parent', 'p-fail', { name: 'c-fail', input: { fail: true } });
    expect(out.error?.Error).toBe('States.TaskFailed');
    expect(JSON.parse(out.error?.Cause ?? '{}')).toMatchObject({
      Name: 'c-fail',
      Status: 'FAILED',
      Error: 'Quarantined',
      Cause: 'the host needs a person',
    });
    expect(out.result).toBeUndefined();
  });

  it('waits for the existing child when started again with the same name and input', async () => {
    const out = await run('parent', 'p-again', { name: 'c-ok', input: { value: 42, fail: false } });
    expect(out.result).toMatchObject({ Name: 'c-ok', Status: 'SUCCEEDED' });
    expect(sfn.executions().filter((e) => e.name === 'c-ok')).toHaveLength(1);
  });

  it('refuses a role without the managed rule .sync needs, starting nothing', async () => {
    const out = await run('parent-without-events', 'p-weak', { name: 'c-weak', input: { value: 1 } });
    expect(out.error?.Error).toBe('StepFunctions.AccessDeniedException');
    expect(out.error?.Cause).toContain('events:');
    expect(sfn.execution('c-weak')).toBeUndefined();
  });
});
