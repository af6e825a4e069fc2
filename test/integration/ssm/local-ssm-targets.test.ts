/**
 * The local SSM's sends to a fleet: Targets (tag:<key>, InstanceIds) validated as SSM validates them, and
 * MaxConcurrency and MaxErrors applied as SSM applies them, seen through the real SDK client.
 */
import {
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
  type DocumentExecutor,
  type RunningLocalSsm,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import { eventually, heldExecutor, shellDocument } from './ssm-test-kit.js';

const FLEET = [
  'mi-00000000000000f01',
  'mi-00000000000000f02',
  'mi-00000000000000f03',
  'mi-00000000000000f04',
];
const UNTAGGED = 'mi-00000000000000f05';
const MANAGED = { 'rejuv:managed': 'true' };
const OK = { status: 'Success', responseCode: 0, stdout: 'ok\n', stderr: '' } as const;
const FAILED = { status: 'Failed', responseCode: 1, stdout: '', stderr: 'broken\n' } as const;

let ssm: RunningLocalSsm | undefined;
let client: SSMClient | undefined;

async function start(executor: DocumentExecutor): Promise<{ ssm: RunningLocalSsm; client: SSMClient }> {
  ssm = await startLocalSsmEndpoint({
    documents: { Plain: shellDocument(['true']) },
    hosts: {
      ...Object.fromEntries(FLEET.map((id) => [id, { hostRoot: `/nonexistent/${id}`, tags: MANAGED }])),
      [UNTAGGED]: { hostRoot: '/nonexistent/untagged' },
    },
    executor,
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

const byTag = (c: SSMClient, input: Partial<SendCommandCommandInput> = {}) =>
  c.send(
    new SendCommandCommand({
      DocumentName: 'Plain',
      Targets: [{ Key: 'tag:rejuv:managed', Values: ['true'] }],
      ...input,
    }),
  );

const commandOf = async (c: SSMClient, commandId: string | undefined) =>
  (await c.send(new ListCommandsCommand({ CommandId: commandId }))).Commands?.[0];

const invocationsOf = async (c: SSMClient, commandId: string | undefined, details = false) =>
  (await c.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: details })))
    .CommandInvocations ?? [];

/** Invocations in flight (dispatched, not ended) whenever the held executor is asked to run one. */
function countingExecutor(result = OK) {
  const held = heldExecutor();
  let inFlight = 0;
  const peaks: number[] = [];
  const executor: DocumentExecutor = async (execution) => {
    inFlight += 1;
    peaks.push(inFlight);
    try {
      return await held.executor(execution);
    } finally {
      inFlight -= 1;
    }
  };
  return { executor, runs: held.runs, peaks, result };
}

describe('Local SSM endpoint: SendCommand by Targets', () => {
  it('sends to every instance with the tag and no other, echoing the targets and the rate controls', async () => {
    const { ssm, client } = await start(async () => OK);
    const sent = await byTag(client, { MaxConcurrency: '10%', MaxErrors: '1' });
    expect(sent.Command).toMatchObject({
      Targets: [{ Key: 'tag:rejuv:managed', Values: ['true'] }],
      InstanceIds: [],
      MaxConcurrency: '10%',
      MaxErrors: '1',
      TargetCount: 4,
    });
    expect(
      ssm
        .commands()
        .map((i) => i.instanceId)
        .sort(),
    ).toEqual(FLEET);
    await eventually(
      () => commandOf(client, sent.Command?.CommandId),
      (c) => c?.Status === 'Success',
    );
  });

  it('takes an InstanceIds target, and every target must hold (their intersection)', async () => {
    const { ssm, client } = await start(async () => OK);
    await byTag(client, {
      Targets: [
        { Key: 'tag:rejuv:managed', Values: ['true'] },
        { Key: 'InstanceIds', Values: [FLEET[0] as string, UNTAGGED] },
      ],
    });
    expect(ssm.commands().map((i) => i.instanceId)).toEqual([FLEET[0]]);
  });

  it('refuses what SSM refuses, sending nothing', async () => {
    const { ssm, client } = await start(async () => OK);
    const tag = { Key: 'tag:rejuv:managed', Values: ['true'] };
    const refusals = [
      [{ Targets: Array.from({ length: 6 }, () => tag) }, 'ValidationException'],
      [{ Targets: [tag], InstanceIds: [FLEET[0] as string] }, 'ValidationException'],
      [{ MaxConcurrency: '0' }, 'ValidationException'],
      [{ MaxConcurrency: '101%' }, 'ValidationException'],
      [{ MaxErrors: '-1' }, 'ValidationException'],
      [{ Targets: [{ Key: 'tag:env', Values: ['a', 'b', 'c', 'd', 'e', 'f'] }] }, 'InvalidTarget'],
      [{ Targets: [{ Key: 'resource-groups:Name', Values: ['g'] }] }, 'InvalidTarget'],
    ] as const;
    for (const [input, name] of refusals)
      await expect(byTag(client, input as Partial<SendCommandCommandInput>)).rejects.toMatchObject({ name });
    expect(ssm.commands()).toEqual([]);
  });

  it('ends a command whose tag matches no instance at once: Failed, NoInstancesInTag', async () => {
    const { client } = await start(async () => OK);
    const sent = await byTag(client, { Targets: [{ Key: 'tag:rejuv:managed', Values: ['nope'] }] });
    expect(await commandOf(client, sent.Command?.CommandId)).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'NoInstancesInTag',
      TargetCount: 0,
    });
  });
});

describe('Local SSM endpoint: MaxConcurrency', () => {
  it('keeps the invocations beyond it Pending: never more in flight, one first, more as they end', async () => {
    const counting = countingExecutor();
    const { client } = await start(counting.executor);
    const sent = await byTag(client, { MaxConcurrency: '2', MaxErrors: '0' });
    const commandId = sent.Command?.CommandId;
    await eventually(
      () => counting.runs.length,
      (n) => n === 1,
    );
    // SSM's ramp: the first invocation must end before more are sent.
    expect((await invocationsOf(client, commandId)).filter((i) => i.Status === 'Pending')).toHaveLength(3);
    counting.runs[0]?.finish(OK);
    await eventually(
      () => counting.runs.length,
      (n) => n === 3,
    );
    expect((await invocationsOf(client, commandId)).filter((i) => i.Status === 'Pending')).toHaveLength(1);
    counting.runs[1]?.finish(OK);
    counting.runs[2]?.finish(OK);
    await eventually(
      () => counting.runs.length,
      (n) => n === 4,
    );
    counting.runs[3]?.finish(OK);
    await eventually(
      () => commandOf(client, commandId),
      (c) => c?.Status === 'Success' && c.CompletedCount === 4,
    );
    expect(Math.max(...counting.peaks)).toBe(2);
  });
});

describe('Local SSM endpoint: MaxErrors', () => {
  it('starts no invocation once errors exceed it: the rest end Cancelled, Terminated; the command Failed', async () => {
    let runs = 0;
    const { client } = await start(async () => {
      runs += 1;
      return FAILED;
    });
    const sent = await byTag(client, { MaxConcurrency: '1', MaxErrors: '1' });
    const command = await eventually(
      () => commandOf(client, sent.Command?.CommandId),
      (c) => c?.Status === 'Failed',
    );
    // MaxErrors 1 tolerates one error and stops at the second.
    expect(runs).toBe(2);
    expect(command).toMatchObject({ StatusDetails: 'Failed', ErrorCount: 2, CompletedCount: 4 });
    const invocations = await invocationsOf(client, sent.Command?.CommandId);
    expect(invocations.map((i) => `${i.Status}/${i.StatusDetails}`).sort()).toEqual([
      'Cancelled/Terminated',
      'Cancelled/Terminated',
      'Failed/Failed',
      'Failed/Failed',
    ]);
  });

  it('counts errors against a percentage of the targets, and lets the rest run while within it', async () => {
    let call = 0;
    const { client } = await start(async () => (++call === 1 ? FAILED : OK));
    // 25% of 4 targets: one error is within the limit.
    const sent = await byTag(client, { MaxConcurrency: '1', MaxErrors: '25%' });
    const command = await eventually(
      () => commandOf(client, sent.Command?.CommandId),
      (c) => c?.CompletedCount === 4,
    );
    expect(call).toBe(4);
    expect(command).toMatchObject({ Status: 'Success', StatusDetails: 'Incomplete', ErrorCount: 1 });
  });
});

describe('Local SSM endpoint: ListCommandInvocations with Details', () => {
  it("gives each invocation's plugin output, stdout then stderr, cut at 2,500 characters", async () => {
    const long = 'x'.repeat(3000);
    const { client } = await start(async (execution) =>
      execution.hostRoot.endsWith('f01')
        ? { status: 'Success', responseCode: 0, stdout: long, stderr: '' }
        : { status: 'Failed', responseCode: 2, stdout: 'partial\n', stderr: 'why\n' },
    );
    const sent = await byTag(client, {
      Targets: [{ Key: 'InstanceIds', Values: [FLEET[0] as string, FLEET[1] as string] }],
      MaxErrors: '1',
    });
    await eventually(
      () => commandOf(client, sent.Command?.CommandId),
      (c) => c?.CompletedCount === 2,
    );
    const [withDetails, without] = [
      await invocationsOf(client, sent.Command?.CommandId, true),
      await invocationsOf(client, sent.Command?.CommandId, false),
    ];
    const plugin = (id: string) => withDetails.find((i) => i.InstanceId === id)?.CommandPlugins?.[0];
    expect(plugin(FLEET[0] as string)).toMatchObject({ Name: 'run', Status: 'Success', ResponseCode: 0 });
    expect(plugin(FLEET[0] as string)?.Output).toBe(long.slice(0, 2500));
    expect(plugin(FLEET[1] as string)).toMatchObject({
      Status: 'Failed',
      ResponseCode: 2,
      Output: 'partial\n\n----------ERROR-------\nwhy\n',
    });
    expect(without.every((i) => (i.CommandPlugins ?? []).length === 0)).toBe(true);
  });
});
