import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '../../domain/clock.js';
import {
  HostAlreadyRegisteredError,
  HostNotFoundError,
  LeaseLostError,
  StaleHostStateError,
} from '../../domain/errors.js';
import {
  HostRegistrationSchema,
  HostSchema,
  HostUnavailabilitySchema,
  TransitionRequestSchema,
  type Host,
  type HostRegistration,
  type HostUnavailability,
  type TransitionRequest,
} from '../../domain/host.js';
import { assertLegalTransition, ownershipRule, ownsHostAfter } from '../../domain/host-state.js';
import { ExecutionIdSchema, HostIdSchema, PoolIdSchema } from '../../domain/identifiers.js';
import { LeaseSchema, hostLockResource, type Lease } from '../../domain/lease.js';
import { parseWith } from '../../domain/validation.js';
import type { HostRepository } from '../../ports/host-repository.js';
import { HOSTS_BY_POOL_INDEX, type TableNames } from '../../store/table-definitions.js';
import { cancellationOutcome, isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

type ValidTransition = z.output<typeof TransitionRequestSchema>;

export class DynamoDbHostRepository implements HostRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tables: Pick<TableNames, 'hosts' | 'leases'>,
    private readonly clock: Clock = systemClock,
  ) {}

  async register(registration: HostRegistration): Promise<Host> {
    const valid = parseWith(HostRegistrationSchema, 'host registration', registration);
    const now = new Date(this.clock.nowMs()).toISOString();
    const host: Host = HostSchema.parse({
      ...valid,
      state: 'IN_SERVICE',
      stateVersion: 0,
      cordoned: false,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tables.hosts,
          Item: host,
          ConditionExpression: 'attribute_not_exists(hostId)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new HostAlreadyRegisteredError(valid.hostId);
      throw error;
    }
    return host;
  }

  async get(hostId: string): Promise<Host> {
    parseWith(HostIdSchema, 'host id', hostId);
    const host = await this.find(hostId);
    if (host === undefined) throw new HostNotFoundError(hostId);
    return host;
  }

  async listByPool(pool: string): Promise<Host[]> {
    parseWith(PoolIdSchema, 'pool id', pool);
    const hosts: Host[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tables.hosts,
          IndexName: HOSTS_BY_POOL_INDEX,
          KeyConditionExpression: '#pool = :pool',
          ExpressionAttributeNames: { '#pool': 'pool' },
          ExpressionAttributeValues: { ':pool': pool },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) hosts.push(this.parseHost(String(item['hostId']), item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return hosts;
  }

  async list(): Promise<Host[]> {
    const hosts: Host[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      // Consistent, so an operator never sees a host one step behind the transition just made.
      const page = await this.documents.send(
        new ScanCommand({ TableName: this.tables.hosts, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) hosts.push(this.parseHost(String(item['hostId']), item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return hosts.sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  async transition(request: TransitionRequest, lease: Lease): Promise<Host> {
    const valid = parseWith(TransitionRequestSchema, 'host transition', request);
    parseWith(LeaseSchema, 'lease', lease);
    assertLegalTransition(valid.from, valid.to);
    assertLockOf(valid.hostId, lease);
    // The conditions below see only state, version and owner: a record edited elsewhere (a corrupt
    // pool, tags, timestamps, an injected attribute) would be moved and only then fail to read back.
    // Read and parse it first, so a corrupt record is refused (CorruptItemError) and nothing is written.
    await this.find(valid.hostId);
    const nowMs = this.clock.nowMs();
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              // Fencing: the write stands only while the caller's lease is the live one.
              ConditionCheck: {
                TableName: this.tables.leases,
                Key: { resource: lease.resource },
                ConditionExpression: '#owner = :owner AND fencingToken = :token AND expiresAtMs > :now',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: {
                  ':owner': lease.owner,
                  ':token': lease.fencingToken,
                  ':now': nowMs,
                },
              },
            },
            {
              Update: {
                TableName: this.tables.hosts,
                Key: { hostId: valid.hostId },
                ...this.transitionUpdate(valid, nowMs),
              },
            },
          ],
        }),
      );
    } catch (error) {
      const outcome = cancellationOutcome(error);
      if (outcome === undefined || outcome.includes('retry')) throw error;
      const current = await this.find(valid.hostId);
      if (current !== undefined && isReplayOf(valid, current)) return current;
      if (outcome[0] === 'condition')
        throw new LeaseLostError(lease.resource, lease.owner, lease.fencingToken);
      if (current === undefined) throw new HostNotFoundError(valid.hostId);
      throw new StaleHostStateError(
        valid.hostId,
        { state: valid.from, stateVersion: valid.expectedVersion, executionId: valid.executionId },
        current,
      );
    }
    return this.get(valid.hostId);
  }

  async setCordoned(hostId: string, cordoned: boolean, executionId: string, lease: Lease): Promise<Host> {
    parseWith(HostIdSchema, 'host id', hostId);
    parseWith(ExecutionIdSchema, 'execution id', executionId);
    parseWith(LeaseSchema, 'lease', lease);
    assertLockOf(hostId, lease);
    const nowMs = this.clock.nowMs();
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: this.liveLeaseCheck(lease, nowMs) },
            {
              Update: {
                TableName: this.tables.hosts,
                Key: { hostId },
                UpdateExpression: 'SET cordoned = :cordoned, updatedAt = :at',
                ConditionExpression: 'executionId = :execution',
                ExpressionAttributeValues: {
                  ':cordoned': cordoned,
                  ':at': new Date(nowMs).toISOString(),
                  ':execution': executionId,
                },
              },
            },
          ],
        }),
      );
    } catch (error) {
      const outcome = cancellationOutcome(error);
      if (outcome === undefined || outcome.includes('retry')) throw error;
      if (outcome[0] === 'condition')
        throw new LeaseLostError(lease.resource, lease.owner, lease.fencingToken);
      const current = await this.get(hostId);
      throw new StaleHostStateError(
        hostId,
        { state: current.state, stateVersion: current.stateVersion, executionId },
        current,
      );
    }
    return this.get(hostId);
  }

  async setAvailability(
    hostId: string,
    expectedVersion: number,
    unavailable: HostUnavailability | undefined,
  ): Promise<Host> {
    parseWith(HostIdSchema, 'host id', hostId);
    if (unavailable !== undefined) parseWith(HostUnavailabilitySchema, 'host unavailability', unavailable);
    // A corrupt record is refused before anything is written, as for a transition.
    await this.get(hostId);
    const values: Record<string, unknown> = {
      ':inService': 'IN_SERVICE',
      ':expected': expectedVersion,
      ':at': new Date(this.clock.nowMs()).toISOString(),
    };
    if (unavailable !== undefined) values[':unavailable'] = unavailable;
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tables.hosts,
          Key: { hostId },
          UpdateExpression:
            unavailable === undefined
              ? 'SET updatedAt = :at REMOVE unavailable'
              : 'SET updatedAt = :at, unavailable = :unavailable',
          // The sync never races a lifecycle: an admitted (owned) or moved host is not written.
          ConditionExpression:
            '#state = :inService AND stateVersion = :expected AND attribute_not_exists(executionId)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await this.get(hostId);
      throw new StaleHostStateError(hostId, { state: 'IN_SERVICE', stateVersion: expectedVersion }, current);
    }
    return this.get(hostId);
  }

  async recordRejuvenation(hostId: string, executionId: string): Promise<boolean> {
    parseWith(HostIdSchema, 'host id', hostId);
    parseWith(ExecutionIdSchema, 'execution id', executionId);
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tables.hosts,
          Key: { hostId },
          // The end is the host's own record of its return, so a retry writes the same instant.
          UpdateExpression: 'SET lastRejuvenatedAt = lastTransition.#at',
          ConditionExpression:
            '#state = :inService AND attribute_not_exists(executionId) AND lastTransition.#to = :inService AND lastTransition.executionId = :execution',
          ExpressionAttributeNames: { '#state': 'state', '#at': 'at', '#to': 'to' },
          ExpressionAttributeValues: { ':inService': 'IN_SERVICE', ':execution': executionId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async deregister(hostId: string, expectedVersion: number): Promise<Host> {
    parseWith(HostIdSchema, 'host id', hostId);
    parseWith(z.number().int().nonnegative(), 'expected version', expectedVersion);
    // A corrupt record is refused before anything is deleted, as for a transition.
    const before = await this.get(hostId);
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tables.hosts,
          Key: { hostId },
          // Never under an execution: only an unowned IN_SERVICE host or a QUARANTINED one, as read.
          ConditionExpression:
            'stateVersion = :expected AND ((#state = :inService AND attribute_not_exists(executionId)) OR #state = :quarantined)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':expected': expectedVersion,
            ':inService': 'IN_SERVICE',
            ':quarantined': 'QUARANTINED',
          },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await this.find(hostId);
      if (current === undefined) throw new HostNotFoundError(hostId);
      throw new StaleHostStateError(
        hostId,
        { state: 'IN_SERVICE (unowned) or QUARANTINED', stateVersion: expectedVersion },
        current,
      );
    }
    return before;
  }

  /** Fencing: a write stands only while the caller's lease is the live one. */
  private liveLeaseCheck(lease: Lease, nowMs: number) {
    return {
      TableName: this.tables.leases,
      Key: { resource: lease.resource },
      ConditionExpression: '#owner = :owner AND fencingToken = :token AND expiresAtMs > :now',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.fencingToken, ':now': nowMs },
    };
  }

  private transitionUpdate(t: ValidTransition, nowMs: number) {
    const at = new Date(nowMs).toISOString();
    const set = ['#state = :to', 'stateVersion = :next', 'updatedAt = :at', 'lastTransition = :last'];
    const remove: string[] = [];
    const values: Record<string, unknown> = {
      ':from': t.from,
      ':to': t.to,
      ':expected': t.expectedVersion,
      ':next': t.expectedVersion + 1,
      ':at': at,
      ':last': { from: t.from, to: t.to, executionId: t.executionId, at },
    };
    if (ownsHostAfter(t.to)) set.push('executionId = :execution');
    else remove.push('executionId');
    if (t.to === 'QUARANTINED') {
      set.push('quarantineReason = :reason');
      values[':reason'] = t.reason;
    } else {
      remove.push('quarantineReason');
    }
    const conditions = ['#state = :from', 'stateVersion = :expected'];
    if (ownershipRule(t.from) === 'owned') conditions.push('executionId = :execution');
    if (ownsHostAfter(t.to) || ownershipRule(t.from) === 'owned') values[':execution'] = t.executionId;
    return {
      UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: values,
    };
  }

  private async find(hostId: string): Promise<Host | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tables.hosts, Key: { hostId }, ConsistentRead: true }),
    );
    return Item === undefined ? undefined : this.parseHost(hostId, Item);
  }

  private parseHost(hostId: string, item: unknown): Host {
    return parseItem(HostSchema, this.tables.hosts, `hostId=${hostId}`, item);
  }
}

/** The transition already took effect (a retried step whose first attempt wrote and then died). */
function isReplayOf(t: ValidTransition, host: Host): boolean {
  const last = host.lastTransition;
  return (
    host.state === t.to &&
    host.stateVersion === t.expectedVersion + 1 &&
    last !== undefined &&
    last.from === t.from &&
    last.to === t.to &&
    last.executionId === t.executionId
  );
}

/** A lease is only good for the host whose lock it is. */
function assertLockOf(hostId: string, lease: Lease): void {
  if (lease.resource !== hostLockResource(hostId)) {
    throw new LeaseLostError(hostLockResource(hostId), lease.owner, lease.fencingToken);
  }
}
