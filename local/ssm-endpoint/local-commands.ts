/**
 * The local SSM's commands and their per-instance invocations, and the agent side of them: delivery to a
 * host whose agent is online, the run, cancellation, and SSM's delivery timeout.
 *
 * An invocation goes Pending → InProgress → Success | Failed | TimedOut | Cancelled, with Cancelling in
 * between when a running command is cancelled. While the host's agent is offline the invocation stays
 * Pending; if the agent is not back within the command's TimeoutSeconds it ends TimedOut with status
 * details DeliveryTimedOut without ever running, as in SSM. Delivery timeouts are noticed lazily, on the
 * next request or `commands()` call, so tests can move a ManualClock instead of waiting.
 *
 * Rate controls (rate-controls.ts): an invocation is dispatched to its agent only while fewer than the
 * concurrency window are in flight; the rest stay Pending. Once the errors exceed MaxErrors the invocations
 * not yet dispatched end Cancelled with status details Terminated, as SSM reports them. An instance IAM
 * does not let the sender target (a send by Targets) ends Failed with AccessDenied at once; it never runs
 * and counts as no error.
 */
import { randomUUID } from 'node:crypto';
import type { CommandDocument } from '../../host/runner/command-document.js';
import type { SuppliedParameters } from '../../host/runner/document-parameters.js';
import { STDERR_LIMIT_CHARS, STDOUT_LIMIT_CHARS } from '../../host/runner/run-document.js';
import type { Clock } from '../../shared/domain/clock.js';
import type { DocumentExecution, DocumentExecutor, ExecutedDocument } from './document-executor.js';
import type { ManagedHosts, ManagedNode } from './managed-hosts.js';
import { concurrencyWindow, errorsExceeded, rateControls, type RateControls } from './rate-controls.js';

export type InvocationStatus =
  'Pending' | 'InProgress' | 'Cancelling' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

/** SSM's finer status: it tells an execution timeout from a delivery timeout. */
export type InvocationStatusDetails =
  | Exclude<InvocationStatus, 'TimedOut'>
  | 'ExecutionTimedOut'
  | 'DeliveryTimedOut'
  | 'Terminated'
  | 'AccessDenied';

const FINISHED: ReadonlySet<InvocationStatus> = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

export function isFinished(status: InvocationStatus): boolean {
  return FINISHED.has(status);
}

export interface InvocationView {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly comment: string;
  readonly status: InvocationStatus;
  readonly statusDetails: InvocationStatusDetails;
  /** -1 until the document has ended with a code. */
  readonly responseCode: number;
  /** Truncated as GetCommandInvocation truncates: 24,000 characters of stdout, 8,000 of stderr. */
  readonly stdout: string;
  readonly stderr: string;
  readonly requestedAtMs: number;
  readonly startedAtMs?: number;
  readonly endedAtMs?: number;
}

export interface CommandView {
  readonly commandId: string;
  readonly documentName: string;
  readonly comment: string;
  readonly parameters: SuppliedParameters;
  readonly instanceIds: readonly string[];
  readonly timeoutSeconds: number;
  readonly requestedAtMs: number;
  readonly invocations: readonly InvocationView[];
  readonly rate: RateControls;
  /** SendCommand's Targets, echoed; empty for a send by InstanceIds. */
  readonly targets: readonly SendTarget[];
}

export interface SendTarget {
  readonly Key: string;
  readonly Values: readonly string[];
}

export interface NewCommand {
  readonly documentName: string;
  readonly document: CommandDocument;
  readonly parameters: SuppliedParameters;
  readonly instanceIds: readonly string[];
  readonly comment: string;
  /** SendCommand's TimeoutSeconds: how long a command may wait for delivery. */
  readonly timeoutSeconds: number;
  /** SendCommand's MaxConcurrency and MaxErrors, as given. @default SSM's: '50' and '0' */
  readonly maxConcurrency?: string;
  readonly maxErrors?: string;
  readonly targets?: readonly SendTarget[];
  /** Targeted instances IAM refused the sender: their invocations end AccessDenied without running. */
  readonly deniedInstanceIds?: readonly string[];
}

interface Invocation {
  status: InvocationStatus;
  statusDetails: InvocationStatusDetails;
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAtMs?: number;
  endedAtMs?: number;
  /** Handed to its agent (in flight until it ends); false while it waits for the concurrency window. */
  dispatched: boolean;
  readonly abort: AbortController;
}

interface Command extends Omit<
  NewCommand,
  'instanceIds' | 'maxConcurrency' | 'maxErrors' | 'targets' | 'deniedInstanceIds'
> {
  readonly commandId: string;
  readonly requestedAtMs: number;
  readonly invocations: Map<string, Invocation>;
  readonly rate: RateControls;
  readonly targets: readonly SendTarget[];
}

export class LocalCommands {
  /** In the order they were sent. */
  private readonly commands = new Map<string, Command>();
  private readonly listeners: ((invocation: InvocationView) => void)[] = [];
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    private readonly hosts: ManagedHosts,
    private readonly executor: DocumentExecutor,
    private readonly clock: Clock,
  ) {}

  /**
   * Records the command with every invocation Pending, then delivers it to as many instances as its
   * concurrency window allows (the others as earlier ones end).
   */
  send(request: NewCommand): CommandView {
    const { instanceIds, maxConcurrency, maxErrors, targets, deniedInstanceIds, ...rest } = request;
    const command: Command = {
      ...rest,
      commandId: randomUUID(),
      requestedAtMs: this.clock.nowMs(),
      rate: rateControls(maxConcurrency, maxErrors, instanceIds.length),
      targets: targets ?? [],
      invocations: new Map(
        instanceIds.map((id) => [
          id,
          {
            status: 'Pending',
            statusDetails: 'Pending',
            responseCode: -1,
            stdout: '',
            stderr: '',
            dispatched: false,
            abort: new AbortController(),
          },
        ]),
      ),
    };
    this.commands.set(command.commandId, command);
    const sent = view(command);
    for (const id of deniedInstanceIds ?? []) {
      const invocation = command.invocations.get(id);
      if (invocation !== undefined) this.finish(command, id, invocation, 'Failed', 'AccessDenied');
    }
    this.dispatch(command);
    return sent;
  }

  /**
   * Hands waiting invocations to their agents while the window has room; once errors exceed MaxErrors,
   * ends every invocation not yet handed over as Terminated instead.
   */
  private dispatch(command: Command): void {
    const invocations = [...command.invocations.entries()];
    const handed = invocations.filter(([, i]) => i.dispatched);
    const finished = handed.filter(([, i]) => isFinished(i.status)).length;
    const errors = handed.filter(
      ([, i]) => i.statusDetails === 'Failed' || i.statusDetails === 'ExecutionTimedOut',
    ).length;
    const waiting = invocations.filter(([, i]) => !i.dispatched && i.status === 'Pending');
    if (errorsExceeded(command.rate, errors)) {
      for (const [instanceId, invocation] of waiting) {
        this.finish(command, instanceId, invocation, 'Cancelled', 'Terminated');
        invocation.abort.abort();
      }
      return;
    }
    let inFlight = handed.length - finished;
    for (const [instanceId, invocation] of waiting) {
      if (inFlight >= concurrencyWindow(command.rate, finished)) break;
      invocation.dispatched = true;
      inFlight += 1;
      const delivery = this.deliver(command, instanceId, invocation);
      this.deliveries.add(delivery);
      void delivery.finally(() => this.deliveries.delete(delivery));
    }
  }

  get(commandId: string): CommandView | undefined {
    const command = this.commands.get(commandId);
    return command === undefined ? undefined : view(command);
  }

  /** Oldest first. */
  list(): CommandView[] {
    return [...this.commands.values()].map(view);
  }

  /**
   * Cancels the command on `instanceIds` (all of its instances when undefined): one still waiting for
   * delivery is Cancelled at once, a running one is Cancelling until its run ends; finished ones stay.
   * @returns false when there is no such command
   */
  cancel(commandId: string, instanceIds?: readonly string[]): boolean {
    const command = this.commands.get(commandId);
    if (command === undefined) return false;
    for (const [instanceId, invocation] of command.invocations) {
      if (instanceIds !== undefined && !instanceIds.includes(instanceId)) continue;
      if (invocation.status === 'Pending') {
        this.finish(command, instanceId, invocation, 'Cancelled', 'Cancelled');
      } else if (invocation.status === 'InProgress') {
        invocation.status = 'Cancelling';
        invocation.statusDetails = 'Cancelling';
      }
      invocation.abort.abort();
    }
    return true;
  }

  /** Ends every invocation still waiting for an agent after its command's TimeoutSeconds. */
  expireDeliveries(): void {
    const nowMs = this.clock.nowMs();
    for (const command of this.commands.values()) {
      if (nowMs < command.requestedAtMs + command.timeoutSeconds * 1000) continue;
      for (const [instanceId, invocation] of command.invocations) {
        if (invocation.status !== 'Pending') continue;
        this.finish(command, instanceId, invocation, 'TimedOut', 'DeliveryTimedOut');
        invocation.abort.abort();
      }
    }
  }

  onFinished(listener: (invocation: InvocationView) => void): void {
    this.listeners.push(listener);
  }

  /** Cancels everything not finished and waits for the runs to end. */
  async stop(): Promise<void> {
    for (const command of this.commands.values()) this.cancel(command.commandId);
    await Promise.allSettled([...this.deliveries]);
  }

  private async deliver(command: Command, instanceId: string, invocation: Invocation): Promise<void> {
    await this.hosts.whenOnline(instanceId, invocation.abort.signal);
    this.expireDeliveries();
    if (invocation.status !== 'Pending') return;
    const host = this.hosts.get(instanceId);
    if (host === undefined) throw new Error(`managed instance ${instanceId} disappeared`);
    invocation.status = 'InProgress';
    invocation.statusDetails = 'InProgress';
    invocation.startedAtMs = this.clock.nowMs();
    let run: ExecutedDocument;
    try {
      run = await this.executor({
        document: command.document,
        documentName: command.documentName,
        parameters: command.parameters,
        hostRoot: host.hostRoot,
        // The SSM agent tells a document which instance it runs on; a test's agent environment may say otherwise.
        env: { AWS_SSM_INSTANCE_ID: instanceId, ...host.agentEnvironment },
        signal: invocation.abort.signal,
        ...(host.node === undefined ? {} : this.onNode(instanceId, host.node)),
      });
    } catch (error) {
      // The agent reports a plugin that could not run at all as failed, with its reason on stderr.
      run = { status: 'Failed', responseCode: 1, stdout: '', stderr: `local SSM agent: ${String(error)}` };
    }
    const details = run.status === 'TimedOut' ? 'ExecutionTimedOut' : run.status;
    this.finish(command, instanceId, invocation, run.status, details, run);
  }

  /**
   * A node's launcher, and its reboot as the SSM agent does it on exit 194: the service is told that the
   * agent will be away (the instance shows offline, the invocation stays InProgress), the node reboots,
   * and the agent is online again before the same step runs again.
   */
  private onNode(instanceId: string, node: ManagedNode): Pick<DocumentExecution, 'launcher' | 'reboot'> {
    return {
      launcher: node.launcher,
      reboot: async (signal) => {
        this.hosts.setOnline(instanceId, false);
        await node.reboot(signal);
        if (signal?.aborted !== true) this.hosts.setOnline(instanceId, true);
      },
    };
  }

  private finish(
    command: Command,
    instanceId: string,
    invocation: Invocation,
    status: InvocationStatus,
    statusDetails: InvocationStatusDetails,
    run?: ExecutedDocument,
  ): void {
    Object.assign(invocation, {
      status,
      statusDetails,
      endedAtMs: this.clock.nowMs(),
      ...(run === undefined
        ? {}
        : {
            responseCode: run.responseCode,
            stdout: run.stdout.slice(0, STDOUT_LIMIT_CHARS),
            stderr: run.stderr.slice(0, STDERR_LIMIT_CHARS),
          }),
    });
    const finished = invocationView(command, instanceId, invocation);
    for (const listener of this.listeners) listener(finished);
    // A dispatched invocation that ends frees its place in the window (or adds an error).
    if (invocation.dispatched) this.dispatch(command);
  }
}

function invocationView(command: Command, instanceId: string, invocation: Invocation): InvocationView {
  return {
    commandId: command.commandId,
    instanceId,
    documentName: command.documentName,
    comment: command.comment,
    status: invocation.status,
    statusDetails: invocation.statusDetails,
    responseCode: invocation.responseCode,
    stdout: invocation.stdout,
    stderr: invocation.stderr,
    requestedAtMs: command.requestedAtMs,
    ...(invocation.startedAtMs === undefined ? {} : { startedAtMs: invocation.startedAtMs }),
    ...(invocation.endedAtMs === undefined ? {} : { endedAtMs: invocation.endedAtMs }),
  };
}

function view(command: Command): CommandView {
  return {
    commandId: command.commandId,
    documentName: command.documentName,
    comment: command.comment,
    parameters: command.parameters,
    instanceIds: [...command.invocations.keys()],
    timeoutSeconds: command.timeoutSeconds,
    requestedAtMs: command.requestedAtMs,
    invocations: [...command.invocations.entries()].map(([id, inv]) => invocationView(command, id, inv)),
    rate: command.rate,
    targets: command.targets,
  };
}
