/**
 * The foundation demo: starts a real DynamoDB Local, registers a host, walks it through one warm-VM
 * reboot's lifecycle under a fenced lock and a pool slot, records every step in the audit chain, shows
 * a stale writer being refused, and verifies the chain. The full workflow demo replaces this later.
 */
import { createTables } from '../shared/adapters/dynamodb/create-tables.js';
import { createDynamoDbStore } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { describeBreak } from '../shared/domain/audit-chain.js';
import { hostChainId } from '../shared/domain/audit-record.js';
import { RejuvError } from '../shared/domain/errors.js';
import { REJUVENATION_PATH, type HostState } from '../shared/domain/host-state.js';
import { tableNamesFor } from '../shared/store/table-definitions.js';
import { localDynamoDbClient, startDynamoDbLocal } from '../local/dynamodb-local.js';

async function main(): Promise<void> {
  const started = Date.now();
  console.log('starting DynamoDB Local …');
  const dynamo = await startDynamoDbLocal();
  const client = localDynamoDbClient(dynamo.endpoint);
  try {
    const tables = tableNamesFor('rejuv-demo');
    await createTables(client, tables);
    const store = createDynamoDbStore(client, tables);
    const executionId = `demo-${Date.now()}`;
    const hostId = 'host-a';
    const chainId = hostChainId(hostId);

    await store.hosts.register({
      hostId,
      pool: 'web',
      availabilityZone: 'local-1a',
      instanceId: 'mi-0000000000000000a',
    });
    const lock = await store.hostLock.acquire(hostId, executionId, 60_000);
    const slot = await store.poolSemaphore.acquire('web', executionId, 1, 60_000);
    console.log(`lock ${lock.resource} token ${lock.fencingToken}; pool slot ${slot.resource}`);

    let version = 0;
    for (let i = 1; i < REJUVENATION_PATH.length; i++) {
      const from = REJUVENATION_PATH[i - 1] as HostState;
      const to = REJUVENATION_PATH[i] as HostState;
      const host = await store.hosts.transition(
        { hostId, from, to, expectedVersion: version, executionId },
        lock,
      );
      version = host.stateVersion;
      await store.audit.append(chainId, {
        eventId: `${executionId}:${i}`,
        at: new Date().toISOString(),
        principal: 'demo',
        trigger: 'operator',
        step: 'Transition',
        outcome: 'succeeded',
        executionId,
        fromState: from,
        toState: to,
      });
      console.log(`  ${from.padEnd(11)} -> ${to.padEnd(11)} v${version}`);
    }

    try {
      await store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'stale-exec' },
        lock,
      );
      throw new Error('a stale transition was accepted');
    } catch (error) {
      if (!(error instanceof RejuvError)) throw error;
      console.log(`stale writer refused: ${error.name}: ${error.message}`);
    }

    await store.poolSemaphore.release(slot);
    await store.hostLock.release(lock);
    const verdict = await store.audit.verify(chainId);
    console.log(
      verdict.ok
        ? `audit chain ${chainId}: ${verdict.length} records, verified`
        : `audit chain ${chainId}: BROKEN, ${describeBreak(verdict.firstBreak)}`,
    );
    const host = await store.hosts.get(hostId);
    console.log(
      JSON.stringify({
        host: host.hostId,
        state: host.state,
        transitions: version,
        auditVerified: verdict.ok,
        seconds: (Date.now() - started) / 1000,
      }),
    );
    if (!verdict.ok || host.state !== 'IN_SERVICE') process.exitCode = 1;
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
