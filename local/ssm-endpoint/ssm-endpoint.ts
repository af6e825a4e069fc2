/**
 * A local SSM service: the SSM JSON protocol (awsJson1_1) in front of the host document runner, so the
 * real @aws-sdk/client-ssm sends commands to "hosts" that are directories of this machine with QEMU VMs.
 * Emulated: SendCommand, GetCommandInvocation, ListCommands, ListCommandInvocations, CancelCommand,
 * DescribeInstanceInformation. A host whose agent is offline keeps commands Pending, as SSM does until
 * the agent comes back or the command's delivery times out.
 */
import { randomUUID } from 'node:crypto';
import { CommandDocumentSchema, type CommandDocument } from '../../host/runner/command-document.js';
import { resolveParameters, type SuppliedParameters } from '../../host/runner/document-parameters.js';
import { runDocument, type DocumentRun } from '../../host/runner/run-document.js';
import { AwsServiceError, startAwsJsonServer } from '../json-protocol/aws-json-server.js';

export type CommandStatus =
  'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled' | 'Cancelling';

/** Runs one document on one host; the runner by default, replaceable by tests of the endpoint itself. */
export type DocumentExecutor = (run: {
  readonly document: CommandDocument;
  readonly documentName: string;
  readonly parameters: SuppliedParameters;
  readonly hostRoot: string;
  readonly signal: AbortSignal;
}) => Promise<Pick<DocumentRun, 'status' | 'responseCode' | 'stdout' | 'stderr'>>;

export interface LocalSsmOptions {
  /** Document content by document name. */
  readonly documents: Readonly<Record<string, unknown>>;
  readonly executor?: DocumentExecutor;
}

export interface CommandFinished {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly status: CommandStatus;
}

export interface RunningLocalSsm {
  readonly endpoint: string;
  /** Makes `hostRoot` the managed instance `instanceId`, its agent online. */
  registerHost(instanceId: string, hostRoot: string): void;
  /** Takes a host's agent offline (commands wait, ping is ConnectionLost) or back online. */
  setOnline(instanceId: string, online: boolean): void;
  /** Calls `listener` whenever a command finishes on a host: where fault tests act on the host. */
  onCommandFinished(listener: (event: CommandFinished) => void): void;
  /** Commands sent so far, oldest first. */
  commands(): readonly {
    readonly commandId: string;
    readonly documentName: string;
    readonly instanceId: string;
    readonly status: CommandStatus;
  }[];
  stop(): Promise<void>;
}

interface Invocation {
  status: CommandStatus;
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAt?: Date;
  endedAt?: Date;
  readonly abort: AbortController;
}

interface Command {
  readonly commandId: string;
  readonly documentName: string;
  readonly comment: string;
  readonly parameters: SuppliedParameters;
  readonly instanceIds: readonly string[];
  readonly requestedAt: Date;
  readonly invocations: Map<string, Invocation>;
}

interface Host {
  readonly hostRoot: string;
  online: boolean;
  lastPingAt: Date;
  readonly waiting: (() => void)[];
}

const AGENT_VERSION = '3.3.0-local';
const TERMINAL: ReadonlySet<CommandStatus> = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

const defaultExecutor: DocumentExecutor = (run) => runDocument(run);

export async function startLocalSsmEndpoint(options: LocalSsmOptions): Promise<RunningLocalSsm> {
  const documents = new Map<string, CommandDocument>();
  for (const [name, content] of Object.entries(options.documents))
    documents.set(name, CommandDocumentSchema.parse(content));
  const executor = options.executor ?? defaultExecutor;
  const hosts = new Map<string, Host>();
  const commands = new Map<string, Command>();
  const listeners: ((event: CommandFinished) => void)[] = [];
  const running = new Set<Promise<void>>();

  const execute = async (
    command: Command,
    instanceId: string,
    host: Host,
    invocation: Invocation,
  ): Promise<void> => {
    // A host whose agent is offline picks the command up only when it reconnects.
    while (!host.online && !invocation.abort.signal.aborted)
      await new Promise<void>((resolve) => host.waiting.push(resolve));
    if (invocation.abort.signal.aborted) {
      invocation.status = 'Cancelled';
    } else {
      invocation.status = 'InProgress';
      invocation.startedAt = new Date();
      const document = documents.get(command.documentName) as CommandDocument;
      try {
        const run = await executor({
          document,
          documentName: command.documentName,
          parameters: command.parameters,
          hostRoot: host.hostRoot,
          signal: invocation.abort.signal,
        });
        Object.assign(invocation, {
          status: run.status,
          responseCode: run.responseCode,
          stdout: run.stdout,
          stderr: run.stderr,
        });
      } catch (error) {
        Object.assign(invocation, {
          status: 'Failed',
          responseCode: 1,
          stderr: `local agent: ${(error as Error).message}`,
        });
      }
    }
    invocation.endedAt = new Date();
    for (const listener of listeners) {
      listener({
        commandId: command.commandId,
        instanceId,
        documentName: command.documentName,
        status: invocation.status,
      });
    }
  };

  const findCommand = (commandId: unknown): Command => {
    const command = typeof commandId === 'string' ? commands.get(commandId) : undefined;
    if (command === undefined)
      throw new AwsServiceError('InvalidCommandId', `command ${String(commandId)} does not exist`);
    return command;
  };

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    SendCommand: (body) => {
      const documentName = String(body['DocumentName'] ?? '');
      const document = documents.get(documentName);
      if (document === undefined)
        throw new AwsServiceError('InvalidDocument', `document ${documentName} does not exist`);
      const instanceIds = Array.isArray(body['InstanceIds'])
        ? (body['InstanceIds'] as unknown[]).map(String)
        : [];
      if (instanceIds.length === 0) throw new AwsServiceError('InvalidInstanceId', 'no instance ids');
      for (const id of instanceIds)
        if (!hosts.has(id))
          throw new AwsServiceError('InvalidInstanceId', `instance ${id} is not a managed instance`);
      const parameters = (body['Parameters'] ?? {}) as SuppliedParameters;
      try {
        resolveParameters(documentName, document, parameters);
      } catch (error) {
        throw new AwsServiceError('InvalidParameters', (error as Error).message);
      }
      const comment = typeof body['Comment'] === 'string' ? body['Comment'] : '';
      if (comment.length > 100)
        throw new AwsServiceError('ValidationException', 'Comment must be at most 100 characters');
      const command: Command = {
        commandId: randomUUID(),
        documentName,
        comment,
        parameters,
        instanceIds,
        requestedAt: new Date(),
        invocations: new Map(),
      };
      commands.set(command.commandId, command);
      for (const instanceId of instanceIds) {
        const invocation: Invocation = {
          status: 'Pending',
          responseCode: -1,
          stdout: '',
          stderr: '',
          abort: new AbortController(),
        };
        command.invocations.set(instanceId, invocation);
        const done = execute(command, instanceId, hosts.get(instanceId) as Host, invocation);
        running.add(done);
        void done.finally(() => running.delete(done));
      }
      return { Command: commandSummary(command) };
    },
    GetCommandInvocation: (body) => {
      const command = commands.get(String(body['CommandId']));
      const invocation = command?.invocations.get(String(body['InstanceId']));
      if (command === undefined || invocation === undefined) {
        throw new AwsServiceError('InvocationDoesNotExist', 'the command invocation does not exist');
      }
      return {
        CommandId: command.commandId,
        InstanceId: String(body['InstanceId']),
        Comment: command.comment,
        DocumentName: command.documentName,
        Status: invocation.status,
        StatusDetails: invocation.status,
        ResponseCode: invocation.responseCode,
        StandardOutputContent: invocation.stdout,
        StandardErrorContent: invocation.stderr,
        ...(invocation.startedAt === undefined
          ? {}
          : { ExecutionStartDateTime: invocation.startedAt.toISOString() }),
        ...(invocation.endedAt === undefined
          ? {}
          : { ExecutionEndDateTime: invocation.endedAt.toISOString() }),
      };
    },
    ListCommands: (body) => {
      const instanceId = typeof body['InstanceId'] === 'string' ? body['InstanceId'] : undefined;
      const filters = (Array.isArray(body['Filters']) ? body['Filters'] : []) as {
        key?: string;
        value?: string;
      }[];
      const documentName = filters.find((f) => f.key === 'DocumentName')?.value;
      const selected = [...commands.values()]
        .filter((c) => body['CommandId'] === undefined || c.commandId === body['CommandId'])
        .filter((c) => instanceId === undefined || c.instanceIds.includes(instanceId))
        .filter((c) => documentName === undefined || c.documentName === documentName)
        .sort((a, b) => b.requestedAt.getTime() - a.requestedAt.getTime());
      return { Commands: selected.map(commandSummary) };
    },
    ListCommandInvocations: (body) => {
      const selected = [...commands.values()].filter(
        (c) => body['CommandId'] === undefined || c.commandId === body['CommandId'],
      );
      return {
        CommandInvocations: selected.flatMap((c) =>
          [...c.invocations.entries()]
            .filter(([id]) => body['InstanceId'] === undefined || id === body['InstanceId'])
            .map(([id, inv]) => ({
              CommandId: c.commandId,
              InstanceId: id,
              DocumentName: c.documentName,
              Comment: c.comment,
              Status: inv.status,
              StatusDetails: inv.status,
              RequestedDateTime: c.requestedAt.getTime() / 1000,
            })),
        ),
      };
    },
    CancelCommand: (body) => {
      const command = findCommand(body['CommandId']);
      const ids = Array.isArray(body['InstanceIds'])
        ? (body['InstanceIds'] as unknown[]).map(String)
        : [...command.invocations.keys()];
      for (const id of ids) {
        const invocation = command.invocations.get(id);
        if (invocation === undefined || TERMINAL.has(invocation.status)) continue;
        invocation.abort.abort();
        if (invocation.status === 'Pending')
          hosts
            .get(id)
            ?.waiting.splice(0)
            .forEach((wake) => wake());
      }
      return {};
    },
    DescribeInstanceInformation: (body) => {
      const filters = [
        ...((Array.isArray(body['Filters']) ? body['Filters'] : []) as { Key?: string; Values?: string[] }[]),
        ...(
          (Array.isArray(body['InstanceInformationFilterList'])
            ? body['InstanceInformationFilterList']
            : []) as {
            key?: string;
            valueSet?: string[];
          }[]
        ).map((f) => ({ Key: f.key === 'InstanceIds' ? 'InstanceIds' : f.key, Values: f.valueSet })),
      ];
      const wanted = filters.find((f) => f.Key === 'InstanceIds')?.Values;
      return {
        InstanceInformationList: [...hosts.entries()]
          .filter(([id]) => wanted === undefined || wanted.includes(id))
          .map(([id, host]) => ({
            InstanceId: id,
            PingStatus: host.online ? 'Online' : 'ConnectionLost',
            LastPingDateTime: (host.online ? Date.now() : host.lastPingAt.getTime()) / 1000,
            AgentVersion: AGENT_VERSION,
            PlatformType: 'Linux',
            PlatformName: 'Debian GNU/Linux',
            ResourceType: id.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance',
          })),
      };
    },
  };

  const server = await startAwsJsonServer({ targetPrefix: 'AmazonSSM', jsonVersion: '1.1', operations });

  return {
    endpoint: server.endpoint,
    registerHost: (instanceId, hostRoot) => {
      if (!/^(i|mi)-[0-9a-f]{8,17}$/.test(instanceId))
        throw new Error(`${instanceId} is not a managed instance id`);
      hosts.set(instanceId, { hostRoot, online: true, lastPingAt: new Date(), waiting: [] });
    },
    setOnline: (instanceId, online) => {
      const host = hosts.get(instanceId);
      if (host === undefined) throw new Error(`no host ${instanceId}`);
      if (!online && host.online) host.lastPingAt = new Date();
      host.online = online;
      if (online) host.waiting.splice(0).forEach((wake) => wake());
    },
    onCommandFinished: (listener) => void listeners.push(listener),
    commands: () =>
      [...commands.values()].flatMap((c) =>
        [...c.invocations.entries()].map(([instanceId, inv]) => ({
          commandId: c.commandId,
          documentName: c.documentName,
          instanceId,
          status: inv.status,
        })),
      ),
    stop: async () => {
      for (const command of commands.values())
        for (const inv of command.invocations.values()) inv.abort.abort();
      for (const host of hosts.values()) host.waiting.splice(0).forEach((wake) => wake());
      await Promise.allSettled([...running]);
      await server.stop();
    },
  };
}

function commandSummary(c: Command) {
  const statuses = [...c.invocations.values()].map((i) => i.status);
  const status = statuses.every((s) => s === 'Success')
    ? 'Success'
    : statuses.some((s) => !TERMINAL.has(s))
      ? statuses.some((s) => s === 'InProgress')
        ? 'InProgress'
        : 'Pending'
      : (statuses.find((s) => s !== 'Success') ?? 'Failed');
  return {
    CommandId: c.commandId,
    DocumentName: c.documentName,
    Comment: c.comment,
    Parameters: c.parameters,
    InstanceIds: c.instanceIds,
    RequestedDateTime: c.requestedAt.getTime() / 1000,
    Status: status,
    StatusDetails: status,
  };
}
