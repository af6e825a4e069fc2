/**
 * SSM misbehaving, injected with the local endpoint's fault seams: who retries what (the SDK, or the
 * state machine through the adapter's retryable errors), and SSM's lag right after SendCommand.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  localSsmClient,
  startLocalSsmEndpoint,
  type RunningLocalSsm,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import { SsmUnavailableError } from '../../../shared/adapters/ssm/errors.js';
import { SsmHostCommands } from '../../../shared/adapters/ssm/ssm-host-commands.js';
import { commandRequest, instantExecutor, shellDocument, untilFinished } from './ssm-test-kit.js';

const HOST = 'i-0aaaaaaaaaaaaaaa1';

let ssm: RunningLocalSsm;
let retryingClient: SSMClient;
let singleShotClient: SSMClient;
let executed: ReturnType<typeof instantExecutor>;
let stepCounter = 0;

beforeAll(async () => {
  executed = instantExecutor({
    status: 'Success',
    responseCode: 0,
    stdout: '{"outcome":"ok"}\n',
    stderr: '',
  });
  ssm = await startLocalSsmEndpoint({
    documents: { Check: shellDocument(['true']), Other: shellDocument(['true']) },
    hosts: { [HOST]: { hostRoot: '/nonexistent' } },
    executor: executed.executor,
  });
  // The SDK's default: standard retry mode, three attempts.
  retryingClient = localSsmClient(ssm.endpoint);
  // What is left once the SDK has given up, without waiting through its backoff.
  singleShotClient = localSsmClient(ssm.endpoint, { maxAttempts: 1 });
});

afterAll(async () => {
  retryingClient?.destroy();
  singleShotClient?.destroy();
  await ssm?.stop();
});

let stepKey: string;
beforeEach(() => {
  stepCounter += 1;
  stepKey = `exec-faults:${stepCounter}`;
});

const sentFor = (key: string) => ssm.commands().filter((c) => c.comment === key);

describe('Class: SsmHostCommands, when SSM throttles or fails', () => {
  it('rides out a throttled SendCommand on the SDK retry: one command, sent on the second request', async () => {
    const commands = new SsmHostCommands(retryingClient);
    const before = ssm.requestCount('SendCommand');
    ssm.failNext('SendCommand', 'ThrottlingException', 1);
    const { commandId } = await commands.send(commandRequest(HOST, 'Check', stepKey));
    expect(ssm.requestCount('SendCommand') - before).toBe(2);
    expect(sentFor(stepKey).map((c) => c.commandId)).toEqual([commandId]);
  });

  it('rides out an InternalServerError (HTTP 500) on the SDK retry', async () => {
    const commands = new SsmHostCommands(retryingClient);
    const before = ssm.requestCount('GetCommandInvocation');
    const { commandId } = await commands.send(commandRequest(HOST, 'Check', stepKey));
    ssm.failNext('GetCommandInvocation', 'InternalServerError', 1);
    expect((await untilFinished(commands, commandId, HOST)).status).toBe('Success');
    expect(ssm.requestCount('GetCommandInvocation') - before).toBeGreaterThanOrEqual(2);
  });

  it('throws a retryable SsmUnavailableError once the SDK has given up on throttling, and sends nothing', async () => {
    const commands = new SsmHostCommands(singleShotClient);
    ssm.failNext('SendCommand', 'ThrottlingException', 1);
    const sending = commands.send(commandRequest(HOST, 'Check', stepKey));
    await expect(sending).rejects.toThrow(SsmUnavailableError);
    await expect(sending).rejects.toMatchObject({
      name: 'SsmUnavailableError',
      retryable: true,
      operation: 'SendCommand',
      code: 'ThrottlingException',
    });
    expect(sentFor(stepKey)).toEqual([]);
    // The state machine's retry of the step then sends it once.
    await commands.send(commandRequest(HOST, 'Check', stepKey));
    expect(sentFor(stepKey)).toHaveLength(1);
  });

  it('throws a retryable SsmUnavailableError when the idempotency lookup itself is throttled', async () => {
    const commands = new SsmHostCommands(singleShotClient);
    const sendsBefore = ssm.requestCount('SendCommand');
    ssm.failNext('ListCommands', 'ThrottlingException', 1);
    await expect(commands.send(commandRequest(HOST, 'Check', stepKey))).rejects.toMatchObject({
      retryable: true,
      operation: 'ListCommands',
    });
    expect(ssm.requestCount('SendCommand')).toBe(sendsBefore);
  });

  it('throws a retryable SsmUnavailableError for a server error on cancel', async () => {
    const commands = new SsmHostCommands(singleShotClient);
    const { commandId } = await commands.send(commandRequest(HOST, 'Check', stepKey));
    ssm.failNext('CancelCommand', 'InternalServerError', 1);
    await expect(commands.cancel(commandId, HOST)).rejects.toMatchObject({
      name: 'SsmUnavailableError',
      retryable: true,
      code: 'InternalServerError',
    });
  });

  it('reads InvocationDoesNotExist right after SendCommand as Pending, then sees the real invocation', async () => {
    const commands = new SsmHostCommands(singleShotClient);
    const { commandId } = await commands.send(commandRequest(HOST, 'Check', stepKey));
    ssm.failNext('GetCommandInvocation', 'InvocationDoesNotExist', 1);
    expect(await commands.invocation(commandId, HOST)).toMatchObject({ status: 'Pending', responseCode: -1 });
    expect(await untilFinished(commands, commandId, HOST)).toMatchObject({
      status: 'Success',
      stdout: '{"outcome":"ok"}\n',
    });
  });
});

describe('Class: SsmHostCommands, finding an earlier send among many commands', () => {
  it('pages through ListCommands (newest first) to find the step sent before 60 others', async () => {
    const commands = new SsmHostCommands(singleShotClient);
    const first = await commands.send(commandRequest(HOST, 'Other', stepKey));
    for (let i = 0; i < 60; i++) await commands.send(commandRequest(HOST, 'Other', `${stepKey}:later-${i}`));
    const runsBefore = executed.runs;
    const listsBefore = ssm.requestCount('ListCommands');
    const again = await commands.send(commandRequest(HOST, 'Other', stepKey));
    expect(again.commandId).toBe(first.commandId);
    expect(ssm.requestCount('ListCommands') - listsBefore).toBe(2);
    expect(executed.runs).toBe(runsBefore);
  });
});
