/**
 * The SSM adapter through the real SDK client against the local SSM endpoint, whose agent runs documents
 * with the host document runner (real shell processes in a temporary host root).
 */
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  localSsmClient,
  startLocalSsmEndpoint,
  type RunningLocalSsm,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import {
  HostCommandRejectedError,
  UnknownHostDocumentError,
  UnknownHostInstanceError,
} from '../../../shared/adapters/ssm/errors.js';
import { SsmHostAgents } from '../../../shared/adapters/ssm/ssm-host-agents.js';
import { SsmHostCommands } from '../../../shared/adapters/ssm/ssm-host-commands.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import {
  commandRequest,
  eventually,
  shellDocument,
  untilFinished,
  withHostRoot,
  WORD_PARAMETER,
} from './ssm-test-kit.js';

const HOST = 'mi-0000000000000aa01';
const ELSEWHERE = 'mi-0000000000000ff99';

let hostRoot: Awaited<ReturnType<typeof withHostRoot>>;
let ssm: RunningLocalSsm;
let client: SSMClient;
let commands: SsmHostCommands;

beforeAll(async () => {
  hostRoot = await withHostRoot();
  ssm = await startLocalSsmEndpoint({
    documents: {
      Echo: shellDocument(['echo "said {{ word }}"'], { parameters: WORD_PARAMETER }),
      Fail: shellDocument(['echo oops >&2', 'exit 3']),
      Slow: shellDocument(['touch "$REJUV_HOST_ROOT/slow-started"', 'sleep 30']),
      // The SSM Agent's shortest step timeout: it replaces anything under 5 s by its default hour.
      Stuck: shellDocument(['sleep 30'], { timeoutSeconds: 5 }),
      Tally: shellDocument(['echo ran >> "$REJUV_HOST_ROOT/tally"']),
    },
    hosts: { [HOST]: { hostRoot: hostRoot.path } },
  });
  client = localSsmClient(ssm.endpoint);
  commands = new SsmHostCommands(client);
});

afterAll(async () => {
  client?.destroy();
  await ssm?.stop();
  await hostRoot?.remove();
});

const request = (documentName: string, stepKey: string, parameters: Record<string, string> = {}) =>
  commandRequest(HOST, documentName, stepKey, parameters);

describe('Class: SsmHostCommands', () => {
  describe('Method: send and invocation', () => {
    it('runs a document on the host and reads its output and exit code', async () => {
      const { commandId } = await commands.send(request('Echo', 'exec-1:Echo', { word: 'hello' }));
      expect(await untilFinished(commands, commandId, HOST)).toEqual({
        commandId,
        instanceId: HOST,
        status: 'Success',
        responseCode: 0,
        stdout: 'said hello\n',
        stderr: '',
      });
    });

    it('reports a failing document as Failed with its exit code and stderr', async () => {
      const { commandId } = await commands.send(request('Fail', 'exec-1:Fail'));
      expect(await untilFinished(commands, commandId, HOST)).toMatchObject({
        status: 'Failed',
        responseCode: 3,
        stderr: 'oops\n',
      });
    });

    it("reports a document killed at its step's timeoutSeconds as TimedOut", async () => {
      const { commandId } = await commands.send(request('Stuck', 'exec-1:Stuck'));
      const finished = await untilFinished(commands, commandId, HOST);
      expect(finished.status).toBe('TimedOut');
      expect(finished.responseCode).not.toBe(0);
    });
  });

  describe('Method: send (idempotency per step key)', () => {
    it('runs a step once: a retried send returns the first command and the document does not run again', async () => {
      const first = await commands.send(request('Tally', 'exec-2:Tally'));
      await untilFinished(commands, first.commandId, HOST);
      const again = await commands.send(request('Tally', 'exec-2:Tally'));
      expect(again.commandId).toBe(first.commandId);
      expect(ssm.commands().filter((c) => c.comment === 'exec-2:Tally')).toHaveLength(1);
      expect(await readFile(join(hostRoot.path, 'tally'), 'utf8')).toBe('ran\n');
    });

    it('finds a command whose SendCommand response was lost (sent, but never returned to the caller)', async () => {
      const { Command } = await client.send(
        new SendCommandCommand({
          InstanceIds: [HOST],
          DocumentName: 'Echo',
          Comment: 'exec-3:Echo',
          Parameters: { word: ['lost'] },
        }),
      );
      const { commandId } = await commands.send(request('Echo', 'exec-3:Echo', { word: 'lost' }));
      expect(commandId).toBe(Command?.CommandId);
    });

    it('keeps steps apart: the same key for another document is another command', async () => {
      const echo = await commands.send(request('Echo', 'exec-4:shared', { word: 'one' }));
      const fail = await commands.send(request('Fail', 'exec-4:shared'));
      expect(fail.commandId).not.toBe(echo.commandId);
    });
  });

  describe('Method: cancel', () => {
    it('stops a running document: the invocation ends Cancelled', async () => {
      const { commandId } = await commands.send(request('Slow', 'exec-5:Slow'));
      // Cancelled once the script is really running: the runner's cancel window is the process, not its setup.
      await eventually(
        () =>
          access(join(hostRoot.path, 'slow-started')).then(
            () => true,
            () => false,
          ),
        (started) => started,
      );
      await commands.cancel(commandId, HOST);
      expect((await untilFinished(commands, commandId, HOST)).status).toBe('Cancelled');
    });

    it('leaves a finished command as it was', async () => {
      const { commandId } = await commands.send(request('Echo', 'exec-5:Echo', { word: 'done' }));
      await untilFinished(commands, commandId, HOST);
      await commands.cancel(commandId, HOST);
      expect((await commands.invocation(commandId, HOST)).status).toBe('Success');
    });
  });

  describe('Method: send while the agent is offline', () => {
    it('keeps the command Pending (agent ConnectionLost) and runs it once the agent is back', async () => {
      const agents = new SsmHostAgents(client);
      ssm.setOnline(HOST, false);
      try {
        const { commandId } = await commands.send(request('Echo', 'exec-6:Echo', { word: 'later' }));
        expect((await commands.invocation(commandId, HOST)).status).toBe('Pending');
        expect((await agents.status(HOST)).pingStatus).toBe('ConnectionLost');
        ssm.setOnline(HOST, true);
        expect(await untilFinished(commands, commandId, HOST)).toMatchObject({
          status: 'Success',
          stdout: 'said later\n',
        });
      } finally {
        ssm.setOnline(HOST, true);
      }
    });
  });

  describe('Errors', () => {
    it('throws UnknownHostInstanceError for an instance SSM does not manage', async () => {
      const refused = commands.send({
        ...request('Echo', 'exec-7:Echo', { word: 'x' }),
        instanceId: ELSEWHERE,
      });
      await expect(refused).rejects.toThrow(UnknownHostInstanceError);
      await expect(refused).rejects.toMatchObject({ instanceId: ELSEWHERE, retryable: false });
    });

    it('throws UnknownHostDocumentError for a document that does not exist', async () => {
      const refused = commands.send(request('Nope', 'exec-7:Nope'));
      await expect(refused).rejects.toThrow(UnknownHostDocumentError);
      await expect(refused).rejects.toMatchObject({ documentName: 'Nope', retryable: false });
    });

    it("throws HostCommandRejectedError with the runner's reason for a parameter against its allowedPattern", async () => {
      const refused = commands.send(request('Echo', 'exec-7:Echo', { word: 'rm -rf' }));
      await expect(refused).rejects.toThrow(HostCommandRejectedError);
      await expect(refused).rejects.toMatchObject({ code: 'InvalidParameters', retryable: false });
      await expect(refused).rejects.toThrow(/does not match allowedPattern/);
    });

    it('refuses a malformed request before anything reaches SSM', async () => {
      const before = ssm.requestCount('ListCommands') + ssm.requestCount('SendCommand');
      await expect(commands.send(request('Echo', 'key with spaces', { word: 'x' }))).rejects.toThrow(
        ValidationError,
      );
      await expect(commands.send(request('Echo', 'k'.repeat(101), { word: 'x' }))).rejects.toThrow(
        ValidationError,
      );
      await expect(
        commands.send({ ...request('Echo', 'exec-7:Echo', { word: 'x' }), instanceId: 'i-XYZ' }),
      ).rejects.toThrow(ValidationError);
      await expect(commands.send(request('no spaces allowed', 'exec-7:x'))).rejects.toThrow(ValidationError);
      await expect(commands.invocation('not-a-command-id', HOST)).rejects.toThrow(ValidationError);
      expect(ssm.requestCount('ListCommands') + ssm.requestCount('SendCommand')).toBe(before);
    });

    it('reads an invocation SSM does not know (yet) as Pending, not as an error', async () => {
      expect(await commands.invocation('00000000-0000-0000-0000-000000000000', HOST)).toMatchObject({
        status: 'Pending',
        responseCode: -1,
      });
    });

    it('throws HostCommandRejectedError when cancelling a command SSM does not know', async () => {
      await expect(commands.cancel('00000000-0000-0000-0000-000000000000', HOST)).rejects.toMatchObject({
        name: 'HostCommandRejectedError',
        code: 'InvalidCommandId',
      });
    });
  });
});
