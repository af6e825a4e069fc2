/**
 * The SSM operations the local endpoint answers, as JSON in and out: requests checked the way SSM checks
 * them (ValidationException, InvalidDocument, InvalidInstanceId, InvalidParameters, ...), responses shaped
 * as SSM's, with timestamps in epoch seconds where the SDK's model says timestamp.
 */
import { z } from 'zod';
import type { CommandDocument } from '../../host/runner/command-document.js';
import { resolveParameters } from '../../host/runner/document-parameters.js';
import { DocumentParameterError, UnsupportedDocumentError } from '../../host/runner/errors.js';
import { AwsServiceError, type JsonOperation } from '../json-protocol/aws-json-server.js';
import {
  isFinished,
  type CommandView,
  type InvocationStatus,
  type InvocationView,
  type LocalCommands,
} from './local-commands.js';
import type { ManagedHost, ManagedHosts } from './managed-hosts.js';
import { paginate } from './pagination.js';
import { MAX_CONCURRENCY_PATTERN, MAX_ERRORS_PATTERN, errorsExceeded } from './rate-controls.js';

export const SSM_OPERATIONS = [
  'SendCommand',
  'GetCommandInvocation',
  'ListCommands',
  'ListCommandInvocations',
  'CancelCommand',
  'DescribeInstanceInformation',
  'GetDocument',
  'ListTagsForResource',
] as const;

export type SsmOperation = (typeof SSM_OPERATIONS)[number];

export interface SsmState {
  readonly documents: ReadonlyMap<string, CommandDocument>;
  readonly hosts: ManagedHosts;
  readonly commands: LocalCommands;
  readonly agentVersion: string;
  /**
   * Whether the caller may send the document to this instance (IAM on the instance and its tags), for
   * sends by Targets. @default every instance
   */
  readonly mayTarget?: (
    accessKeyId: string | undefined,
    documentName: string,
    instanceId: string,
  ) => Promise<boolean>;
}

const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;
/** ListCommandInvocations' CommandPlugins[].Output holds this much (the API model's CommandPluginOutput). */
export const PLUGIN_OUTPUT_LIMIT_CHARS = 2500;
/** What the SSM agent puts between a plugin's stdout and stderr in that output. */
const PLUGIN_STDERR_SEPARATOR = '\n----------ERROR-------\n';
/** The API model: at most 5 targets; tag targets take at most 5 values (the user guide), others 50. */
const MAX_TARGETS = 5;
const MAX_TAG_VALUES = 5;
const MAX_TARGET_VALUES = 50;

const TargetSchema = z.object({
  Key: z
    .string()
    .min(1)
    .max(163)
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=\-@]*$/u),
  Values: z.array(z.string().min(1)).min(1).max(MAX_TARGET_VALUES),
});

const CommandIdSchema = z.string().length(36);
const MaxResults = (min: number, max: number) => z.number().int().min(min).max(max).optional();

const SendCommandRequest = z.object({
  DocumentName: z.string().regex(/^[a-zA-Z0-9_.:/-]{3,128}$/),
  InstanceIds: z.array(z.string()).min(1).max(50).optional(),
  Targets: z.array(TargetSchema).max(MAX_TARGETS).optional(),
  MaxConcurrency: z.string().regex(MAX_CONCURRENCY_PATTERN).optional(),
  MaxErrors: z.string().regex(MAX_ERRORS_PATTERN).optional(),
  Parameters: z.record(z.string(), z.array(z.string())).optional(),
  Comment: z.string().max(100).optional(),
  TimeoutSeconds: z.number().int().min(30).max(2_592_000).optional(),
});

const GetCommandInvocationRequest = z.object({
  CommandId: CommandIdSchema,
  InstanceId: z.string().min(1),
  PluginName: z.string().optional(),
});

const ListCommandsRequest = z.object({
  CommandId: CommandIdSchema.optional(),
  InstanceId: z.string().optional(),
  MaxResults: MaxResults(1, 50),
  NextToken: z.string().optional(),
  Filters: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
});

const ListCommandInvocationsRequest = z.object({
  CommandId: CommandIdSchema.optional(),
  InstanceId: z.string().optional(),
  MaxResults: MaxResults(1, 50),
  NextToken: z.string().optional(),
  Details: z.boolean().optional(),
});

const CancelCommandRequest = z.object({
  CommandId: CommandIdSchema,
  InstanceIds: z.array(z.string()).max(50).optional(),
});

const DescribeInstanceInformationRequest = z.object({
  Filters: z.array(z.object({ Key: z.string(), Values: z.array(z.string()).min(1) })).optional(),
  InstanceInformationFilterList: z
    .array(z.object({ key: z.string(), valueSet: z.array(z.string()).min(1) }))
    .optional(),
  MaxResults: MaxResults(5, 50),
  NextToken: z.string().optional(),
});

const GetDocumentRequest = z.object({ Name: z.string().min(1) });

const ListTagsForResourceRequest = z.object({
  ResourceType: z.enum([
    'Document',
    'ManagedInstance',
    'MaintenanceWindow',
    'Parameter',
    'PatchBaseline',
    'OpsItem',
    'OpsMetadata',
    'Automation',
    'Association',
  ]),
  ResourceId: z.string().min(1),
});

function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`);
  throw new AwsServiceError(
    'ValidationException',
    `${issues.length} validation error(s) detected: ${issues.join('; ')}`,
  );
}

/** The operations over `state`, keyed by the name in `X-Amz-Target: AmazonSSM.<name>`. */
export function ssmOperations(state: SsmState): Record<SsmOperation, JsonOperation> {
  const { documents, hosts, commands } = state;

  const commandOrThrow = (commandId: string): CommandView => {
    const command = commands.get(commandId);
    if (command === undefined)
      throw new AwsServiceError('InvalidCommandId', `command ${commandId} not found`);
    return command;
  };

  return {
    SendCommand: async (body, caller) => {
      const request = parseRequest(SendCommandRequest, body);
      const document = documents.get(request.DocumentName);
      if (document === undefined)
        throw new AwsServiceError(
          'InvalidDocument',
          `Document with name ${request.DocumentName} does not exist.`,
        );
      const targets = request.Targets ?? [];
      if (request.InstanceIds !== undefined && targets.length > 0)
        throw new AwsServiceError('ValidationException', 'Specify InstanceIds or Targets, not both.');
      if (request.InstanceIds === undefined && targets.length === 0)
        throw new AwsServiceError('ValidationException', 'InstanceIds or Targets must be given.');
      const byTargets = targets.length > 0;
      const instanceIds = byTargets ? resolveTargets(hosts, targets) : (request.InstanceIds ?? []);
      if (!byTargets && instanceIds.length === 0)
        throw new AwsServiceError('ValidationException', 'InstanceIds or Targets must be given.');
      if (new Set(instanceIds).size !== instanceIds.length)
        throw new AwsServiceError('DuplicateInstanceId', 'An instance id appears more than once.');
      const unknown = instanceIds.filter((id) => hosts.get(id) === undefined);
      if (unknown.length > 0)
        throw new AwsServiceError(
          'InvalidInstanceId',
          `Instances [${unknown.join(', ')}] not in a valid state.`,
        );
      const parameters = request.Parameters ?? {};
      try {
        resolveParameters(request.DocumentName, document, parameters);
      } catch (error) {
        if (error instanceof DocumentParameterError || error instanceof UnsupportedDocumentError)
          throw new AwsServiceError('InvalidParameters', error.message);
        throw error;
      }
      const denied: string[] = [];
      if (byTargets && state.mayTarget !== undefined) {
        for (const id of instanceIds)
          if (!(await state.mayTarget(caller.accessKeyId, request.DocumentName, id))) denied.push(id);
      }
      const command = commands.send({
        documentName: request.DocumentName,
        document,
        parameters,
        instanceIds,
        comment: request.Comment ?? '',
        timeoutSeconds: request.TimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS,
        ...(request.MaxConcurrency === undefined ? {} : { maxConcurrency: request.MaxConcurrency }),
        ...(request.MaxErrors === undefined ? {} : { maxErrors: request.MaxErrors }),
        targets,
        deniedInstanceIds: denied,
      });
      return { Command: commandJson(command) };
    },

    GetCommandInvocation: (body) => {
      const request = parseRequest(GetCommandInvocationRequest, body);
      const invocation = commands
        .get(request.CommandId)
        ?.invocations.find((i) => i.instanceId === request.InstanceId);
      if (invocation === undefined) throw new AwsServiceError('InvocationDoesNotExist', '');
      return {
        CommandId: invocation.commandId,
        InstanceId: invocation.instanceId,
        Comment: invocation.comment,
        DocumentName: invocation.documentName,
        DocumentVersion: '$DEFAULT',
        ResponseCode: invocation.responseCode,
        Status: invocation.status,
        StatusDetails: invocation.statusDetails,
        StandardOutputContent: invocation.stdout,
        StandardOutputUrl: '',
        StandardErrorContent: invocation.stderr,
        StandardErrorUrl: '',
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
        // Strings, not timestamps, in SSM's model of this one operation.
        ...(invocation.startedAtMs === undefined
          ? {}
          : { ExecutionStartDateTime: new Date(invocation.startedAtMs).toISOString() }),
        ...(invocation.endedAtMs === undefined || invocation.startedAtMs === undefined
          ? {}
          : {
              ExecutionEndDateTime: new Date(invocation.endedAtMs).toISOString(),
              ExecutionElapsedTime: elapsed(invocation.endedAtMs - invocation.startedAtMs),
            }),
      };
    },

    ListCommands: (body) => {
      const request = parseRequest(ListCommandsRequest, body);
      if (request.CommandId !== undefined) commandOrThrow(request.CommandId);
      const filters = request.Filters ?? [];
      for (const filter of filters) {
        if (filter.key !== 'DocumentName' && filter.key !== 'Status')
          throw new AwsServiceError('InvalidFilterKey', `filter key ${filter.key} is not emulated locally`);
      }
      const selected = commands
        .list()
        .reverse()
        .filter((c) => request.CommandId === undefined || c.commandId === request.CommandId)
        .filter((c) => request.InstanceId === undefined || c.instanceIds.includes(request.InstanceId))
        .filter((c) =>
          filters.every((f) =>
            f.key === 'DocumentName' ? c.documentName === f.value : commandStatus(c).status === f.value,
          ),
        );
      const page = paginate(selected, request.MaxResults ?? 50, request.NextToken);
      return { Commands: page.items.map(commandJson), NextToken: page.nextToken };
    },

    ListCommandInvocations: (body) => {
      const request = parseRequest(ListCommandInvocationsRequest, body);
      if (request.CommandId !== undefined) commandOrThrow(request.CommandId);
      const selected = commands
        .list()
        .reverse()
        .filter((c) => request.CommandId === undefined || c.commandId === request.CommandId)
        .flatMap((c) => c.invocations)
        .filter((i) => request.InstanceId === undefined || i.instanceId === request.InstanceId);
      const page = paginate(selected, request.MaxResults ?? 50, request.NextToken);
      return {
        CommandInvocations: page.items.map((invocation) =>
          invocationSummaryJson(
            invocation,
            request.Details === true ? pluginName(documents.get(invocation.documentName)) : undefined,
          ),
        ),
        NextToken: page.nextToken,
      };
    },

    CancelCommand: (body) => {
      const request = parseRequest(CancelCommandRequest, body);
      if (!commands.cancel(request.CommandId, request.InstanceIds))
        throw new AwsServiceError('InvalidCommandId', `command ${request.CommandId} not found`);
      return {};
    },

    DescribeInstanceInformation: (body) => {
      const request = parseRequest(DescribeInstanceInformationRequest, body);
      const filters = [
        ...(request.Filters ?? []).map((f) => ({ key: f.Key, values: f.Values })),
        ...(request.InstanceInformationFilterList ?? []).map((f) => ({ key: f.key, values: f.valueSet })),
      ];
      for (const filter of filters) {
        if (!INSTANCE_FILTER_KEYS.has(filter.key) && !filter.key.startsWith('tag:'))
          throw new AwsServiceError('InvalidFilterKey', `filter key ${filter.key} is not emulated locally`);
      }
      const selected = hosts
        .list()
        .filter((host) => filters.every((f) => matchesFilter(host, f)))
        .map((host) => instanceInformationJson(host, state.agentVersion));
      const page = paginate(selected, request.MaxResults ?? 50, request.NextToken);
      return { InstanceInformationList: page.items, NextToken: page.nextToken };
    },

    ListTagsForResource: (body) => {
      const request = parseRequest(ListTagsForResourceRequest, body);
      if (request.ResourceType !== 'ManagedInstance')
        throw new AwsServiceError(
          'InvalidResourceType',
          `resource type ${request.ResourceType} is not emulated locally`,
        );
      // ManagedInstance is the type of hybrid (on-premises) nodes only: an EC2 instance's tags are EC2's,
      // and SSM refuses its `i-` id here (the API reference, AddTagsToResource: "mi-ID_number").
      const host = request.ResourceId.startsWith('mi-') ? hosts.get(request.ResourceId) : undefined;
      if (host === undefined)
        throw new AwsServiceError(
          'InvalidResourceId',
          `The resource ID "${request.ResourceId}" is not valid.`,
        );
      return { TagList: Object.entries(host.tags).map(([Key, Value]) => ({ Key, Value })) };
    },

    GetDocument: (body) => {
      const { Name } = parseRequest(GetDocumentRequest, body);
      const document = documents.get(Name);
      if (document === undefined)
        throw new AwsServiceError('InvalidDocument', `Document ${Name} does not exist.`);
      return {
        Name,
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        DocumentVersion: '1',
        SchemaVersion: document.schemaVersion,
        Status: 'Active',
        Content: JSON.stringify(document),
      };
    },
  };
}

/**
 * A command's own status and status details, from its invocations' (user guide, "Understanding command
 * statuses"): going while any is; Failed once the errors exceeded MaxErrors; Success when every invocation
 * succeeded, or when some did and the others failed in ways that do not count as errors or stayed within
 * MaxErrors (details Incomplete); with no success at all, the worst outcome.
 */
export function commandStatus(command: CommandView): {
  status: InvocationStatus;
  details: string;
} {
  const statuses = command.invocations.map((i) => i.status);
  if (statuses.some((s) => !isFinished(s))) {
    if (statuses.includes('Cancelling')) return { status: 'Cancelling', details: 'Cancelling' };
    const pending = command.invocations.every((i) => i.status === 'Pending');
    return pending
      ? { status: 'Pending', details: 'Pending' }
      : { status: 'InProgress', details: 'InProgress' };
  }
  if (command.invocations.length === 0) return { status: 'Failed', details: 'NoInstancesInTag' };
  const details = command.invocations.map((i) => i.statusDetails);
  const errors = details.filter((d) => d === 'Failed' || d === 'ExecutionTimedOut').length;
  const exceeded = errorsExceeded(command.rate, errors);
  if (!exceeded && details.every((d) => d === 'Success')) return { status: 'Success', details: 'Success' };
  if (!exceeded && details.includes('Success') && !details.includes('Cancelled'))
    return { status: 'Success', details: 'Incomplete' };
  if (details.every((d) => d === 'AccessDenied')) return { status: 'Failed', details: 'AccessDenied' };
  if (details.includes('Failed')) return { status: 'Failed', details: 'Failed' };
  if (details.includes('ExecutionTimedOut')) return { status: 'TimedOut', details: 'ExecutionTimedOut' };
  if (details.includes('DeliveryTimedOut')) return { status: 'TimedOut', details: 'DeliveryTimedOut' };
  if (statuses.includes('Cancelled')) return { status: 'Cancelled', details: 'Cancelled' };
  return { status: 'Failed', details: 'Failed' };
}

function commandJson(command: CommandView) {
  const { status, details } = commandStatus(command);
  const count = (test: (i: InvocationView) => boolean) => command.invocations.filter(test).length;
  return {
    CommandId: command.commandId,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    Comment: command.comment,
    Parameters: command.parameters,
    // SSM echoes the instance ids of a send by InstanceIds only; a send by Targets echoes its targets.
    InstanceIds: command.targets.length > 0 ? [] : command.instanceIds,
    Targets: command.targets,
    RequestedDateTime: seconds(command.requestedAtMs),
    ExpiresAfter: seconds(command.requestedAtMs + command.timeoutSeconds * 1000),
    TimeoutSeconds: command.timeoutSeconds,
    Status: status,
    StatusDetails: details,
    MaxConcurrency: command.rate.maxConcurrency,
    MaxErrors: command.rate.maxErrors,
    TargetCount: command.invocations.length,
    CompletedCount: count((i) => isFinished(i.status)),
    ErrorCount: count((i) => i.statusDetails === 'Failed' || i.statusDetails === 'ExecutionTimedOut'),
    DeliveryTimedOutCount: count((i) => i.statusDetails === 'DeliveryTimedOut'),
  };
}

/**
 * One invocation as ListCommandInvocations lists it; with `plugin` (Details), its plugin's status and
 * output: stdout, then stderr after the agent's separator, cut at 2,500 characters.
 */
function invocationSummaryJson(invocation: InvocationView, plugin?: string) {
  const output =
    invocation.stdout + (invocation.stderr === '' ? '' : PLUGIN_STDERR_SEPARATOR + invocation.stderr);
  return {
    CommandId: invocation.commandId,
    InstanceId: invocation.instanceId,
    DocumentName: invocation.documentName,
    DocumentVersion: '$DEFAULT',
    Comment: invocation.comment,
    RequestedDateTime: seconds(invocation.requestedAtMs),
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    CommandPlugins:
      plugin === undefined
        ? []
        : [
            {
              Name: plugin,
              Status: invocation.status,
              StatusDetails: invocation.statusDetails,
              ResponseCode: invocation.responseCode,
              Output: output.slice(0, PLUGIN_OUTPUT_LIMIT_CHARS),
              StandardOutputUrl: '',
              StandardErrorUrl: '',
              ...(invocation.startedAtMs === undefined
                ? {}
                : { ResponseStartDateTime: seconds(invocation.startedAtMs) }),
              ...(invocation.endedAtMs === undefined
                ? {}
                : { ResponseFinishDateTime: seconds(invocation.endedAtMs) }),
            },
          ],
  };
}

/** The API reference writes `InstanceIds`, the user guide's CLI examples `instanceids`. */
function isInstanceIdsKey(key: string): boolean {
  return key.toLowerCase() === 'instanceids';
}

function pluginName(document: CommandDocument | undefined): string {
  return document?.mainSteps.at(-1)?.name ?? 'aws:runShellScript';
}

/**
 * The managed instances `targets` select: every target must hold (a `tag:K` target when K has one of its
 * values, an `InstanceIds` target when the instance is one of them). Keys SSM knows but this does not
 * emulate are refused rather than matching nothing.
 */
function resolveTargets(
  hosts: ManagedHosts,
  targets: readonly { Key: string; Values: string[] }[],
): string[] {
  for (const target of targets) {
    if (target.Key.startsWith('tag:')) {
      if (target.Key.length === 'tag:'.length)
        throw new AwsServiceError('InvalidTarget', 'A tag target names no tag key.');
      if (target.Values.length > MAX_TAG_VALUES)
        throw new AwsServiceError(
          'InvalidTarget',
          `A tag target takes at most ${MAX_TAG_VALUES} values, got ${target.Values.length}.`,
        );
    } else if (!isInstanceIdsKey(target.Key)) {
      throw new AwsServiceError('InvalidTarget', `Target key ${target.Key} is not emulated locally.`);
    }
  }
  return hosts
    .list()
    .filter((host) =>
      targets.every((t) =>
        isInstanceIdsKey(t.Key)
          ? t.Values.includes(host.instanceId)
          : matchesFilter(host, { key: t.Key, values: t.Values }),
      ),
    )
    .map((host) => host.instanceId);
}

function instanceInformationJson(host: ManagedHost, agentVersion: string) {
  return {
    InstanceId: host.instanceId,
    PingStatus: host.online ? 'Online' : 'ConnectionLost',
    LastPingDateTime: seconds(host.lastPingAtMs),
    AgentVersion: agentVersion,
    IsLatestVersion: true,
    PlatformType: 'Linux',
    PlatformName: 'Debian GNU/Linux',
    ResourceType: host.instanceId.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance',
    ComputerName: host.instanceId,
  };
}

/** Besides these, `tag:<key>` (the tag's value is one of the values). */
const INSTANCE_FILTER_KEYS: ReadonlySet<string> = new Set([
  'InstanceIds',
  'PingStatus',
  'ResourceType',
  'PlatformTypes',
  'tag-key',
]);

/** SSM's filters: `tag-key` holds when the instance has any of the keys, `tag:K` when K has one of the values. */
function matchesFilter(host: ManagedHost, filter: { key: string; values: readonly string[] }): boolean {
  if (filter.key === 'tag-key') return filter.values.some((k) => Object.hasOwn(host.tags, k));
  if (filter.key.startsWith('tag:')) {
    const value = host.tags[filter.key.slice('tag:'.length)];
    return value !== undefined && filter.values.includes(value);
  }
  const info = instanceInformationJson(host, '');
  const field =
    filter.key === 'PingStatus'
      ? info.PingStatus
      : filter.key === 'ResourceType'
        ? info.ResourceType
        : filter.key === 'PlatformTypes'
          ? info.PlatformType
          : info.InstanceId;
  return filter.values.includes(field);
}

/** The SDK reads timestamps of this protocol as epoch seconds (with a fraction). */
function seconds(ms: number): number {
  return ms / 1000;
}

/** SSM's ExecutionElapsedTime format, e.g. `PT0.523S`. */
function elapsed(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}
