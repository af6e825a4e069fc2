/**
 * The local Step Functions' callback pattern (`lambda:invoke.waitForTaskToken`), which the interpreter
 * accepts but does not emulate: the function gets a token in place of `$$.Task.Token` and the task waits
 * until SendTaskSuccess (its output is the task's result) or SendTaskFailure (its error is the task's),
 * its timeout or heartbeat, or a failure of the function itself. Tokens are answered once: a replay is
 * TaskTimedOut, a token that is not one is InvalidToken, one made up in our format TaskDoesNotExist. The
 * calls go through the real SDK client, under local IAM (on "*": these actions have no resource type).
 */
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIam, type LocalIdentity } from '../../../local/iam/local-iam.js';
import {
  localStateMachineArn,
  startLocalStepFunctions,
  type RunningLocalStepFunctions,
} from '../../../local/step-functions/local-step-functions.js';

const FUNCTION_ARN = 'arn:aws:lambda:local:000000000000:function:Waiter';
const machineArn = localStateMachineArn('callback');
const waitState = (extra: Record<string, unknown>) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
  Parameters: {
    FunctionName: FUNCTION_ARN,
    Payload: { 'ask.$': '$.ask', 'token.$': '$$.Task.Token' },
  },
  ResultPath: '$.answer',
  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
  End: true,
  ...extra,
});
const definition = {
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.mode', StringEquals: 'short', Next: 'WaitShort' },
        { Variable: '$.mode', StringEquals: 'heartbeat', Next: 'WaitHeartbeat' },
      ],
      Default: 'Wait',
    },
    Wait: waitState({ TimeoutSeconds: 3600 }),
    WaitShort: waitState({ TimeoutSeconds: 1 }),
    WaitHeartbeat: waitState({ TimeoutSeconds: 3600, HeartbeatSeconds: 1 }),
    Caught: { Type: 'Pass', End: true },
  },
};

/** What the function was given, per `ask`; it throws when asked to. */
const invocations = new Map<string, { token: string }>();

let sfn: RunningLocalStepFunctions;
let client: SFNClient;
let stranger: LocalIdentity;

beforeAll(async () => {
  const iam = new LocalIam('000000000000');
  sfn = await startLocalStepFunctions({
    workflow: {
      definition,
      functionsByArn: new Map([[FUNCTION_ARN, 'WaiterFunction']]),
      template: { Resources: {} },
    },
    stateMachineName: 'callback',
    handlers: {
      WaiterFunction: async (payload) => {
        const { ask, token } = payload as { ask: string; token: string };
        if (ask === 'crash') throw Object.assign(new Error('the function broke'), { name: 'BrokenError' });
        invocations.set(ask, { token });
        return { ignored: true };
      },
    },
    authorizer: iam,
    executionRoleAccessKeyId: iam.assumeRole('machine-role', 'states', [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FUNCTION_ARN }],
      },
    ]).accessKeyId,
  });
  stranger = iam.createUser('stranger', [
    {
      Version: '2012-10-17',
      Statement: [
        // Only on a machine: IAM evaluates SendTaskSuccess on "*", which this does not match.
        {
          Effect: 'Allow',
          Action: 'states:SendTaskSuccess',
          Resource: localStateMachineArn('callback'),
        },
      ],
    },
  ]);
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

async function start(name: string, input: { ask: string; mode?: string }) {
  await client.send(
    new StartExecutionCommand({
      stateMachineArn: machineArn,
      name,
      input: JSON.stringify({ mode: 'long', ...input }),
    }),
  );
  const execution = sfn.execution(name);
  if (execution === undefined) throw new Error(`no execution ${name}`);
  return execution;
}

async function tokenOf(ask: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const token = invocations.get(ask)?.token;
    if (token !== undefined) return token;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the function was never asked ${ask}`);
}

const outputOf = (execution: { output?: string }) =>
  JSON.parse(execution.output ?? 'null') as { answer?: unknown; error?: { Error: string; Cause: string } };

describe('Local Step Functions: lambda:invoke.waitForTaskToken', () => {
  it('waits until SendTaskSuccess, whose output is the result; the token is then answered TaskTimedOut', async () => {
    const execution = await start('cb-ok', { ask: 'ok' });
    const token = await tokenOf('ok');
    expect(token).not.toContain('local-task-token-for');
    // The function's own answer does not end the wait.
    await new Promise((r) => setTimeout(r, 200));
    expect(execution.status).toBe('RUNNING');
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":true}' }));
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(outputOf(execution).answer).toEqual({ approved: true });
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('fails the task with the error and cause SendTaskFailure gives', async () => {
    const execution = await start('cb-fail', { ask: 'fail' });
    await client.send(
      new SendTaskFailureCommand({ taskToken: await tokenOf('fail'), error: 'Rejected', cause: 'no' }),
    );
    await execution.done;
    expect(outputOf(execution).error).toEqual({ Error: 'Rejected', Cause: 'no' });
  });

  it('fails the task with the function’s own error when the invocation fails', async () => {
    const execution = await start('cb-crash', { ask: 'crash' });
    await execution.done;
    expect(outputOf(execution).error?.Error).toBe('BrokenError');
  });

  it('times out (States.Timeout) with nobody answering, and the token is dead after', async () => {
    const execution = await start('cb-timeout', { ask: 'timeout', mode: 'short' });
    const token = await tokenOf('timeout');
    await execution.done;
    expect(outputOf(execution).error?.Error).toBe('States.Timeout');
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('keeps a task alive while it beats, and times it out (States.HeartbeatTimeout) when it stops', async () => {
    const execution = await start('cb-heartbeat', { ask: 'heartbeat', mode: 'heartbeat' });
    const token = await tokenOf('heartbeat');
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      await client.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    }
    expect(execution.status).toBe('RUNNING');
    await execution.done;
    expect(outputOf(execution).error?.Error).toBe('States.HeartbeatTimeout');
  });

  it('answers a token that is not one InvalidToken, one made up in its format TaskDoesNotExist', async () => {
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });
    const madeUp = Buffer.from(
      JSON.stringify({ v: 1, executionArn: `${machineArn}:x`, stateName: 'Wait', nonce: 'guess' }),
    ).toString('base64url');
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: madeUp, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
  });

  it('refuses output that is not JSON (InvalidOutput), and a caller IAM does not allow on the machine', async () => {
    const execution = await start('cb-refused', { ask: 'refused' });
    const token = await tokenOf('refused');
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: 'not json' })),
    ).rejects.toMatchObject({ name: 'InvalidOutput' });
    const asStranger = new SFNClient({
      endpoint: sfn.endpoint,
      region: 'local',
      credentials: { accessKeyId: stranger.accessKeyId, secretAccessKey: stranger.secretAccessKey },
    });
    await expect(
      asStranger.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    asStranger.destroy();
    // Neither call answered the task: it still waits.
    expect(execution.status).toBe('RUNNING');
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"late":false}' }));
    await execution.done;
    expect(outputOf(execution).answer).toEqual({ late: false });
  });
});
