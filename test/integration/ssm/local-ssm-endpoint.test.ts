/**
 * The local SSM must behave as SSM does where rejuv depends on it, or the adapter tests could pass here and
 * fail in AWS. These talk to it with the real SDK client (and, for the wire itself, with raw HTTP), with
 * executors the tests control.
 */
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetDocumentCommand,
  InvalidDocument,
  InvalidInstanceId,
  InvalidParameters,
  InvalidResourceId,
  InvocationDoesNotExist,
  ListTagsForResourceCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  localSsmClient,
  startLocalSsmEndpoint,
  type LocalSsmOptions,
  type RunningLocalSsm,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  eventually,
  heldExecutor,
  instantExecutor,
  shellDocument,
  WORD_PARAMETER,
  type HeldRun,
  withHostRoot,
} from './ssm-test-kit.js';

const HOST_A = 'i-0aaaaaaaaaaaaaaa1';
const HOST_B = 'mi-0bbbbbbbbbbbbbbb2';
const START = Date.UTC(2026, 0, 1);
const DOCUMENTS = {
  Echo: shellDocument(['echo "{{ word }}"'], { parameters: WORD_PARAMETER }),
  Plain: shellDocument(['true']),
};
const OK = { status: 'Success', responseCode: 0, stdout: 'ok\n', stderr: '' } as const;

let ssm: RunningLocalSsm | undefined;
let client: SSMClient | undefined;

async function start(
  options: Partial<LocalSsmOptions> = {},
): Promise<{ ssm: RunningLocalSsm; client: SSMClient }> {
  ssm = await startLocalSsmEndpoint({
    documents: DOCUMENTS,
    hosts: { [HOST_A]: { hostRoot: '/nonexistent/a' }, [HOST_B]: { hostRoot: '/nonexistent/b' } },
    ...options,
  });
  client = localSsmClient(ssm.endpoint, { maxAttempts: 1 });
  return { ssm, client };
}

afterEach(async () => {
  client?.destroy();
  await ssm?.stop();
  client = undefined;
  ssm = undefined;
});

const sendPlain = (c: SSMClient, input: Partial<SendCommandCommandInput> = {}) =>
  c.send(new SendCommandCommand({ DocumentName: 'Plain', InstanceIds: [HOST_A], ...input }));

const invocation = (c: SSMClient, commandId: string, instanceId = HOST_A) =>
  c.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));

describe('Local SSM endpoint', () => {
  describe('Operation: SendCommand', () => {
    it('answers a Pending command with a uuid, the comment echoed and SSM timestamps', async () => {
      const clock = new ManualClock(START);
      const { client } = await start({ clock, executor: heldExecutor().executor });
      const { Command } = await sendPlain(client, { Comment: 'exec-1:Plain', TimeoutSeconds: 600 });
      expect(Command).toMatchObject({
        Status: 'Pending',
        Comment: 'exec-1:Plain',
        DocumentName: 'Plain',
        InstanceIds: [HOST_A],
        RequestedDateTime: new Date(START),
        ExpiresAfter: new Date(START + 600_000),
        TargetCount: 1,
      });
      expect(Command?.CommandId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('refuses an instance it does not manage, a missing document and bad parameters, running nothing', async () => {
      const executed = instantExecutor(OK);
      const { ssm, client } = await start({ executor: executed.executor });
      await expect(sendPlain(client, { InstanceIds: [HOST_A, 'i-0ccccccccccccccc3'] })).rejects.toThrow(
        InvalidInstanceId,
      );
      await expect(sendPlain(client, { DocumentName: 'Missing' })).rejects.toThrow(InvalidDocument);
      const badWord = sendPlain(client, { DocumentName: 'Echo', Parameters: { word: ['NOT LOWER'] } });
      await expect(badWord).rejects.toThrow(InvalidParameters);
      await expect(badWord).rejects.toThrow(/word: "NOT LOWER" does not match allowedPattern/);
      await expect(sendPlain(client, { DocumentName: 'Echo' })).rejects.toThrow(
        /required parameter is missing/,
      );
      await expect(sendPlain(client, { Comment: 'c'.repeat(101) })).rejects.toMatchObject({
        name: 'ValidationException',
      });
      expect(ssm.commands()).toEqual([]);
      expect(executed.runs).toBe(0);
    });

    it('runs the command on every instance it names, on one first and on more once it ends (SSM ramps up)', async () => {
      const { executor, runs } = heldExecutor();
      const { client } = await start({ executor });
      await sendPlain(client, { InstanceIds: [HOST_A, HOST_B] });
      await eventually(
        () => runs.length,
        (n) => n === 1,
      );
      expect(runs.length).toBe(1);
      runs[0]?.finish(OK);
      await eventually(
        () => runs.length,
        (n) => n === 2,
      );
      expect(runs.map((r) => r.execution.hostRoot).sort()).toEqual(['/nonexistent/a', '/nonexistent/b']);
    });
  });

  describe('Operation: GetCommandInvocation', () => {
    it('goes Pending → InProgress → Success with the output and exit code of the run', async () => {
      const { executor, runs } = heldExecutor();
      const { client } = await start({ executor });
      const { Command } = await sendPlain(client, { DocumentName: 'Echo', Parameters: { word: ['hi'] } });
      const id = Command?.CommandId ?? '';
      expect(Command?.Status).toBe('Pending');
      await eventually(
        () => runs.length,
        (n) => n === 1,
      );
      expect(await invocation(client, id)).toMatchObject({ Status: 'InProgress', ResponseCode: -1 });
      expect(runs[0]?.execution.parameters).toEqual({ word: ['hi'] });
      runs[0]?.finish({ status: 'Success', responseCode: 0, stdout: 'hi\n', stderr: '' });
      const done = await eventually(
        () => invocation(client, id),
        (i) => i.Status === 'Success',
      );
      expect(done).toMatchObject({
        StatusDetails: 'Success',
        ResponseCode: 0,
        StandardOutputContent: 'hi\n',
        StandardErrorContent: '',
        DocumentName: 'Echo',
      });
      expect(done.ExecutionStartDateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('tells an execution timeout apart in StatusDetails, and reports a run that threw as Failed', async () => {
      let call = 0;
      const { client } = await start({
        executor: async () => {
          call += 1;
          if (call === 1) return { status: 'TimedOut', responseCode: 137, stdout: '', stderr: '' };
          throw new Error('cannot start sh');
        },
      });
      const timedOut = (await sendPlain(client)).Command?.CommandId ?? '';
      expect(
        await eventually(
          () => invocation(client, timedOut),
          (i) => i.Status === 'TimedOut',
        ),
      ).toMatchObject({ StatusDetails: 'ExecutionTimedOut', ResponseCode: 137 });
      const threw = (await sendPlain(client)).Command?.CommandId ?? '';
      const failed = await eventually(
        () => invocation(client, threw),
        (i) => i.Status === 'Failed',
      );
      expect(failed.StandardErrorContent).toMatch(/cannot start sh/);
    });

    it('truncates output as SSM does: 24,000 characters of stdout, 8,000 of stderr', async () => {
      const { client } = await start({
        executor: async () => ({
          status: 'Success',
          responseCode: 0,
          stdout: 'o'.repeat(30_000),
          stderr: 'e'.repeat(9_000),
        }),
      });
      const id = (await sendPlain(client)).Command?.CommandId ?? '';
      const done = await eventually(
        () => invocation(client, id),
        (i) => i.Status === 'Success',
      );
      expect(done.StandardOutputContent).toHaveLength(24_000);
      expect(done.StandardErrorContent).toHaveLength(8_000);
    });

    it('answers InvocationDoesNotExist for an unknown command, or a known one on another instance', async () => {
      const { client } = await start({ executor: instantExecutor(OK).executor });
      const id = (await sendPlain(client)).Command?.CommandId ?? '';
      await expect(invocation(client, id, HOST_B)).rejects.toThrow(InvocationDoesNotExist);
      await expect(invocation(client, '00000000-0000-0000-0000-000000000000')).rejects.toThrow(
        InvocationDoesNotExist,
      );
    });
  });

  describe('Operation: CancelCommand', () => {
    it('aborts a running document: Cancelling until the run ends, then Cancelled', async () => {
      // A run that ignores the abort until the test ends it, so Cancelling can be seen.
      const runs: HeldRun[] = [];
      const { client } = await start({
        executor: (execution) => new Promise((resolve) => runs.push({ execution, finish: resolve })),
      });
      const id = (await sendPlain(client)).Command?.CommandId ?? '';
      await eventually(
        () => runs.length,
        (n) => n === 1,
      );
      await client.send(new CancelCommandCommand({ CommandId: id }));
      expect(runs[0]?.execution.signal.aborted).toBe(true);
      expect((await invocation(client, id)).Status).toBe('Cancelling');
      runs[0]?.finish({ status: 'Cancelled', responseCode: 137, stdout: '', stderr: '' });
      expect(
        (
          await eventually(
            () => invocation(client, id),
            (i) => i.Status !== 'Cancelling',
          )
        ).Status,
      ).toBe('Cancelled');
    });

    it('cancels a command still waiting for an offline agent at once; it never runs', async () => {
      const executed = instantExecutor(OK);
      const { ssm, client } = await start({ executor: executed.executor });
      ssm.setOnline(HOST_A, false);
      const id = (await sendPlain(client)).Command?.CommandId ?? '';
      await client.send(new CancelCommandCommand({ CommandId: id, InstanceIds: [HOST_A] }));
      expect((await invocation(client, id)).Status).toBe('Cancelled');
      ssm.setOnline(HOST_A, true);
      expect((await invocation(client, id)).Status).toBe('Cancelled');
      expect(executed.runs).toBe(0);
    });

    it('refuses an unknown command with InvalidCommandId', async () => {
      const { client } = await start();
      await expect(
        client.send(new CancelCommandCommand({ CommandId: '00000000-0000-0000-0000-000000000000' })),
      ).rejects.toMatchObject({ name: 'InvalidCommandId' });
    });
  });

  describe('Agent offline', () => {
    it('keeps a command Pending while the agent is offline, then runs it when the agent is back', async () => {
      const executed = instantExecutor(OK);
      const { ssm, client } = await start({ executor: executed.executor });
      ssm.setOnline(HOST_A, false);
      const id = (await sendPlain(client)).Command?.CommandId ?? '';
      expect((await invocation(client, id)).Status).toBe('Pending');
      expect(executed.runs).toBe(0);
      ssm.setOnline(HOST_A, true);
      await eventually(
        () => invocation(client, id),
        (i) => i.Status === 'Success',
      );
      expect(executed.runs).toBe(1);
    });

    it('times a command out undelivered after its TimeoutSeconds (DeliveryTimedOut); it never runs', async () => {
      const clock = new ManualClock(START);
      const executed = instantExecutor(OK);
      const { ssm, client } = await start({ clock, executor: executed.executor });
      ssm.setOnline(HOST_A, false);
      const id = (await sendPlain(client, { TimeoutSeconds: 30 })).Command?.CommandId ?? '';
      clock.advance(29_000);
      expect((await invocation(client, id)).Status).toBe('Pending');
      clock.advance(1_000);
      expect(await invocation(client, id)).toMatchObject({
        Status: 'TimedOut',
        StatusDetails: 'DeliveryTimedOut',
        ResponseCode: -1,
      });
      ssm.setOnline(HOST_A, true);
      const { Commands } = await client.send(new ListCommandsCommand({ CommandId: id }));
      expect(Commands?.[0]).toMatchObject({ Status: 'TimedOut', DeliveryTimedOutCount: 1 });
      expect(executed.runs).toBe(0);
    });

    it('keeps a command InProgress and the node ConnectionLost while it reboots on exit 194, then runs the step again', async () => {
      const root = await withHostRoot();
      try {
        const { ssm, client } = await start();
        const exits = [194, 0];
        let rebooted: () => void = () => undefined;
        const rebooting = new Promise<void>((resolve) => (rebooted = resolve));
        let rebootAsked = false;
        ssm.registerHost(
          HOST_A,
          root.path,
          {},
          {
            launcher: async () => ({
              code: exits.shift() ?? 1,
              stdout: `run ${2 - exits.length}\n`,
              stderr: '',
            }),
            reboot: async () => {
              rebootAsked = true;
              await rebooting;
            },
          },
        );
        const id = (await sendPlain(client)).Command?.CommandId ?? '';
        await eventually(
          async () => rebootAsked,
          (asked) => asked,
        );
        expect((await invocation(client, id)).Status).toBe('InProgress');
        const { InstanceInformationList } = await client.send(new DescribeInstanceInformationCommand({}));
        expect(InstanceInformationList?.find((i) => i.InstanceId === HOST_A)?.PingStatus).toBe(
          'ConnectionLost',
        );

        rebooted();
        expect(
          await eventually(
            () => invocation(client, id),
            (i) => i.Status === 'Success',
          ),
        ).toMatchObject({ ResponseCode: 0, StandardOutputContent: 'run 2\n' });
        const after = await client.send(new DescribeInstanceInformationCommand({}));
        expect(after.InstanceInformationList?.find((i) => i.InstanceId === HOST_A)?.PingStatus).toBe(
          'Online',
        );
      } finally {
        await root.remove();
      }
    });

    it('reports the agent ConnectionLost, with its last ping frozen at the moment it went', async () => {
      const clock = new ManualClock(START);
      const { ssm, client } = await start({ clock });
      clock.advance(5_000);
      ssm.setOnline(HOST_B, false);
      clock.advance(5_000);
      const { InstanceInformationList } = await client.send(new DescribeInstanceInformationCommand({}));
      expect(InstanceInformationList?.map((i) => [i.InstanceId, i.PingStatus, i.LastPingDateTime])).toEqual([
        [HOST_A, 'Online', new Date(START + 10_000)],
        [HOST_B, 'ConnectionLost', new Date(START + 5_000)],
      ]);
    });
  });

  describe('Operation: ListCommands and ListCommandInvocations', () => {
    it('lists newest first, filtered by instance and document, a page at a time', async () => {
      const { client } = await start({ executor: instantExecutor(OK).executor });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await sendPlain(client, { Comment: `c${i}` })).Command?.CommandId ?? '');
      await sendPlain(client, { InstanceIds: [HOST_B] });
      await sendPlain(client, { DocumentName: 'Echo', Parameters: { word: ['x'] } });
      const first = await client.send(
        new ListCommandsCommand({
          InstanceId: HOST_A,
          Filters: [{ key: 'DocumentName', value: 'Plain' }],
          MaxResults: 3,
        }),
      );
      expect(first.Commands?.map((c) => c.CommandId)).toEqual([ids[4], ids[3], ids[2]]);
      expect(first.NextToken).toBeDefined();
      const second = await client.send(
        new ListCommandsCommand({
          InstanceId: HOST_A,
          Filters: [{ key: 'DocumentName', value: 'Plain' }],
          MaxResults: 3,
          NextToken: first.NextToken,
        }),
      );
      expect(second.Commands?.map((c) => c.CommandId)).toEqual([ids[1], ids[0]]);
      expect(second.NextToken).toBeUndefined();
      await expect(client.send(new ListCommandsCommand({ NextToken: 'garbage' }))).rejects.toMatchObject({
        name: 'InvalidNextToken',
      });
    });

    it('lists the invocations of a command with their status', async () => {
      const { client } = await start({ executor: instantExecutor(OK).executor });
      const id =
        (await sendPlain(client, { InstanceIds: [HOST_A, HOST_B], Comment: 'both' })).Command?.CommandId ??
        '';
      const listed = await eventually(
        () => client.send(new ListCommandInvocationsCommand({ CommandId: id })),
        (out) => out.CommandInvocations?.every((i) => i.Status === 'Success') === true,
      );
      expect(listed.CommandInvocations?.map((i) => [i.InstanceId, i.Comment])).toEqual([
        [HOST_A, 'both'],
        [HOST_B, 'both'],
      ]);
    });
  });

  describe('Operation: DescribeInstanceInformation', () => {
    it('filters by instance id and ping status, in either filter form; lists nothing for an unmanaged id', async () => {
      const { ssm, client } = await start();
      ssm.setOnline(HOST_B, false);
      const byId = await client.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [HOST_B] }] }),
      );
      expect(byId.InstanceInformationList).toMatchObject([
        {
          InstanceId: HOST_B,
          PingStatus: 'ConnectionLost',
          ResourceType: 'ManagedInstance',
          PlatformType: 'Linux',
        },
      ]);
      const online = await client.send(
        new DescribeInstanceInformationCommand({
          InstanceInformationFilterList: [{ key: 'PingStatus', valueSet: ['Online'] }],
        }),
      );
      expect(online.InstanceInformationList?.map((i) => [i.InstanceId, i.ResourceType])).toEqual([
        [HOST_A, 'EC2Instance'],
      ]);
      const unmanaged = await client.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: ['i-0ddddddddddddddd4'] }],
        }),
      );
      expect(unmanaged.InstanceInformationList).toEqual([]);
    });

    it('reports hosts registered after start, online', async () => {
      const { ssm, client } = await start();
      ssm.registerHost('i-0eeeeeeeeeeeeeee5', '/nonexistent/e');
      const { InstanceInformationList } = await client.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: ['i-0eeeeeeeeeeeeeee5'] }],
        }),
      );
      expect(InstanceInformationList?.[0]?.PingStatus).toBe('Online');
      expect(() => ssm.registerHost('host-e', '/nonexistent/e')).toThrow(/not an instance id/);
    });
  });

  describe('Operation: ListTagsForResource', () => {
    it('lists a hybrid node (mi-) as ManagedInstance; refuses an EC2 instance (i-) with InvalidResourceId, as SSM does', async () => {
      const { ssm, client } = await start();
      ssm.setTags(HOST_A, { 'rejuv:pool': 'web' });
      ssm.setTags(HOST_B, { 'rejuv:pool': 'db' });
      const hybrid = await client.send(
        new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: HOST_B }),
      );
      expect(hybrid.TagList).toEqual([{ Key: 'rejuv:pool', Value: 'db' }]);
      // The ManagedInstance type takes on-premises nodes only: an EC2 instance's tags are EC2's own.
      await expect(
        client.send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: HOST_A })),
      ).rejects.toBeInstanceOf(InvalidResourceId);
    });
  });

  describe('Operation: GetDocument', () => {
    it('returns the content of a document it holds', async () => {
      const { client } = await start();
      const out = await client.send(new GetDocumentCommand({ Name: 'Echo' }));
      expect(out).toMatchObject({ Name: 'Echo', DocumentType: 'Command', Status: 'Active' });
      expect(JSON.parse(out.Content ?? '{}')).toMatchObject({ parameters: WORD_PARAMETER });
    });
  });

  describe('Lifecycle', () => {
    it('stop() cancels what is still running and waits for it', async () => {
      const { executor, runs } = heldExecutor();
      const { ssm, client } = await start({ executor });
      await sendPlain(client);
      await eventually(
        () => runs.length,
        (n) => n === 1,
      );
      const finished: string[] = [];
      ssm.onCommandFinished((i) => finished.push(i.status));
      client.destroy();
      await ssm.stop();
      expect(runs[0]?.execution.signal.aborted).toBe(true);
      expect(finished).toEqual(['Cancelled']);
    });
  });

  describe('Wire protocol', () => {
    it('speaks awsJson1_1: errors as HTTP 400 with __type and message; unknown operations refused', async () => {
      const { ssm } = await start();
      const post = (target: string, body: unknown) =>
        fetch(ssm.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
          body: JSON.stringify(body),
        });
      const refused = await post('AmazonSSM.SendCommand', { DocumentName: 'Missing', InstanceIds: [HOST_A] });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toBe('application/x-amz-json-1.1');
      expect(await refused.json()).toMatchObject({ __type: 'InvalidDocument', message: expect.any(String) });
      const unknown = await post('AmazonSSM.DeleteDocument', { Name: 'Echo' });
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
    });

    it('injects faults for one operation only, counting every request', async () => {
      const { ssm } = await start();
      ssm.failNext('SendCommand', 'ThrottlingException', 2);
      const post = (target: string, body: unknown) =>
        fetch(ssm.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonSSM.${target}` },
          body: JSON.stringify(body),
        });
      expect((await post('DescribeInstanceInformation', {})).status).toBe(200);
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await post('SendCommand', { DocumentName: 'Plain', InstanceIds: [HOST_A] })).status);
      expect(statuses).toEqual([400, 400, 200]);
      expect(ssm.requestCount('SendCommand')).toBe(3);
      ssm.failNext('GetDocument', 'InternalServerError');
      const serverError = await post('GetDocument', { Name: 'Echo' });
      expect(serverError.status).toBe(500);
      expect(await serverError.json()).toMatchObject({ __type: 'InternalServerError' });
    });
  });
});
