import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import { parseWith } from '../../domain/validation.js';
import type {
  HostCommandInvocation,
  HostCommandRequest,
  HostCommands,
  HostCommandStatus,
} from '../../ports/host-commands.js';
import { toHostCommandError } from './ssm-errors.js';

const RequestSchema = z
  .object({
    instanceId: InstanceIdSchema,
    documentName: z.string().regex(/^[a-zA-Z0-9_.:/-]{3,128}$/, 'SSM document name'),
    parameters: z.record(z.string().regex(/^[A-Za-z0-9]{1,64}$/), z.string().max(4096)),
    executionTimeoutSeconds: z.number().int().min(1).max(172_800),
    // SSM keeps the step key as the command's Comment, which holds at most 100 characters.
    stepKey: z.string().regex(/^[A-Za-z0-9:._-]{1,100}$/, 'step key: 1-100 chars of A-Z a-z 0-9 : . _ -'),
  })
  .strict();

const CommandIdSchema = z.string().regex(/^[A-Za-z0-9-]{36}$/, 'SSM command id');

/** How far back `send` looks for a command already sent for the same step. */
const IDEMPOTENCY_PAGES = 5;

/**
 * Sends SSM Command documents. SendCommand has no client token, so idempotency is built from the step
 * key: it is stored as the Comment, and a retried send first looks for a command of the same document
 * with that Comment on that instance.
 */
export class SsmHostCommands implements HostCommands {
  constructor(private readonly client: SSMClient) {}

  async send(request: HostCommandRequest): Promise<{ commandId: string }> {
    const valid = parseWith(RequestSchema, 'host command', request);
    const existing = await this.findSent(valid.instanceId, valid.documentName, valid.stepKey);
    if (existing !== undefined) return { commandId: existing };
    try {
      const { Command } = await this.client.send(
        new SendCommandCommand({
          InstanceIds: [valid.instanceId],
          DocumentName: valid.documentName,
          Parameters: Object.fromEntries(Object.entries(valid.parameters).map(([k, v]) => [k, [v]])),
          Comment: valid.stepKey,
          // Delivery and execution deadlines: SSM gives up on its own if the host never answers.
          TimeoutSeconds: Math.max(30, Math.min(2_592_000, valid.executionTimeoutSeconds)),
        }),
      );
      return { commandId: parseWith(CommandIdSchema, 'SSM command id', Command?.CommandId) };
    } catch (error) {
      throw toHostCommandError(error, valid.documentName, valid.instanceId);
    }
  }

  async invocation(commandId: string, instanceId: string): Promise<HostCommandInvocation> {
    parseWith(CommandIdSchema, 'SSM command id', commandId);
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    try {
      const out = await this.client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
      return {
        commandId,
        instanceId,
        status: (out.Status ?? 'Pending') as HostCommandStatus,
        responseCode: out.ResponseCode ?? -1,
        stdout: out.StandardOutputContent ?? '',
        stderr: out.StandardErrorContent ?? '',
      };
    } catch (error) {
      // Right after SendCommand, SSM may not know the invocation yet: that is still pending.
      if (error instanceof Error && error.name === 'InvocationDoesNotExist') {
        return { commandId, instanceId, status: 'Pending', responseCode: -1, stdout: '', stderr: '' };
      }
      throw toHostCommandError(error, '(command)', instanceId);
    }
  }

  async cancel(commandId: string, instanceId: string): Promise<void> {
    parseWith(CommandIdSchema, 'SSM command id', commandId);
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    await this.client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
  }

  private async findSent(
    instanceId: string,
    documentName: string,
    stepKey: string,
  ): Promise<string | undefined> {
    let nextToken: string | undefined;
    for (let page = 0; page < IDEMPOTENCY_PAGES; page++) {
      const out = await this.client.send(
        new ListCommandsCommand({
          InstanceId: instanceId,
          Filters: [{ key: 'DocumentName', value: documentName }],
          MaxResults: 50,
          NextToken: nextToken,
        }),
      );
      const match = (out.Commands ?? []).find((c) => c.Comment === stepKey);
      if (match?.CommandId !== undefined) return match.CommandId;
      nextToken = out.NextToken;
      if (nextToken === undefined) return undefined;
    }
    return undefined;
  }
}
