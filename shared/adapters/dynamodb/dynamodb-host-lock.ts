import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from '../../domain/clock.js';
import { LockHeldError } from '../../domain/errors.js';
import { HostIdSchema } from '../../domain/identifiers.js';
import { hostLockResource, type Lease } from '../../domain/lease.js';
import { parseWith } from '../../domain/validation.js';
import type { HostLock } from '../../ports/host-lock.js';
import { LeaseTable } from './lease-table.js';

export class DynamoDbHostLock implements HostLock {
  private readonly leases: LeaseTable;

  constructor(documents: DynamoDBDocumentClient, leasesTableName: string, clock: Clock = systemClock) {
    this.leases = new LeaseTable(documents, leasesTableName, clock);
  }

  async acquire(hostId: string, owner: string, durationMs: number): Promise<Lease> {
    parseWith(HostIdSchema, 'host id', hostId);
    const resource = hostLockResource(hostId);
    const result = await this.leases.grant(resource, owner, durationMs);
    if ('heldBy' in result) throw new LockHeldError(resource, result.heldBy);
    return result.granted;
  }

  renew(lease: Lease, durationMs: number): Promise<Lease> {
    return this.leases.renew(lease, durationMs);
  }

  release(lease: Lease): Promise<void> {
    return this.leases.release(lease);
  }

  current(hostId: string): Promise<Lease | undefined> {
    parseWith(HostIdSchema, 'host id', hostId);
    return this.leases.live(hostLockResource(hostId));
  }
}
