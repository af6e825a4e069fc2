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
import {
  PENDING_COMMAND_STATUSES,
  TERMINAL_COMMAND_STATUSES,
  type HostCommandInvocation,
  type HostCommandRequest,
  type HostCommands,
} from '../../ports/host-commands.js';
import { toSsmError, type SsmCallContext } from './errors.js';
import { findCommandByComment } from './find-command-by-comment.js';

export const SsmDocumentNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9_.:/-]{3,128}$/, 'SSM document name: 3-128 chars of a-z A-Z 0-9 _ . : / -');

/** SSM keeps the step key as the command's Comment, which holds at most 100 characters. */
export const StepKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9:._-]{1,100}$/, 'step key: 1-100 chars of A-Z a-z 0-9 : . _ -');

export const SsmCommandIdSchema = z.string().regex(/^[A-Za-z0-9-]{36}$/, 'SSM command id');

const HostCommandRequestSchema = z
  .object({
    instanceId: InstanceIdSchema,
    documentName: SsmDocumentNameSchema,
    parameters: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'parameter name'), z.string().max(4096)),
    executionTimeoutSeconds: z.number().int().min(1).max(172_800),
    stepKey: StepKeySchema,
  })
  .strict();

const InvocationStatusSchema = z.enum([...TERMINAL_COMMAND_STATUSES, ...PENDING_COMMAND_STATUSES]);

/** SendCommand's TimeoutSeconds must lie in this range. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;
const MAX_DELIVERY_TIMEOUT_SECONDS = 2_592_000;

/**
 * How far back `send` looks for a command already sent for the same step: this many ListCommands pages
 * of PAGE_SIZE, newest first. A retried step comes back within minutes, long before that many commands
 * of one document have been sent to one host.
 */
const IDEMPOTENCY_PAGES = 5;
const PAGE_SIZE = 50;

/**
 * Sends SSM Command documents to one instance each and reads their invocations.
 *
 * SendCommand has no client token, so idempotency is built from the step key: it is stored as the
 * command's Comment, and `send` first looks for a command of the same document with that Comment on that
 * instance. This protects against a step retried after its first send went through (the usual case: a
 * Lambda that timed out or lost its response); two sends of the same step racing each other could still
 * both send, which the one-execution-per-host workflow never does.
 *
 * The document's own steps carry its execution timeout (`timeoutSeconds`); `executionTimeoutSeconds`
 * becomes SendCommand's TimeoutSeconds, after which SSM gives up on a command the host never picked up.
 *
 * IAM: ssm:SendCommand (on the document and the instance), ssm:ListCommands, ssm:GetCommandInvocation,
 * ssm:CancelCommand.
 *
 * @example
 * const commands = new SsmHostCommands(new SSMClient({}));
 * const { commandId } = await commands.send({
 *   instanceId: 'i-0123456789abcdef0', documentName: 'rejuv-Preflight', parameters: { level: 'kernel' },
 *   executionTimeoutSeconds: 300, stepKey: 'exec-17:Preflight',
 * });
 * const { status, stdout } = await commands.invocation(commandId, 'i-0123456789abcdef0');
 */
export class SsmHostCommands implements HostCommands {
  constructor(private readonly client: SSMClient) {}

  /**
   * @throws ValidationError before anything is sent; UnknownHostInstanceError, UnknownHostDocumentError,
   * HostCommandRejectedError (InvalidParameters and the like), SsmUnavailableError (retryable).
   */
  async send(request: HostCommandRequest): Promise<{ commandId: string }> {
    const valid = parseWith(HostCommandRequestSchema, 'host command', request);
    const existing = await this.findSent(valid.instanceId, valid.documentName, valid.stepKey);
    if (existing !== undefined) return { commandId: existing };
    const { Command } = await this.call(
      { operation: 'SendCommand', instanceId: valid.instanceId, documentName: valid.documentName },
      () =>
        this.client.send(
          new SendCommandCommand({
            InstanceIds: [valid.instanceId],
            DocumentName: valid.documentName,
            Parameters: Object.fromEntries(Object.entries(valid.parameters).map(([k, v]) => [k, [v]])),
            Comment: valid.stepKey,
            TimeoutSeconds: Math.min(
              MAX_DELIVERY_TIMEOUT_SECONDS,
              Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, valid.executionTimeoutSeconds),
            ),
          }),
        ),
    );
    return { commandId: parseWith(SsmCommandIdSchema, 'SSM command id', Command?.CommandId) };
  }

  /**
   * The invocation as SSM reports it. Right after SendCommand, GetCommandInvocation may answer
   * InvocationDoesNotExist for a while (SSM has not fanned the command out yet); that is read as Pending,
   * and the caller's deadline bounds how long a command that truly does not exist stays "pending".
   */
  async invocation(commandId: string, instanceId: string): Promise<HostCommandInvocation> {
    parseWith(SsmCommandIdSchema, 'SSM command id', commandId);
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    const out = await this.client
      .send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }))
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'InvocationDoesNotExist') return undefined;
        throw toSsmError(error, { operation: 'GetCommandInvocation', instanceId });
      });
    if (out === undefined)
      return { commandId, instanceId, status: 'Pending', responseCode: -1, stdout: '', stderr: '' };
    return {
      commandId,
      instanceId,
      status: parseWith(InvocationStatusSchema, 'SSM invocation status', out.Status),
      responseCode: out.ResponseCode ?? -1,
      stdout: out.StandardOutputContent ?? '',
      stderr: out.StandardErrorContent ?? '',
    };
  }

  /** Asks SSM to stop the command on the instance; a command already finished is left as it is. */
  async cancel(commandId: string, instanceId: string): Promise<void> {
    parseWith(SsmCommandIdSchema, 'SSM command id', commandId);
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    await this.call({ operation: 'CancelCommand', instanceId }, () =>
      this.client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] })),
    );
  }

  private async findSent(
    instanceId: string,
    documentName: string,
    stepKey: string,
  ): Promise<string | undefined> {
    return findCommandByComment(
      (nextToken) =>
        this.call({ operation: 'ListCommands', instanceId, documentName }, () =>
          this.client.send(
            new ListCommandsCommand({
              InstanceId: instanceId,
              Filters: [{ key: 'DocumentName', value: documentName }],
              MaxResults: PAGE_SIZE,
              NextToken: nextToken,
            }),
          ),
        ),
      stepKey,
      IDEMPOTENCY_PAGES,
    );
  }

  private async call<T>(context: SsmCallContext, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toSsmError(error, context);
    }
  }
}
