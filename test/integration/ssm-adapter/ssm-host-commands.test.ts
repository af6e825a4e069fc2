import { SSMClient } from '@aws-sdk/client-ssm';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HostCommandRejectedError,
  UnknownHostInstanceError,
} from '../../../shared/adapters/ssm/ssm-errors.js';
import { SsmHostAgents } from '../../../shared/adapters/ssm/ssm-host-agents.js';
import { SsmHostCommands } from '../../../shared/adapters/ssm/ssm-host-commands.js';
import { startLocalSsmEndpoint, type RunningLocalSsm } from '../../../local/ssm-endpoint/ssm-endpoint.js';
import {
  TERMINAL_COMMAND_STATUSES,
  type HostCommandInvocation,
} from '../../../shared/ports/host-commands.js';
import { ValidationError } from '../../../shared/domain/errors.js';

const ECHO = {
  schemaVersion: '2.2',
  description: 'echo a word',
  parameters: { word: { type: 'String', allowedPattern: '^[a-z]{1,16}$' } },
  mainSteps: [
    { action: 'aws:runShellScript', name: 'echo', inputs: { runCommand: ['echo "said {{ word }}"'] } },
  ],
};
const FAIL = {
  schemaVersion: '2.2',
  description: 'exit 3',
  mainSteps: [
    { action: 'aws:runShellScript', name: 'fail', inputs: { runCommand: ['echo oops >&2', 'exit 3'] } },
  ],
};
const SLOW = {
  schemaVersion: '2.2',
  description: 'sleep',
  mainSteps: [{ action: 'aws:runShellScript', name: 'sleep', inputs: { runCommand: ['sleep 30'] } }],
};

const HOST = 'mi-0000000000000aa01';
let ssm: RunningLocalSsm;
let client: SSMClient;
let commands: SsmHostCommands;

beforeAll(async () => {
  ssm = await startLocalSsmEndpoint({ documents: { Echo: ECHO, Fail: FAIL, Slow: SLOW } });
  ssm.registerHost(HOST, '/tmp');
  client = new SSMClient({
    endpoint: ssm.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  commands = new SsmHostCommands(client);
});

afterAll(async () => {
  client?.destroy();
  await ssm?.stop();
});

async function untilDone(commandId: string): Promise<HostCommandInvocation> {
  for (;;) {
    const invocation = await commands.invocation(commandId, HOST);
    if ((TERMINAL_COMMAND_STATUSES as readonly string[]).includes(invocation.status)) return invocation;
    await sleep(20);
  }
}

const request = (documentName: string, stepKey: string, parameters: Record<string, string> = {}) => ({
  instanceId: HOST,
  documentName,
  parameters,
  executionTimeoutSeconds: 60,
  stepKey,
});

describe('Class: SsmHostCommands, against the local SSM endpoint with the real SDK client', () => {
  it('runs a document and reads its output and exit code', async () => {
    const { commandId } = await commands.send(request('Echo', 'exec-1:Echo', { word: 'hello' }));
    expect(await untilDone(commandId)).toMatchObject({
      status: 'Success',
      responseCode: 0,
      stdout: 'said hello\n',
    });
    const failed = await untilDone((await commands.send(request('Fail', 'exec-1:Fail'))).commandId);
    expect(failed).toMatchObject({ status: 'Failed', responseCode: 3, stderr: 'oops\n' });
  });

  it('sends a step once: a retried send returns the first command', async () => {
    const first = await commands.send(request('Echo', 'exec-2:Echo', { word: 'once' }));
    const again = await commands.send(request('Echo', 'exec-2:Echo', { word: 'once' }));
    expect(again.commandId).toBe(first.commandId);
    expect(ssm.commands().filter((c) => c.commandId === first.commandId)).toHaveLength(1);
  });

  it('cancels a running command', async () => {
    const { commandId } = await commands.send(request('Slow', 'exec-3:Slow'));
    await sleep(100);
    await commands.cancel(commandId, HOST);
    expect((await untilDone(commandId)).status).toBe('Cancelled');
  });

  it('keeps a command pending while the agent is offline, and reports the agent as ConnectionLost', async () => {
    const agents = new SsmHostAgents(client);
    ssm.setOnline(HOST, false);
    const { commandId } = await commands.send(request('Echo', 'exec-4:Echo', { word: 'later' }));
    await sleep(100);
    expect((await commands.invocation(commandId, HOST)).status).toBe('Pending');
    expect((await agents.status(HOST)).pingStatus).toBe('ConnectionLost');
    ssm.setOnline(HOST, true);
    expect(await untilDone(commandId)).toMatchObject({ status: 'Success', stdout: 'said later\n' });
    expect((await agents.status(HOST)).pingStatus).toBe('Online');
    expect((await agents.status('mi-00000000000000bad')).pingStatus).toBe('Unknown');
  });

  it('turns SSM refusals into typed errors, and refuses a bad step key before sending', async () => {
    await expect(
      commands.send({ ...request('Echo', 'exec-5:Echo', { word: 'x' }), instanceId: 'mi-0000000000000ff99' }),
    ).rejects.toThrow(UnknownHostInstanceError);
    await expect(commands.send(request('Echo', 'exec-5:Echo', { word: 'rm -rf' }))).rejects.toThrow(
      HostCommandRejectedError,
    );
    await expect(commands.send(request('Nope', 'exec-5:Nope'))).rejects.toThrow(/InvalidDocument/);
    await expect(commands.send(request('Echo', 'key with spaces', { word: 'x' }))).rejects.toThrow(
      ValidationError,
    );
    expect(ssm.commands().filter((c) => c.documentName === 'Nope')).toEqual([]);
  });

  it('reads an invocation SSM does not know yet as pending', async () => {
    const invocation = await commands.invocation('00000000-0000-0000-0000-000000000000', HOST);
    expect(invocation).toMatchObject({ status: 'Pending', responseCode: -1 });
  });
});
