/** What the operator use-case tests share: deps on DynamoDB Local, and a snapshot of a host and its chain. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { hostChainId, type AuditRecord } from '../../../shared/domain/audit-record.js';
import type { Clock } from '../../../shared/domain/clock.js';
import type { HostState } from '../../../shared/domain/host-state.js';
import type { HostCommands } from '../../../shared/ports/host-commands.js';
import type { OperatorUseCaseDeps } from '../../../shared/operator/operator-deps.js';
import type { TestTables } from '../../support/dynamodb.js';
import { ScriptedHostCommands, TEST_WORKFLOW_CONFIG } from '../../support/workflow-deps.js';

export const OPERATOR = 'arn:aws:sts::123456789012:assumed-role/Operators/alice@example.com';

export function operatorDeps(
  t: TestTables,
  clock: Clock,
  hostCommands: HostCommands = new ScriptedHostCommands(),
): OperatorUseCaseDeps {
  const store = t.store(clock);
  return {
    hosts: store.hosts,
    audit: store.audit,
    hostLock: store.hostLock,
    hostCommands,
    clock,
    sleep: async () => {},
    config: {
      leaseDurationMs: TEST_WORKFLOW_CONFIG.leaseDurationMs,
      documents: TEST_WORKFLOW_CONFIG.documents,
      commandTimeoutSeconds: TEST_WORKFLOW_CONFIG.commandTimeoutSeconds,
      checkPollIntervalMs: 10,
    },
  };
}

/** The host's stored item (undefined when absent) and every record of its chain: to prove nothing changed. */
export async function snapshot(t: TestTables, hostId: string) {
  const { Item } = await t.documents.send(
    new GetCommand({ TableName: t.tables.hosts, Key: { hostId }, ConsistentRead: true }),
  );
  return { item: Item, chain: await chainOf(t, hostId) };
}

export async function chainOf(t: TestTables, hostId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const r of t.store().audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

/** Puts a registered host straight into `state`, as an execution that got that far would have left it. */
export async function placeIn(
  t: TestTables,
  hostId: string,
  state: HostState,
  version: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const { Item } = await t.documents.send(
    new GetCommand({ TableName: t.tables.hosts, Key: { hostId }, ConsistentRead: true }),
  );
  const owned = state !== 'IN_SERVICE';
  await t.documents.send(
    new PutCommand({
      TableName: t.tables.hosts,
      Item: {
        ...Item,
        state,
        stateVersion: version,
        ...(owned ? { executionId: 'op-h-0123456789abcdef' } : {}),
        ...(state === 'QUARANTINED' ? { quarantineReason: 'vm2 did not resume' } : {}),
        ...extra,
      },
    }),
  );
}
