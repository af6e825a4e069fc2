/**
 * Workflow deps for use-case tests: the real DynamoDB store on DynamoDB Local, and recording stand-ins
 * for the ports a given test is not about (host commands, agents, drain, notifications). End-to-end
 * tests use the real adapters against local endpoints instead.
 */
import type { Store } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import type { Clock } from '../../shared/domain/clock.js';
import type { Host } from '../../shared/domain/host.js';
import type { Drainer } from '../../shared/ports/drainer.js';
import type { HostAgentStatus, HostAgents } from '../../shared/ports/host-agents.js';
import type {
  HostCommandInvocation,
  HostCommandRequest,
  HostCommands,
} from '../../shared/ports/host-commands.js';
import type { Notification, Notifier } from '../../shared/ports/notifier.js';
import type { WorkflowConfig } from '../../shared/workflow/workflow-config.js';
import type { WorkflowDeps } from '../../shared/workflow/workflow-deps.js';

export const TEST_WORKFLOW_CONFIG: WorkflowConfig = {
  leaseDurationMs: 60_000,
  defaultPoolLimit: 2,
  poolLimits: { tight: 1 },
  documents: {
    Preflight: 'rejuv-Preflight',
    WarmReboot: 'rejuv-WarmReboot',
    Verify: 'rejuv-Verify',
    Recover: 'rejuv-Recover',
  },
  commandTimeoutSeconds: { Preflight: 60, WarmReboot: 600, Verify: 60, Recover: 600 },
  awaitHostTimeoutSeconds: 300,
  dedupeTtlSeconds: 3600,
};

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async notify(notification: Notification): Promise<void> {
    this.sent.push(notification);
  }
}

/** Drains by cordoning through the real host registry, and records what it was asked. */
export class RecordingDrainer implements Drainer {
  readonly calls: string[] = [];
  constructor(private readonly store: Store) {}
  async drain(host: Host, executionId: string, lock: Parameters<Drainer['drain']>[2]): Promise<void> {
    this.calls.push(`drain ${host.hostId}`);
    await this.store.hosts.setCordoned(host.hostId, true, executionId, lock);
  }
  async isDrained(host: Host): Promise<boolean> {
    return host.cordoned;
  }
  async undrain(host: Host, executionId: string, lock: Parameters<Drainer['undrain']>[2]): Promise<void> {
    this.calls.push(`undrain ${host.hostId}`);
    await this.store.hosts.setCordoned(host.hostId, false, executionId, lock);
  }
}

/** Answers every command with what the test scripted for its document. */
export class ScriptedHostCommands implements HostCommands {
  readonly sent: HostCommandRequest[] = [];
  readonly cancelled: string[] = [];
  constructor(
    readonly script: Partial<Record<string, Omit<HostCommandInvocation, 'commandId' | 'instanceId'>>> = {},
  ) {}
  async send(request: HostCommandRequest): Promise<{ commandId: string }> {
    this.sent.push(request);
    return { commandId: `cmd-${this.sent.length}` };
  }
  async invocation(commandId: string, instanceId: string): Promise<HostCommandInvocation> {
    const request = this.sent[Number(commandId.slice(4)) - 1];
    const scripted = request === undefined ? undefined : this.script[request.documentName];
    return {
      commandId,
      instanceId,
      ...(scripted ?? { status: 'InProgress', responseCode: -1, stdout: '', stderr: '' }),
    };
  }
  async cancel(commandId: string): Promise<void> {
    this.cancelled.push(commandId);
  }
}

export class ScriptedAgents implements HostAgents {
  constructor(public pingStatus: HostAgentStatus['pingStatus'] = 'Online') {}
  async status(instanceId: string): Promise<HostAgentStatus> {
    return { instanceId, pingStatus: this.pingStatus };
  }
}

export function workflowDeps(
  store: Store,
  clock: Clock,
  overrides: Partial<WorkflowDeps> = {},
): WorkflowDeps {
  return {
    store,
    clock,
    config: TEST_WORKFLOW_CONFIG,
    commands: new ScriptedHostCommands(),
    agents: new ScriptedAgents(),
    drainer: new RecordingDrainer(store),
    notifier: new RecordingNotifier(),
    ...overrides,
  };
}
