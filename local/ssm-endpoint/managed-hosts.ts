/**
 * The local SSM's managed instances: each a directory of this machine acting as the host's root, with an
 * agent that is online (takes commands, pings) or not.
 */
import type { ScriptLauncher } from '../../host/runner/run-document.js';
import type { Clock } from '../../shared/domain/clock.js';

export const MANAGED_INSTANCE_ID = /^(i|mi)-[0-9a-f]{8,17}$/;

/**
 * The node under an instance whose scripts do not run on this machine: a lab host with its own kernel.
 * Its SSM agent runs each step there, and on exit 194 reboots it; `reboot` resolves once the node's
 * agent could answer again (the endpoint shows it offline meanwhile).
 */
export interface ManagedNode {
  readonly launcher: ScriptLauncher;
  reboot(signal: AbortSignal | undefined): Promise<void>;
}

export interface ManagedHost {
  readonly instanceId: string;
  readonly hostRoot: string;
  readonly online: boolean;
  /** When the agent last pinged: now while online, the moment it went offline after. */
  readonly lastPingAtMs: number;
  /** Extra environment of the host's agent, handed to every document it runs. */
  readonly agentEnvironment: Readonly<Record<string, string>>;
  /** The instance's tags, which IAM conditions on SendCommand (`ssm:resourceTag/<key>`) look at. */
  readonly tags: Readonly<Record<string, string>>;
  /** Set for a host with its own kernel; absent when scripts run on this machine under `hostRoot`. */
  readonly node?: ManagedNode;
}

interface HostState {
  readonly hostRoot: string;
  online: boolean;
  lastPingAtMs: number;
  agentEnvironment: Readonly<Record<string, string>>;
  tags: Readonly<Record<string, string>>;
  readonly node: ManagedNode | undefined;
  /** Deliveries parked until the agent is back. */
  readonly waiting: Set<() => void>;
}

export class ManagedHosts {
  private readonly hosts = new Map<string, HostState>();

  constructor(private readonly clock: Clock) {}

  /** Registering an instance again moves it to the new root and brings its agent online. */
  register(
    instanceId: string,
    hostRoot: string,
    online = true,
    tags: Readonly<Record<string, string>> = {},
    node?: ManagedNode,
  ): void {
    if (!MANAGED_INSTANCE_ID.test(instanceId))
      throw new Error(
        `${JSON.stringify(instanceId)} is not an instance id (i-… or mi-… and 8-17 hex digits)`,
      );
    const waiting = this.hosts.get(instanceId)?.waiting ?? new Set();
    this.hosts.set(instanceId, {
      hostRoot,
      online: false,
      lastPingAtMs: this.clock.nowMs(),
      agentEnvironment: {},
      tags: { ...tags },
      node,
      waiting,
    });
    this.setOnline(instanceId, online);
  }

  setOnline(instanceId: string, online: boolean): void {
    const host = this.state(instanceId);
    if (host.online && !online) host.lastPingAtMs = this.clock.nowMs();
    host.online = online;
    if (online) for (const wake of [...host.waiting]) wake();
  }

  setAgentEnvironment(instanceId: string, environment: Readonly<Record<string, string>>): void {
    this.state(instanceId).agentEnvironment = { ...environment };
  }

  /** Replaces the instance's tags, as an operator's AddTagsToResource/RemoveTagsFromResource would. */
  setTags(instanceId: string, tags: Readonly<Record<string, string>>): void {
    this.state(instanceId).tags = { ...tags };
  }

  get(instanceId: string): ManagedHost | undefined {
    const host = this.hosts.get(instanceId);
    return host === undefined ? undefined : this.view(instanceId, host);
  }

  list(): ManagedHost[] {
    return [...this.hosts.entries()].map(([id, host]) => this.view(id, host));
  }

  /** Resolves once the agent is online, at once if it is; or when `signal` aborts, whichever is first. */
  whenOnline(instanceId: string, signal: AbortSignal): Promise<void> {
    const host = this.state(instanceId);
    if (host.online || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        host.waiting.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      host.waiting.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  private state(instanceId: string): HostState {
    const host = this.hosts.get(instanceId);
    if (host === undefined) throw new Error(`no managed instance ${instanceId}`);
    return host;
  }

  private view(instanceId: string, host: HostState): ManagedHost {
    return {
      instanceId,
      hostRoot: host.hostRoot,
      online: host.online,
      lastPingAtMs: host.online ? this.clock.nowMs() : host.lastPingAtMs,
      agentEnvironment: host.agentEnvironment,
      tags: host.tags,
      ...(host.node === undefined ? {} : { node: host.node }),
    };
  }
}
