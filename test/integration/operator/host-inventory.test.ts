/**
 * `rejuv hosts inventory` as the operator API runs it, on DynamoDB Local: the Census document sent through
 * the HostCommands port (scripted here; test/host/census.test.ts runs the real document on a lab host),
 * waited for, its census returned, an adoption audited, and every way it cannot run refused plainly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  HostCommandFailedError,
  HostCommandTimeoutError,
  HostNotFoundError,
  HostOwnedByExecutionError,
  ValidationError,
} from '../../../shared/domain/errors.js';
import { censusRunId, hostInventory } from '../../../shared/operator/host-inventory.js';
import type { OperatorUseCaseDeps } from '../../../shared/operator/operator-deps.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { ScriptedHostCommands } from '../../support/workflow-deps.js';
import { chainOf, OPERATOR, operatorDeps, placeIn, snapshot } from './operator-support.js';

const CENSUS = 'rejuv-Census';
const VMS = [
  { name: 'vm-a', outcome: 'managed', pid: 101, vmm: 'qemu' },
  { name: 'web', outcome: 'adoptable', pid: 102, vmm: 'qemu', qmpSocket: '/run/web.qmp' },
  { name: 'db', outcome: 'foreign', pid: 103, vmm: 'qemu', reason: 'its parent process is libvirtd' },
];
const line = (value: object) => `${JSON.stringify({ document: 'Census', schemaVersion: 1, ...value })}\n`;

/** A host whose Census finds VMS and adopts nothing. */
const censusAnswers = () =>
  new ScriptedHostCommands({
    [CENSUS]: {
      status: 'Success',
      responseCode: 0,
      stdout: line({ outcome: 'ok', vms: VMS, adopted: [] }),
      stderr: '',
    },
  });

let t: TestTables;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  clock = new ManualClock(Date.UTC(2026, 11, 8));
});

function depsWith(commands: ScriptedHostCommands, census = true): OperatorUseCaseDeps {
  const deps = operatorDeps(t, clock, commands);
  return {
    ...deps,
    // Each wait moves the clock, so a deadline passes without real sleeping.
    sleep: async (ms) => clock.advance(ms),
    config: { ...deps.config, ...(census ? { census: { documentName: CENSUS, timeoutSeconds: 120 } } : {}) },
  };
}

async function host(): Promise<string> {
  const hostId = `inv-${++n}`;
  await registerHost(t.store(clock), hostId);
  return hostId;
}

describe('Use case: hostInventory', () => {
  it('sends Census with no adoption and returns the census; a census alone changes nothing', async () => {
    const hostId = await host();
    const before = await snapshot(t, hostId);
    const commands = censusAnswers();
    const result = await hostInventory(depsWith(commands), OPERATOR, { hostId, requestId: 'q-1' });
    expect(result).toMatchObject({ hostId, outcome: 'ok', vms: VMS, adopted: [], commandId: 'cmd-1' });
    expect(commands.sent).toEqual([
      expect.objectContaining({
        documentName: CENSUS,
        parameters: { runId: result.runId, adopt: '-' },
        stepKey: `${result.runId}:Census`,
        executionTimeoutSeconds: 120,
      }),
    ]);
    expect(result.runId).toMatch(/^inv-inv-\d+-[0-9a-f]{16}$/);
    expect(await snapshot(t, hostId)).toEqual(before);
  });

  it('adopts as asked and audits who adopted which VMs on the host chain', async () => {
    const hostId = await host();
    const adopted = [
      { name: 'web', outcome: 'adopted', pid: 102, entry: '/etc/rejuv/vms.d/web.json' },
      {
        name: 'db',
        outcome: 'refused',
        reason: 'it is foreign, not adoptable: its parent process is libvirtd',
      },
    ];
    const commands = new ScriptedHostCommands({
      [CENSUS]: {
        status: 'Failed',
        responseCode: 4,
        stdout: line({ outcome: 'partial', reason: 'not adopted: db: ...', vms: VMS, adopted }),
        stderr: '',
      },
    });
    const result = await hostInventory(depsWith(commands), OPERATOR, {
      hostId,
      adopt: 'web,db',
      requestId: 'a-1',
    });
    expect(result).toMatchObject({ outcome: 'partial', adopted });
    expect(commands.sent[0]?.parameters).toEqual({ runId: result.runId, adopt: 'web,db' });
    expect((await chainOf(t, hostId)).at(-1)).toMatchObject({
      principal: OPERATOR,
      step: 'HostInventory',
      outcome: 'succeeded',
      eventId: `operator:inventory:${result.runId}`,
      detail: { change: 'adopt', asked: 'web,db', adopted: 'web', refused: 'db', commandId: 'cmd-1' },
    });
  });

  it('gives a retried request the same run id (one command per step key) and a new request a new one', async () => {
    const hostId = await host();
    const stored = await t.store(clock).hosts.get(hostId);
    expect(censusRunId(stored, 'same')).toBe(censusRunId(stored, 'same'));
    expect(censusRunId(stored, 'same')).not.toBe(censusRunId(stored, 'other'));
  });

  it('refuses to adopt on a host an execution owns, sending nothing; a census alone still runs', async () => {
    const hostId = await host();
    await placeIn(t, hostId, 'DRAINING', 1, { executionId: 'exec-1' });
    const commands = censusAnswers();
    await expect(hostInventory(depsWith(commands), OPERATOR, { hostId, adopt: '*' })).rejects.toThrow(
      HostOwnedByExecutionError,
    );
    expect(commands.sent).toEqual([]);
    await expect(hostInventory(depsWith(commands), OPERATOR, { hostId })).resolves.toMatchObject({
      outcome: 'ok',
    });
  });

  it('refuses bad input, an unknown host and a deployment without the document, sending nothing', async () => {
    const hostId = await host();
    const commands = new ScriptedHostCommands();
    for (const input of [
      { hostId, adopt: 'web;reboot' },
      { hostId, adopt: 'Web' },
      { hostId, adopt: '' },
      { hostId, extra: true },
      { hostId: 'h 1' },
    ])
      await expect(hostInventory(depsWith(commands), OPERATOR, input), JSON.stringify(input)).rejects.toThrow(
        ValidationError,
      );
    await expect(hostInventory(depsWith(commands), OPERATOR, { hostId: 'nobody' })).rejects.toThrow(
      HostNotFoundError,
    );
    await expect(hostInventory(depsWith(commands, false), OPERATOR, { hostId })).rejects.toThrow(
      /Census document is not configured/,
    );
    expect(commands.sent).toEqual([]);
  });

  it('fails with HostCommandFailedError on no result line, and HostCommandTimeoutError past the deadline (cancelled)', async () => {
    const hostId = await host();
    const broken = new ScriptedHostCommands({
      [CENSUS]: { status: 'Failed', responseCode: 1, stdout: '', stderr: 'python3: not found' },
    });
    await expect(hostInventory(depsWith(broken), OPERATOR, { hostId })).rejects.toThrow(
      /Census failed on host inv-\d+ \(command cmd-1\): status Failed, exit 1, host document result unreadable: stdout has no JSON line; stderr: python3: not found/,
    );
    await expect(hostInventory(depsWith(broken), OPERATOR, { hostId })).rejects.toThrow(
      HostCommandFailedError,
    );
    const hanging = new ScriptedHostCommands();
    await expect(hostInventory(depsWith(hanging), OPERATOR, { hostId })).rejects.toThrow(
      HostCommandTimeoutError,
    );
    expect(hanging.cancelled).toEqual(['cmd-1']);
  });
});
