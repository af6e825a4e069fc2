/**
 * The collector's round marks against DynamoDB Local: each transition is one conditional write, so of
 * two runs racing for the same move exactly one wins, and a round is published at most once.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbCollectionRounds } from '../../../shared/adapters/dynamodb/dynamodb-collection-rounds.js';
import { freshTables } from '../../support/dynamodb.js';

const T1 = '2026-12-01T10:00:00Z';
const T2 = '2026-12-01T10:05:00Z';
const AT = new Date(Date.UTC(2026, 11, 1, 10, 0, 5));
const COMMAND = '0b7c4f0e-1a2b-4c3d-8e9f-0123456789ab';

let rounds: DynamoDbCollectionRounds;

beforeEach(async () => {
  const t = await freshTables();
  rounds = new DynamoDbCollectionRounds(t.documents, t.tables.idempotency);
});

describe('Class: DynamoDbCollectionRounds', () => {
  describe('Method: begin', () => {
    it('starts the first round once: of two runs racing, one wins', async () => {
      const outcomes = await Promise.all([rounds.begin(T1, undefined, AT), rounds.begin(T1, undefined, AT)]);
      expect(outcomes.sort()).toEqual([false, true]);
      expect(await rounds.latest()).toEqual({ roundKey: T1, startedAt: AT.toISOString() });
    });

    it('moves on only from the round the caller saw: a stale previous round is refused', async () => {
      await rounds.begin(T1, undefined, AT);
      expect(await rounds.begin(T2, undefined, AT)).toBe(false);
      expect(await rounds.begin(T2, T1, AT)).toBe(true);
      expect(await rounds.begin(T2, T1, AT)).toBe(false);
      expect((await rounds.latest())?.roundKey).toBe(T2);
    });
  });

  describe('Method: claimPublication', () => {
    it('lets one claim publish the latest round, and none after it or for another round', async () => {
      await rounds.begin(T1, undefined, AT);
      await rounds.recordCommand(T1, COMMAND);
      expect(await rounds.claimPublication(T2, AT)).toBe(false);
      const claims = await Promise.all([rounds.claimPublication(T1, AT), rounds.claimPublication(T1, AT)]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await rounds.latest()).toEqual({
        roundKey: T1,
        commandId: COMMAND,
        startedAt: AT.toISOString(),
        publishedAt: AT.toISOString(),
      });
      // The next round starts unpublished, with no command yet.
      await rounds.begin(T2, T1, AT);
      expect(await rounds.latest()).toEqual({ roundKey: T2, startedAt: AT.toISOString() });
    });
  });

  describe('Method: recordCommand', () => {
    it('records nothing on a round another run has replaced', async () => {
      await rounds.begin(T1, undefined, AT);
      await rounds.begin(T2, T1, AT);
      await rounds.recordCommand(T1, COMMAND);
      expect((await rounds.latest())?.commandId).toBeUndefined();
    });
  });
});
