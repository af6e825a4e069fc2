/**
 * Hostile input at every boundary but the CLI (see hostile-cli.test.ts), property-based: alarm events,
 * operator requests, SSM document parameters, and DynamoDB items edited behind the system's back.
 * Each is refused with an error naming the problem, or detected, and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand, GetCommand, NumberValue, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_DOCUMENT_NAMES, loadHostDocument } from '../../host/documents/load-host-document.js';
import { DocumentParameterError } from '../../host/runner/errors.js';
import { runDocument } from '../../host/runner/run-document.js';
import { agingAlarmEvent } from '../../local/lab-fleet.js';
import type { Store } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { hashRecord, hostChainId, type UnsealedAuditRecord } from '../../shared/domain/audit-record.js';
import { CorruptItemError, HostNotFoundError, ValidationError } from '../../shared/domain/errors.js';
import type { ExecutionStarter, StartedExecution } from '../../shared/ports/execution-starter.js';
import {
  startFromAlarm,
  startFromOperator,
  type TriggerDeps,
} from '../../shared/workflow/start-rejuvenation.js';
import { ManualClock, systemClock } from '../../shared/domain/clock.js';
import { ALARM_CLOCK_SKEW_MS, ALARM_MAX_AGE_MS } from '../../shared/workflow/alarm-delivery.js';
import { admitClaimed } from '../support/claims.js';
import { freshTables, type TestTables } from '../support/dynamodb.js';
import { workflowDeps } from '../support/workflow-deps.js';
import { FAST_CHECK_SEED, huge as hugeValue, poisoned } from './support/hostile-values.js';
import { recordInputs } from './support/tally.js';

const RUNS = { alarm: 150, undeliverableAlarm: 100, operator: 150, ssm: 160, hostItem: 60, auditRecord: 60 };
const seed = { seed: FAST_CHECK_SEED };

const huge = hugeValue(2000);
const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  // Values DynamoDB can hold (the document client refuses unsafe integers before sending).
  fc.object({ maxDepth: 1, values: [fc.string(), fc.integer(), fc.boolean(), fc.constant(null)] }),
);
const hostile = fc.oneof(poisoned, huge, notAString, fc.constant(''));

function hasControlCharacter(text: string, options: { allowTabAndNewline?: boolean } = {}): boolean {
  return [...text].some((c) => {
    const code = c.charCodeAt(0);
    if (options.allowTabAndNewline === true && (code === 9 || code === 10)) return false;
    return code < 32 || code === 127;
  });
}

/** Records every starter call: a hostile trigger must reach none. */
class RecordingStarter implements ExecutionStarter {
  readonly calls: string[] = [];
  async start(executionName: string): Promise<StartedExecution> {
    this.calls.push(executionName);
    return {
      executionArn: `arn:aws:states:local:000000000000:execution:rejuv:${executionName}`,
      executionName,
      started: true,
    };
  }
}

let t: TestTables;
let store: Store;
const HOST = 'hostile-1';

beforeAll(async () => {
  t = await freshTables();
  store = t.store();
  await store.hosts.register({
    hostId: HOST,
    pool: 'p',
    availabilityZone: 'az-1',
    instanceId: 'mi-0000000000000beef',
  });
});

async function tableItems(table: string): Promise<unknown[]> {
  return (await t.documents.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
}

/** Runs a property counting each input as rejected (threw a named error) or accepted. */
async function countRejections<T>(
  surface: string,
  arbitrary: fc.Arbitrary<T>,
  numRuns: number,
  attempt: (input: T) => Promise<unknown>,
  isClearRejection: (error: unknown, input: T) => boolean,
): Promise<{ tried: number; rejected: number; accepted: number }> {
  const tally = { tried: 0, rejected: 0, accepted: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        tally.tried += 1;
        try {
          await attempt(input);
        } catch (error) {
          if (isClearRejection(error, input)) {
            tally.rejected += 1;
            return true;
          }
          throw error;
        }
        tally.accepted += 1;
        return false;
      }),
      { numRuns, ...seed },
    );
  } finally {
    recordInputs({ surface, ...tally });
  }
  return tally;
}

/** The trigger's clock: the valid alarm below changed state one second earlier. */
const CHANGED_AT = Date.parse('2026-11-25T10:00:00.000Z');
const NOW = CHANGED_AT + 1_000;
const cloudWatchTime = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
const eventBridgeTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

describe('Hostile input: triggers', () => {
  const starter = new RecordingStarter();
  const deps = (): TriggerDeps => ({
    hosts: store.hosts,
    idempotency: store.idempotency,
    executions: starter,
    dedupeTtlSeconds: 60,
    clock: new ManualClock(NOW),
  });
  const mapping = {
    hostIdDimension: 'HostId',
    alarmNamePrefix: 'rejuv-aging-',
    level: 'vmm-process',
  } as const;

  /** A valid alarm for HOST with one field replaced by a hostile value. */
  const hostileAlarm = fc
    .tuple(
      fc.constantFrom(
        'hostDimension',
        'alarmName',
        'stateValue',
        'stateTimestamp',
        'time',
        'account',
        'region',
        'source',
        'detailType',
        'detail',
        'state',
      ),
      hostile,
    )
    .map(([field, value]) => {
      const valid = structuredClone(agingAlarmEvent(HOST, cloudWatchTime(CHANGED_AT)));
      const metric = valid.detail.configuration.metrics[0]?.metricStat.metric as unknown as {
        dimensions: Record<string, unknown>;
      };
      const event = valid as unknown as Record<string, unknown>;
      const d = valid.detail as unknown as Record<string, unknown> & { state: Record<string, unknown> };
      // Values a field legitimately accepts are not hostile to it: give those fields one they cannot take.
      const forName =
        typeof value === 'string' && !hasControlCharacter(value) && value.length > 0 && value.length <= 255
          ? `${value}\u0000`
          : value;
      switch (field) {
        case 'hostDimension':
          metric.dimensions['HostId'] = value;
          break;
        case 'alarmName':
          d['alarmName'] = forName;
          break;
        case 'stateValue':
          d.state['value'] = value;
          break;
        case 'stateTimestamp':
          d.state['timestamp'] = value;
          break;
        case 'time':
          event['time'] = value;
          break;
        case 'account':
          event['account'] = value;
          break;
        case 'region':
          event['region'] = value;
          break;
        case 'source':
          event['source'] = value;
          break;
        case 'detailType':
          event['detail-type'] = value;
          break;
        case 'detail':
          event['detail'] = value;
          break;
        case 'state':
          (d as Record<string, unknown>)['state'] = value;
          break;
      }
      return { field, event };
    });

  it('alarm events: every hostile event is refused, nothing claimed or started', async () => {
    const tally = await countRejections(
      'alarm events',
      hostileAlarm,
      RUNS.alarm,
      ({ event }) => startFromAlarm(deps(), mapping, JSON.parse(JSON.stringify(event))),
      (error) =>
        (error instanceof ValidationError || error instanceof HostNotFoundError) && error.message.length > 10,
    );
    expect(tally.accepted).toBe(0);
    expect(starter.calls).toEqual([]);
    expect(await tableItems(t.tables.idempotency)).toEqual([]);
  });

  /**
   * Well-formed alarm events the aging-alarm rule would never deliver now: another state, an alarm
   * outside the prefix, a resource that is not this alarm, or times no real delivery has.
   */
  const HOUR = 3_600_000;
  const undeliverableAlarm = fc.oneof(
    fc.constantFrom('OK', 'INSUFFICIENT_DATA').map((value) => ({ kind: 'state', edit: { value } })),
    fc
      .stringMatching(/^[a-z][a-z0-9-]{0,30}$/)
      .filter((prefix) => !`rejuv-aging-${HOST}`.startsWith(prefix))
      .map((prefix) => ({ kind: 'prefix', edit: { alarmName: `${prefix}${HOST}` } })),
    fc
      .constantFrom('other-alarm', `rejuv-aging-${HOST}x`, '')
      .map((alarm) => ({ kind: 'resource', edit: { resourceAlarm: alarm } })),
    // The state changed after the event announcing it, beyond truncation and skew (up to a week).
    fc
      .integer({ min: ALARM_CLOCK_SKEW_MS + 1, max: 7 * 24 * HOUR })
      .map((ms) => ({ kind: 'stateAfterEvent', edit: { stateAfterEventMs: ms } })),
    // The event is from the future, by more than skew once its time is truncated to seconds (up to a year).
    fc
      .integer({ min: ALARM_CLOCK_SKEW_MS + 1_000, max: 365 * 24 * HOUR })
      .map((ms) => ({ kind: 'future', edit: { aheadMs: ms } })),
    // The state change is older than anything EventBridge and Lambda still deliver (up to ten years).
    fc
      .integer({ min: ALARM_MAX_AGE_MS + 1, max: 10 * 365 * 24 * HOUR })
      .map((ms) => ({ kind: 'stale', edit: { ageMs: ms } })),
  );

  it('alarm events the rule would not deliver (state, prefix, resource, times): each refused, nothing claimed or started', async () => {
    const tally = await countRejections(
      'alarm events the rule would not deliver',
      undeliverableAlarm,
      RUNS.undeliverableAlarm,
      ({ edit }) => {
        const e = edit as Partial<{
          value: string;
          alarmName: string;
          resourceAlarm: string;
          stateAfterEventMs: number;
          aheadMs: number;
          ageMs: number;
        }>;
        const changedAt =
          e.aheadMs !== undefined ? NOW + e.aheadMs : e.ageMs !== undefined ? NOW - e.ageMs : CHANGED_AT;
        const event = agingAlarmEvent(HOST, cloudWatchTime(changedAt));
        event.time = eventBridgeTime(changedAt);
        if (e.stateAfterEventMs !== undefined)
          event.detail.state.timestamp = cloudWatchTime(changedAt + e.stateAfterEventMs);
        if (e.value !== undefined) event.detail.state.value = e.value;
        if (e.alarmName !== undefined) event.detail.alarmName = e.alarmName;
        const alarm = e.resourceAlarm ?? event.detail.alarmName;
        event.resources = [`arn:aws:cloudwatch:${event.region}:${event.account}:alarm:${alarm}`];
        return startFromAlarm(deps(), mapping, JSON.parse(JSON.stringify(event)));
      },
      (error, { kind }) =>
        error instanceof ValidationError &&
        new RegExp(
          {
            state: /detail\.state\.value: \w+, but the rule delivers only changes into ALARM/,
            prefix: /detail\.alarmName: .* does not start with "rejuv-aging-"/,
            resource: /resources\.0: must be the ARN of alarm/,
            stateAfterEvent: /detail\.state\.timestamp: .* is after the event's own time/,
            future: /time: .* is in the future/,
            stale: /detail\.state\.timestamp: .* is older than/,
          }[kind]?.source ?? '^$',
        ).test(error.message),
    );
    expect(tally.accepted).toBe(0);
    expect(starter.calls).toEqual([]);
    expect(await tableItems(t.tables.idempotency)).toEqual([]);
  });

  const hostileOperator = fc
    .tuple(
      fc.constantFrom(
        'hostId',
        'reason',
        'principal',
        'level',
        'dryRun',
        'allowSilentGuests',
        'requestId',
        'extraKey',
        'whole',
      ),
      hostile,
    )
    .map(([field, value]) => {
      const request: Record<string, unknown> = {
        hostId: HOST,
        reason: 'planned',
        principal: 'alice@example.com',
        requestId: 'r-1',
      };
      if (field === 'extraKey') {
        // Built as JSON text, so even a key named __proto__ is an own property, as in a real payload.
        const key = typeof value === 'string' && value !== '' ? value : '__proto__';
        return {
          field,
          request: JSON.parse(
            `${JSON.stringify(request).slice(0, -1)},${JSON.stringify(key)}:"x"}`,
          ) as unknown,
        };
      }
      if (field === 'reason')
        request['reason'] =
          typeof value === 'string' &&
          value.trim() !== '' &&
          value.length <= 1024 &&
          !hasControlCharacter(value, { allowTabAndNewline: true })
            ? `${value}\u0007`
            : value;
      else if (field === 'dryRun' || field === 'allowSilentGuests')
        request[field] = typeof value === 'boolean' ? String(value) : value;
      else if (field === 'whole') return { field, request: value };
      else request[field] = value;
      return { field, request };
    })
    // IAM principals legitimately contain . and / (role paths): such a value is a principal, not an attack.
    .filter(
      ({ field, request }) =>
        field !== 'principal' ||
        !/^[A-Za-z0-9:._@/+=,-]{1,256}$/.test(String((request as Record<string, unknown>)['principal'])),
    );

  it('operator requests: every hostile request is refused, nothing claimed or started', async () => {
    const tally = await countRejections(
      'operator requests',
      hostileOperator,
      RUNS.operator,
      ({ request }) => startFromOperator(deps(), JSON.parse(JSON.stringify(request ?? null))),
      (error) => error instanceof ValidationError && /invalid operator request: /.test(error.message),
    );
    expect(tally.accepted).toBe(0);
    expect(starter.calls).toEqual([]);
    expect(await tableItems(t.tables.idempotency)).toEqual([]);
    expect(await store.hosts.get(HOST)).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
  });
});

describe('Hostile input: SSM document parameters', () => {
  const root = mkdtempSync(join(tmpdir(), 'rejuv-hostile-host-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const documents = HOST_DOCUMENT_NAMES.map((name) => ({ name, loaded: loadHostDocument(name) }));
  const hostileParameter = fc
    .tuple(
      fc.constantFrom(...documents),
      fc.nat(),
      fc.oneof(poisoned, huge, fc.constantFrom('', '..', '/', '-h', '--help', '0x1F')),
    )
    .map(([doc, i, value]) => {
      const content = doc.loaded.content as { parameters: Record<string, { allowedPattern?: string }> };
      const names = Object.keys(content.parameters);
      const parameter = names[i % names.length] ?? 'runId';
      return { document: doc.name, content, parameter, value };
    })
    // A value the parameter's own pattern accepts (e.g. `*` for `vms`) is not hostile to it.
    .filter(
      ({ content, parameter, value }) =>
        !new RegExp(content.parameters[parameter]?.allowedPattern ?? '^$').test(value),
    );

  it('every hostile parameter is refused before any step runs (InvalidParameters), and the host is untouched', async () => {
    const tally = await countRejections(
      'SSM document parameters',
      hostileParameter,
      RUNS.ssm,
      ({ document, content, parameter, value }) =>
        runDocument({
          document: content as never,
          documentName: `rejuv-${document}`,
          hostRoot: root,
          parameters: { runId: ['hostile-run'], [parameter]: [value] },
        }),
      (error, { parameter }) => error instanceof DocumentParameterError && error.message.includes(parameter),
    );
    expect(tally.accepted).toBe(0);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("Hostile input: DynamoDB items edited behind the system's back", () => {
  /** Per field, values its schema cannot take (free-text fields take any text, so only non-text or huge). */
  const hostEdit = fc.oneof(
    fc.tuple(
      fc.constant('state'),
      fc.oneof(hostile, fc.constantFrom('HACKED', 'in_service', 'QUARANTINED ')),
    ),
    fc.tuple(
      fc.constant('stateVersion'),
      fc.oneof(
        fc.constantFrom(-1, 1.5, '0', NumberValue.from('9007199254740993')),
        notAString.filter((v) => typeof v !== 'number'),
      ),
    ),
    fc.tuple(fc.constantFrom('pool', 'instanceId', 'executionId', 'createdAt', 'availabilityZone'), hostile),
    fc.tuple(fc.constant('cordoned'), fc.oneof(poisoned, fc.constantFrom(0, 1, 'true', null))),
    fc.tuple(
      fc.constant('quarantineReason'),
      fc.oneof(huge, notAString, fc.constantFrom('', '   ', 'a\u0000b')),
    ),
    fc.tuple(
      fc.constant('tags'),
      fc.oneof(poisoned, huge, fc.constant({ 'bad key!': 'v' }), fc.constant({ k: 'v'.repeat(300) })),
    ),
    fc.tuple(
      fc.constant('lastTransition'),
      fc.oneof(poisoned, fc.constant({ from: 'NOWHERE', to: 'IN_SERVICE' })),
    ),
    fc.tuple(
      fc.constantFrom(
        'state',
        'stateVersion',
        'pool',
        'instanceId',
        'cordoned',
        'createdAt',
        'updatedAt',
        'tags',
      ),
      fc.constant('remove'),
    ),
  );

  it('host items: each corruption is detected on read (CorruptItemError); Admit refuses the host and writes nothing', async () => {
    let n = 0;
    const tally = await countRejections(
      'DynamoDB host items edited',
      hostEdit,
      RUNS.hostItem,
      async ([field, value]) => {
        const hostId = `edited-${++n}`;
        await store.hosts.register({
          hostId,
          pool: 'p',
          availabilityZone: 'az-1',
          instanceId: 'mi-0000000000000cafe',
        });
        const item =
          (
            await t.documents.send(
              new GetCommand({ TableName: t.tables.hosts, Key: { hostId }, ConsistentRead: true }),
            )
          ).Item ?? {};
        const edited: Record<string, unknown> =
          value === 'remove'
            ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== field))
            : { ...item, [field]: value };
        // DynamoDB itself refuses some edits (an index key over its size limit): they never land.
        await t.documents
          .send(new PutCommand({ TableName: t.tables.hosts, Item: edited }))
          .catch((error: unknown) => {
            throw error instanceof Error && error.name === 'ValidationException'
              ? new RefusedByDynamoDb(error.message)
              : error;
          });
        const stored = (
          await t.documents.send(
            new GetCommand({ TableName: t.tables.hosts, Key: { hostId }, ConsistentRead: true }),
          )
        ).Item;
        // The workflow's way in: Admit reads the host before it takes a lock or moves anything.
        await expect(
          admitClaimed(workflowDeps(store, systemClock), `exec-${n}`, {
            hostId,
            trigger: 'operator',
            principal: 'alice',
            reason: 'hostile item',
          }),
        ).rejects.toThrow(CorruptItemError);
        const after = (
          await t.documents.send(
            new GetCommand({ TableName: t.tables.hosts, Key: { hostId }, ConsistentRead: true }),
          )
        ).Item;
        expect(after).toEqual(stored);
        expect(await store.hostLock.current(hostId)).toBeUndefined();
        await store.hosts.get(hostId);
      },
      (error) =>
        (error instanceof CorruptItemError && /stored item .* is corrupt: /.test(error.message)) ||
        error instanceof RefusedByDynamoDb,
    );
    expect(tally.accepted).toBe(0);
  });

  const AUDIT_FIELDS = [
    'outcome',
    'step',
    'at',
    'principal',
    'reason',
    'prevHash',
    'hash',
    'detail',
    'executionId',
    'trigger',
  ] as const;
  // Attacks on the chain as a whole, including by someone who knows how records are hashed.
  const CHAIN_ATTACKS = [
    'delete',
    'duplicate',
    'move',
    'swap',
    'reseal',
    'forge-append',
    'head-delete',
  ] as const;
  type AuditAttack = (typeof AUDIT_FIELDS)[number] | (typeof CHAIN_ATTACKS)[number];
  const auditEdit = fc.tuple(
    fc.constantFrom<AuditAttack>(...AUDIT_FIELDS, ...CHAIN_ATTACKS),
    fc.integer({ min: 1, max: 5 }),
    fc.oneof(poisoned, fc.constantFrom('succeeded', 'failed', 'mallory', '2020-01-01T00:00:00.000Z')),
  );
  const LAST_SEQ = 5;

  it('audit records: each edit, deletion, reorder, forgery or re-seal breaks the chain exactly where it was made', async () => {
    let n = 0;
    const tally = await countRejections(
      'DynamoDB audit records edited',
      auditEdit,
      RUNS.auditRecord,
      async ([attack, seq, value]) => {
        const chainId = hostChainId(`audit-${++n}-${randomUUID().slice(0, 4)}`);
        for (let i = 1; i <= LAST_SEQ; i++)
          await store.audit.append(chainId, {
            eventId: `e-${i}`,
            at: `2026-11-25T10:00:0${i}.000Z`,
            principal: 'alice',
            trigger: 'operator',
            step: 'Admit',
            outcome: 'started',
            reason: 'chain under test',
          });
        const read = async (at: number) =>
          (
            await t.documents.send(
              new GetCommand({ TableName: t.tables.audit, Key: { chainId, seq: at }, ConsistentRead: true }),
            )
          ).Item ?? {};
        const put = (item: Record<string, unknown>) =>
          t.documents.send(new PutCommand({ TableName: t.tables.audit, Item: item }));
        const remove = (at: number) =>
          t.documents.send(new DeleteCommand({ TableName: t.tables.audit, Key: { chainId, seq: at } }));
        /** A record consistent with its own hash again: only its successor, or the head, can tell. */
        const resealed = (item: Record<string, unknown>, edit: Record<string, unknown>) => {
          const { kind, hash: _old, ...unsealed } = { ...item, ...edit };
          return { ...unsealed, hash: hashRecord(unsealed as UnsealedAuditRecord), kind };
        };
        const item = await read(seq);
        let expectedSeq = seq;
        switch (attack) {
          case 'delete':
            await remove(seq);
            break;
          case 'duplicate':
            await put({ ...item, seq: seq + 1 }); // replaces the next record
            expectedSeq = seq + 1;
            break;
          case 'move':
            await remove(seq);
            await put({ ...item, seq: LAST_SEQ + 2 });
            break;
          case 'swap': {
            const other = seq < LAST_SEQ ? seq + 1 : seq - 1;
            await put({ ...(await read(other)), seq });
            await put({ ...item, seq: other });
            expectedSeq = Math.min(seq, other);
            break;
          }
          case 'reseal':
            await put(resealed(item, { outcome: 'succeeded', principal: 'mallory' }));
            expectedSeq = seq < LAST_SEQ ? seq + 1 : seq;
            break;
          case 'forge-append': {
            const last = await read(LAST_SEQ);
            await put(resealed(last, { seq: LAST_SEQ + 1, eventId: 'e-forged', prevHash: last['hash'] }));
            expectedSeq = LAST_SEQ + 1;
            break;
          }
          case 'head-delete':
            await remove(0);
            expectedSeq = LAST_SEQ;
            break;
          default: {
            const original = item[attack];
            const replacement = attack === 'detail' ? { note: value } : value;
            fc.pre(JSON.stringify(original) !== JSON.stringify(replacement)); // else not an edit
            await put({ ...item, [attack]: replacement });
          }
        }
        const verdict = await store.audit.verify(chainId);
        if (verdict.ok) return;
        expect(verdict.firstBreak.seq, `${attack} at ${seq}: ${verdict.firstBreak.kind}`).toBe(expectedSeq);
        throw new DetectedBreak(verdict.firstBreak.kind);
      },
      (error) => error instanceof DetectedBreak,
    );
    expect(tally.accepted).toBe(0);
  });
});

class DetectedBreak extends Error {}
class RefusedByDynamoDb extends Error {}
