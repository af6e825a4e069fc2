import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { hostChainId } from '../../../shared/domain/audit-record.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  HostCommandFailedError,
  HostCommandTimeoutError,
  HostNotBackError,
  PreflightRefusedError,
} from '../../../shared/domain/errors.js';
import { HostResultVersionError } from '../../../host/results/host-document-result.js';
import { checkHostBack } from '../../../shared/workflow/await-host.js';
import { pollHostCommand, startHostCommand } from '../../../shared/workflow/host-command-step.js';
import { PreflightFindingsSchema } from '../../../shared/workflow/preflight-findings.js';
import type { HostDocument } from '../../../shared/workflow/workflow-config.js';
import type { WorkflowContext } from '../../../shared/workflow/workflow-context.js';
import { admitClaimed } from '../../support/claims.js';
import { hostResultLine } from '../../support/host-result-lines.js';
import { freshTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import {
  ScriptedAgents,
  ScriptedHostCommands,
  TEST_WORKFLOW_CONFIG,
  workflowDeps,
} from '../../support/workflow-deps.js';

let store: Store;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 25));
  store = (await freshTables()).store(clock);
});

async function admitted(commands: ScriptedHostCommands): Promise<WorkflowContext> {
  const hostId = `hc-${++n}`;
  await registerHost(store, hostId, `p-${n}`);
  return admitClaimed(workflowDeps(store, clock, { commands }), `exec-${n}`, {
    hostId,
    trigger: 'alarm',
    principal: 'cw',
    reason: 'aging',
    level: 'vmm-process',
  });
}

const ok = (document: HostDocument, line: Readonly<Record<string, unknown>>) => ({
  status: 'Success' as const,
  responseCode: 0,
  stdout: `progress...\n${hostResultLine(document, line)}\n`,
  stderr: '',
});

describe('Use case: host command step', () => {
  it('sends the document with parameters from the context only, and a step key for idempotency', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    await startHostCommand(workflowDeps(store, clock, { commands }), ctx, 'WarmReboot');
    expect(commands.sent).toEqual([
      {
        instanceId: ctx.instanceId,
        documentName: TEST_WORKFLOW_CONFIG.documents.WarmReboot,
        // The deadline twice: the step's own timeout on the host, and SendCommand's delivery timeout.
        parameters: { level: 'vmm-process', runId: ctx.executionId, executionTimeout: '600' },
        executionTimeoutSeconds: 600,
        stepKey: `${ctx.executionId}:WarmReboot`,
      },
    ]);
  });

  it('asks Preflight to refuse a silent guest unless the request allows it', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    await startHostCommand(deps, ctx, 'Preflight');
    const allowing = { ...ctx, request: { ...ctx.request, allowSilentGuests: true } };
    await startHostCommand(deps, allowing, 'Preflight');
    expect(commands.sent.map((c) => c.parameters)).toEqual([
      { level: 'vmm-process', runId: ctx.executionId, allowSilentGuests: 'false', executionTimeout: '60' },
      { level: 'vmm-process', runId: ctx.executionId, allowSilentGuests: 'true', executionTimeout: '60' },
    ]);
  });

  it('returns the guests Preflight found silent, and records them in the audit trail', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Preflight] = ok('Preflight', {
      outcome: 'ok',
      silentVms: ['vm-dead'],
      vms: [
        { name: 'vm-dead', outcome: 'ready', heartbeat: { advancing: false, first: 7, last: 7 } },
        { name: 'vm-live', outcome: 'ready', heartbeat: { advancing: true, first: 7, last: 9 } },
      ],
    });
    const command = await startHostCommand(deps, ctx, 'Preflight');
    expect(await pollHostCommand(deps, ctx, command)).toMatchObject({
      done: true,
      preflight: { silentGuests: ['vm-dead'] },
    });
    const records = [];
    for await (const r of store.audit.read(hostChainId(ctx.request.hostId))) records.push(r);
    expect(records.at(-1)).toMatchObject({
      step: 'Preflight',
      outcome: 'succeeded',
      detail: { silentGuests: 'vm-dead' },
    });
  });

  it("records the VMs Preflight's census found outside the inventory: part of the host is not rejuvenated", async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Preflight] = ok('Preflight', {
      outcome: 'ok',
      vms: [{ name: 'vm-a', outcome: 'ready' }],
      census: [
        { name: 'vm-a', outcome: 'managed', pid: 10, vmm: 'qemu' },
        { name: 'web', outcome: 'adoptable', pid: 11, vmm: 'qemu', qmpSocket: '/run/web.qmp' },
        { name: 'db', outcome: 'foreign', pid: 12, vmm: 'qemu', reason: 'its parent process is libvirtd' },
        { name: 'gone', outcome: 'missing', reason: 'no process runs its inventory argv' },
      ],
    });
    const command = await startHostCommand(deps, ctx, 'Preflight');
    expect(await pollHostCommand(deps, ctx, command)).toMatchObject({ done: true });
    const records = [];
    for await (const r of store.audit.read(hostChainId(ctx.request.hostId))) records.push(r);
    expect(records.at(-1)?.detail?.['notRejuvenated']).toBe(
      'web (pid 11, adoptable); db (pid 12, foreign): its parent process is libvirtd',
    );
  });

  it('finds no silent guests in a Preflight result that lists none', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Preflight] = ok('Preflight', { outcome: 'ok', vms: [] });
    const command = await startHostCommand(deps, ctx, 'Preflight');
    expect(await pollHostCommand(deps, ctx, command)).toMatchObject({ preflight: { silentGuests: [] } });
  });

  it('tells Verify which guests were silent at Preflight, and "-" when none were', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    await startHostCommand(deps, ctx, 'Verify');
    await startHostCommand(deps, ctx, 'Verify', { silentGuests: ['vm-a', 'vm-b'] });
    expect(commands.sent.map((c) => c.parameters)).toEqual([
      { runId: ctx.executionId, silentAtPreflight: '-', executionTimeout: '60' },
      { runId: ctx.executionId, silentAtPreflight: 'vm-a,vm-b', executionTimeout: '60' },
    ]);
  });

  it('reports pending until the host answers, then returns the parsed result and records it', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    const command = await startHostCommand(deps, ctx, 'Verify');
    expect(await pollHostCommand(deps, ctx, command)).toMatchObject({ done: false });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Verify] = ok('Verify', {
      outcome: 'ok',
      vms: [{ name: 'vm1', outcome: 'verified' }],
    });
    const done = await pollHostCommand(deps, ctx, command);
    expect(done).toMatchObject({ done: true, result: { outcome: 'ok', vms: [{ name: 'vm1' }] } });
    const records = [];
    for await (const r of store.audit.read(hostChainId(ctx.request.hostId))) records.push(r);
    expect(records.at(-1)).toMatchObject({
      step: 'Verify',
      outcome: 'succeeded',
      commandId: command.commandId,
    });
  });

  it('cancels a command past its deadline and fails with HostCommandTimeoutError', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    const command = await startHostCommand(deps, ctx, 'Preflight');
    clock.advance(60_001);
    await expect(pollHostCommand(deps, ctx, command)).rejects.toThrow(HostCommandTimeoutError);
    expect(commands.cancelled).toEqual([command.commandId]);
  });

  it('waits for a host that went offline during its command, and names its guests once AwaitHost would give up', async () => {
    const commands = new ScriptedHostCommands();
    const agents = new ScriptedAgents('Online');
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands, agents });
    const findings = { silentGuests: [], guests: ['vm-a', 'vm-b'] };
    let command = await startHostCommand(deps, ctx, 'WarmReboot', findings);

    // The kernel level's reload: offline for a while, back, offline again; the clock restarts each time.
    agents.pingStatus = 'ConnectionLost';
    const firstLoss = clock.nowMs();
    let poll = await pollHostCommand(deps, ctx, command, findings);
    expect(poll).toMatchObject({
      done: false,
      command: { unreachableSince: new Date(firstLoss).toISOString() },
    });
    command = poll.command;
    clock.advance(200_000);
    agents.pingStatus = 'Online';
    poll = await pollHostCommand(deps, ctx, command, findings);
    expect(poll.done).toBe(false);
    expect(poll.command.unreachableSince).toBeUndefined();
    command = poll.command;
    agents.pingStatus = 'ConnectionLost';
    command = (await pollHostCommand(deps, ctx, command, findings)).command;
    clock.advance(TEST_WORKFLOW_CONFIG.awaitHostTimeoutSeconds * 1000 - 1);
    command = (await pollHostCommand(deps, ctx, command, findings)).command;
    expect(commands.cancelled).toEqual([]);

    clock.advance(1);
    const gone = pollHostCommand(deps, ctx, command, findings);
    await expect(gone).rejects.toThrow(HostNotBackError);
    await expect(gone).rejects.toThrow(/last status ConnectionLost.*vm-a, vm-b/);
    // Cancelled, so that a host coming back later does not resume the command on its own.
    expect(commands.cancelled).toEqual([command.commandId]);
    const records = [];
    for await (const r of store.audit.read(hostChainId(ctx.request.hostId))) records.push(r);
    expect(records.at(-1)).toMatchObject({
      step: 'WarmReboot',
      outcome: 'failed',
      detail: { status: 'HostNotBack', pingStatus: 'ConnectionLost', guests: 'vm-a,vm-b' },
    });
  });

  it('keeps every guest Preflight assessed in its findings', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Preflight] = ok('Preflight', {
      outcome: 'ok',
      vms: [
        { name: 'vm-a', outcome: 'ready' },
        { name: 'vm-b', outcome: 'ready' },
        // The host's word: a name no inventory holds is not carried into later steps' input.
        { name: 'VM B; rm -rf /', outcome: 'ready' },
      ],
    });
    const command = await startHostCommand(deps, ctx, 'Preflight');
    const polled = await pollHostCommand(deps, ctx, command);
    expect(polled).toMatchObject({ preflight: { silentGuests: [], guests: ['vm-a', 'vm-b'] } });
    expect(PreflightFindingsSchema.parse(polled.done ? polled.preflight : undefined)).toBeDefined();
  });

  it('turns a refusing preflight into PreflightRefusedError naming each VM', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.Preflight] = {
      status: 'Failed',
      responseCode: 3,
      stdout: hostResultLine('Preflight', {
        outcome: 'refused',
        vms: [{ name: 'vm2', outcome: 'refused', reason: 'RAM is private memory' }],
      }),
      stderr: '',
    };
    const command = await startHostCommand(deps, ctx, 'Preflight');
    await expect(pollHostCommand(deps, ctx, command)).rejects.toThrow(PreflightRefusedError);
    await expect(pollHostCommand(deps, ctx, command)).rejects.toThrow(/vm2: RAM is private memory/);
  });

  it.each([
    [
      'a failed document',
      'WarmReboot' as const,
      {
        status: 'Failed' as const,
        responseCode: 2,
        stdout: hostResultLine('WarmReboot', { outcome: 'failed', reason: 'qemu vm1 died' }),
        stderr: '',
      },
      /outcome failed: qemu vm1 died/,
    ],
    [
      'success without a result line',
      'WarmReboot' as const,
      { status: 'Success' as const, responseCode: 0, stdout: 'done', stderr: 'warn' },
      /no result \(host document result unreadable: stdout has no JSON line\)/,
    ],
    [
      'a result naming a silent guest that is no VM name',
      'Preflight' as const,
      {
        status: 'Success' as const,
        responseCode: 0,
        stdout: hostResultLine('Preflight', { outcome: 'ok', silentVms: ['vm-a;reboot'] }),
        stderr: '',
      },
      /no result \(.*silentVms\.0: VM name/,
    ],
    [
      'a garbled result line',
      'WarmReboot' as const,
      {
        status: 'Success' as const,
        responseCode: 0,
        stdout: hostResultLine('WarmReboot', { outcome: 'ok', vms: 7 }),
        stderr: '',
      },
      /no result \(host document result unreadable: vms: /,
    ],
    [
      'a result of another document',
      'WarmReboot' as const,
      {
        status: 'Success' as const,
        responseCode: 0,
        stdout: hostResultLine('Verify', { outcome: 'ok' }),
        stderr: '',
      },
      /no result \(expected a WarmReboot result, got Verify\)/,
    ],
  ])('fails with HostCommandFailedError on %s', async (_what, document, invocation, message) => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents[document]] = invocation;
    const command = await startHostCommand(deps, ctx, document);
    const poll = pollHostCommand(deps, ctx, command);
    await expect(poll).rejects.toThrow(HostCommandFailedError);
    await expect(pollHostCommand(deps, ctx, command)).rejects.toThrow(message);
  });

  it('fails with HostResultVersionError on a line of another schema version, and audits why', async () => {
    const commands = new ScriptedHostCommands();
    const ctx = await admitted(commands);
    const deps = workflowDeps(store, clock, { commands });
    commands.script[TEST_WORKFLOW_CONFIG.documents.WarmReboot] = {
      ...ok('WarmReboot', { outcome: 'ok' }),
      stdout: JSON.stringify({ schemaVersion: 2, document: 'WarmReboot', outcome: 'ok', vms: [] }),
    };
    const command = await startHostCommand(deps, ctx, 'WarmReboot');
    const poll = pollHostCommand(deps, ctx, command);
    await expect(poll).rejects.toThrow(HostResultVersionError);
    await expect(poll).rejects.toMatchObject({ name: 'HostResultVersionError', retryable: false });
    const records = [];
    for await (const r of store.audit.read(hostChainId(ctx.request.hostId))) records.push(r);
    expect(records.at(-1)).toMatchObject({
      step: 'WarmReboot',
      outcome: 'failed',
      detail: { outcome: null, problem: expect.stringContaining('schemaVersion 2') },
    });
  });
});

describe('Use case: await host', () => {
  it('waits while the agent is offline, succeeds once online, and gives up at the deadline', async () => {
    const agents = new ScriptedAgents('ConnectionLost');
    const ctx = await admitted(new ScriptedHostCommands());
    const deps = workflowDeps(store, clock, { agents });
    const first = await checkHostBack(deps, ctx, {});
    expect(first.online).toBe(false);
    clock.advance(100_000);
    expect(await checkHostBack(deps, ctx, first)).toEqual({ online: false, deadline: first.deadline });
    agents.pingStatus = 'Online';
    expect((await checkHostBack(deps, ctx, first)).online).toBe(true);
    agents.pingStatus = 'ConnectionLost';
    clock.advance(200_001);
    await expect(checkHostBack(deps, ctx, first)).rejects.toThrow(HostNotBackError);
  });
});
