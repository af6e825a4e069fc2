/**
 * FleetCommands on SSM Run Command: one SendCommand by tag with MaxConcurrency and MaxErrors; results read
 * with ListCommandInvocations (which instances, and where each stands) and GetCommandInvocation for the
 * output of each ended invocation.
 *
 * Why not ListCommandInvocations with Details: its CommandPlugins[].Output holds 2,500 characters (the
 * API model's CommandPluginOutput), stdout and stderr run together, while GetCommandInvocation gives
 * 24,000 of stdout alone. CollectAging's line grows with the host's VMs (about 150 characters each), so a
 * host with more than a dozen VMs would be cut off in the listing and refused as truncated. One
 * GetCommandInvocation per host and round is the price: 1,000 hosts every 5 minutes is about 3.3 calls a
 * second, under the operation's default rate.
 *
 * IAM: ssm:SendCommand (on the document, and on the instances, whose tags IAM checks one by one; an
 * instance refused ends AccessDenied), ssm:ListCommands, ssm:ListCommandInvocations,
 * ssm:GetCommandInvocation.
 */
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import { parseWith } from '../../domain/validation.js';
import type { FleetCommandRequest, FleetCommands, FleetInvocation } from '../../ports/fleet-commands.js';
import {
  PENDING_COMMAND_STATUSES,
  TERMINAL_COMMAND_STATUSES,
  type HostCommandStatus,
} from '../../ports/host-commands.js';
import { toSsmError, type SsmCallContext } from './errors.js';
import { findCommandByComment } from './find-command-by-comment.js';
import { SsmCommandIdSchema, SsmDocumentNameSchema, StepKeySchema } from './ssm-host-commands.js';

const RateSchema = (pattern: RegExp, what: string) =>
  z.string().regex(pattern, `${what}: a number or a percentage, as SSM takes it`);

const FleetCommandRequestSchema = z
  .object({
    documentName: SsmDocumentNameSchema,
    parameters: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'parameter name'), z.string().max(4096)),
    tag: z
      .object({
        key: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,128}$/, 'tag key'),
        value: z.string().regex(/^[A-Za-z0-9_.:/=+@ -]{1,256}$/, 'tag value'),
      })
      .strict(),
    maxConcurrency: RateSchema(/^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/, 'MaxConcurrency'),
    maxErrors: RateSchema(/^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/, 'MaxErrors'),
    deliveryTimeoutSeconds: z.number().int().min(30).max(2_592_000),
    sendKey: StepKeySchema,
  })
  .strict();

const StatusSchema = z.enum([...TERMINAL_COMMAND_STATUSES, ...PENDING_COMMAND_STATUSES]);
const TERMINAL: ReadonlySet<HostCommandStatus> = new Set(TERMINAL_COMMAND_STATUSES);

/** ListCommands pages searched for a retried send: a retry comes minutes later, a few pages back at most. */
const SEARCH_PAGES = 5;
const PAGE_SIZE = 50;

export class SsmFleetCommands implements FleetCommands {
  constructor(private readonly client: SSMClient) {}

  async send(request: FleetCommandRequest): Promise<{ commandId: string }> {
    const valid = parseWith(FleetCommandRequestSchema, 'fleet command', request);
    const { Command } = await this.call({ operation: 'SendCommand', documentName: valid.documentName }, () =>
      this.client.send(
        new SendCommandCommand({
          DocumentName: valid.documentName,
          Targets: [{ Key: `tag:${valid.tag.key}`, Values: [valid.tag.value] }],
          Parameters: Object.fromEntries(Object.entries(valid.parameters).map(([k, v]) => [k, [v]])),
          MaxConcurrency: valid.maxConcurrency,
          MaxErrors: valid.maxErrors,
          TimeoutSeconds: valid.deliveryTimeoutSeconds,
          Comment: valid.sendKey,
        }),
      ),
    );
    return { commandId: parseWith(SsmCommandIdSchema, 'SSM command id', Command?.CommandId) };
  }

  async findSent(documentName: string, sendKey: string): Promise<string | undefined> {
    parseWith(SsmDocumentNameSchema, 'document name', documentName);
    return findCommandByComment(
      (nextToken) =>
        this.call({ operation: 'ListCommands', documentName }, () =>
          this.client.send(
            new ListCommandsCommand({
              Filters: [{ key: 'DocumentName', value: documentName }],
              MaxResults: PAGE_SIZE,
              NextToken: nextToken,
            }),
          ),
        ),
      sendKey,
      SEARCH_PAGES,
    );
  }

  async invocations(commandId: string): Promise<FleetInvocation[]> {
    parseWith(SsmCommandIdSchema, 'SSM command id', commandId);
    const listed: { instanceId: string; status: HostCommandStatus; statusDetails: string }[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.call({ operation: 'ListCommandInvocations' }, () =>
        this.client.send(
          new ListCommandInvocationsCommand({
            CommandId: commandId,
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
        ),
      );
      for (const invocation of out.CommandInvocations ?? [])
        listed.push({
          instanceId: parseWith(InstanceIdSchema, 'instance id', invocation.InstanceId),
          status: parseWith(StatusSchema, 'SSM invocation status', invocation.Status),
          statusDetails: invocation.StatusDetails ?? '',
        });
      nextToken = out.NextToken;
    } while (nextToken !== undefined);
    const results: FleetInvocation[] = [];
    for (const invocation of listed) {
      if (!TERMINAL.has(invocation.status)) {
        results.push({ ...invocation, responseCode: -1, stdout: '' });
        continue;
      }
      const out = await this.client
        .send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: invocation.instanceId }))
        .catch((error: unknown) => {
          // An invocation that never reached its agent (Terminated, AccessDenied) may have no details.
          if (error instanceof Error && error.name === 'InvocationDoesNotExist') return undefined;
          throw toSsmError(error, { operation: 'GetCommandInvocation', instanceId: invocation.instanceId });
        });
      results.push({
        ...invocation,
        responseCode: out?.ResponseCode ?? -1,
        stdout: out?.StandardOutputContent ?? '',
      });
    }
    return results;
  }

  private async call<T>(context: SsmCallContext, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toSsmError(error, context);
    }
  }
}
