/** Hosts for tests on the real store: registered with a valid instance id of their own. */
import type { Store } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import type { Host } from '../../shared/domain/host.js';

let registered = 0;

/** Registers `hostId` IN_SERVICE in `pool` (the pool `web` unless named). */
export async function registerHost(store: Store, hostId: string, pool = 'web'): Promise<Host> {
  registered += 1;
  return store.hosts.register({
    hostId,
    pool,
    availabilityZone: 'az-1',
    instanceId: `mi-${String(registered).padStart(17, '0')}`,
  });
}
