/** Everything a workflow step may touch, as ports: tests and local mode pass adapters to local endpoints. */
import type { Store } from '../adapters/dynamodb/dynamodb-store.js';
import type { Clock } from '../domain/clock.js';
import type { Drainer } from '../ports/drainer.js';
import type { HostAgents } from '../ports/host-agents.js';
import type { HostCommands } from '../ports/host-commands.js';
import type { Notifier } from '../ports/notifier.js';
import type { PolicyGate } from '../policy/policy-gate.js';
import type { WorkflowConfig } from './workflow-config.js';

export interface WorkflowDeps {
  readonly store: Store;
  readonly commands: HostCommands;
  readonly agents: HostAgents;
  readonly drainer: Drainer;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly config: WorkflowConfig;
  /** The fleet policy Admit checks before taking anything. @default - no gate: every start is allowed */
  readonly policy?: PolicyGate | undefined;
}
