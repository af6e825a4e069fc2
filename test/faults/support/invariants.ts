/**
 * The invariants every fault must leave intact, checked from outside the coordinator: the host is
 * IN_SERVICE with every guest continued, or QUARANTINED with a reason and a notification, every guest
 * accounted for by name; no lock or pool slot left held by the executions; the audit chain verifies,
 * every execution's records end in a terminal step, and the fault is on record; and no function made
 * a call its deployed role may not make (local IAM refused nothing).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { counterBreaks } from '../../../host/lab/heartbeat-log.js';
import { findVmProcesses } from '../../../host/lab/vm-processes.js';
import type { FleetHost } from '../../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../../local/local-environment.js';
import { describeBreak } from '../../../shared/domain/audit-chain.js';
import { hostChainId, type AuditRecord } from '../../../shared/domain/audit-record.js';
import { giveVerdict, type FaultOutcome } from './tally.js';

/** Records after which an execution has nothing left to do: its release, its reaping, or a refusal. */
const isTerminal = (r: AuditRecord): boolean =>
  r.step === 'Release' || r.step === 'Reap' || r.outcome === 'refused';

export interface FaultCheck {
  readonly fault: string;
  readonly env: LocalEnvironment;
  readonly host: FleetHost;
  /** Every execution the fault touched; each must have ended. */
  readonly executions: readonly string[];
  /** How the audit trail shows the fault (e.g. a failed step, a compensation); a problem when false. */
  readonly faultOnRecord: (records: readonly AuditRecord[]) => boolean;
  /** How long the executions may still take to end. */
  readonly settleMs?: number;
  /**
   * Give the verdict to the suite's tally for `fault` (counted when the test has finished, survived only
   * if the test passed); the soak tallies its sprinkled faults itself.
   */
  readonly tally?: boolean;
}

export interface FaultVerdict extends FaultOutcome {
  readonly problems: readonly string[];
  readonly records: readonly AuditRecord[];
}

export async function checkInvariants(check: FaultCheck): Promise<FaultVerdict> {
  const { env, host } = check;
  const problems: string[] = [];
  const endings: string[] = [];
  for (const name of check.executions) {
    const execution = env.stepFunctions.execution(name);
    if (execution === undefined) {
      problems.push(`execution ${name} does not exist`);
      continue;
    }
    const ended = await Promise.race([
      execution.done.then(() => true),
      sleep(check.settleMs ?? 120_000).then(() => false),
    ]);
    if (!ended) problems.push(`execution ${name} is still ${execution.status}`);
    endings.push(`${execution.status}${execution.error === undefined ? '' : `/${execution.error}`}`);
  }
  // The reaper of an aborted execution runs after it ended, as EventBridge delivers the end: wait for
  // those deliveries to finish (its notification comes after the host's move), then for the host.
  await env.eventDeliveriesSettled();
  const after = await settledHost(env, host.hostId, 10_000);

  const heartbeats = await host.heartbeats();
  const continued = new Map<string, boolean>();
  for (const [vm, log] of Object.entries(heartbeats)) {
    const running = (await findVmProcesses(host.lab.vm(vm).argv)).length === 1;
    continued.set(
      vm,
      running && log.boots === 1 && counterBreaks(log.counters).length === 0 && log.badPages.length === 0,
    );
  }
  const notifications = env.sns
    .published()
    .filter((m) => m.subject === `rejuv: host ${host.hostId} quarantined`);
  let lostGuests = 0;
  if (after.state === 'IN_SERVICE') {
    if (after.cordoned) problems.push('host is IN_SERVICE but still cordoned');
    for (const [vm, ok] of continued)
      if (!ok) {
        lostGuests += 1;
        problems.push(`host is IN_SERVICE but guest ${vm} did not continue`);
      }
  } else if (after.state === 'QUARANTINED') {
    const reason = after.quarantineReason ?? '';
    if (reason.trim() === '') problems.push('quarantined without a reason');
    if (notifications.length === 0) problems.push('quarantined without a notification');
    const told = `${reason}\n${notifications.map((n) => n.message).join('\n')}`;
    for (const [vm, ok] of continued)
      if (!ok && !new RegExp(`\\b${vm}\\b`).test(told)) {
        lostGuests += 1;
        problems.push(`guest ${vm} did not continue and is not named in the quarantine reason`);
      }
  } else {
    problems.push(`host left in ${after.state}`);
  }

  const lock = await env.store.hostLock.current(host.hostId);
  if (lock !== undefined && check.executions.includes(lock.owner))
    problems.push(`host lock still held by ${lock.owner}`);
  const slots = await env.store.poolSemaphore.holders(host.pool, 16);
  for (const slot of slots)
    if (check.executions.includes(slot.owner))
      problems.push(`pool slot ${slot.resource} still held by ${slot.owner}`);

  for (const { principalArn, request } of env.iam.refusals())
    problems.push(`IAM refused ${request.action} on ${request.resource} to ${principalArn}`);

  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(host.hostId))) records.push(r);
  const verdict = await env.store.audit.verify(hostChainId(host.hostId));
  let lostAuditRecords = 0;
  if (!verdict.ok) {
    lostAuditRecords = Math.max(1, verdict.length - verdict.firstBreak.seq + 1);
    problems.push(`audit chain broken: ${describeBreak(verdict.firstBreak)}`);
  }
  for (const name of check.executions) {
    const own = records.filter((r) => r.executionId === name);
    const last = own.at(-1);
    if (last === undefined || !isTerminal(last)) {
      lostAuditRecords += 1;
      problems.push(`execution ${name} has no terminal audit record (last: ${last?.step ?? 'none'})`);
    }
  }
  const eventIds = records.map((r) => r.eventId);
  if (new Set(eventIds).size !== eventIds.length) problems.push('an audit event was recorded twice');
  if (!check.faultOnRecord(records)) problems.push('the audit trail does not show the fault');

  const verdictLine: FaultVerdict = {
    fault: check.fault,
    survived: problems.length === 0,
    lostGuests,
    lostAuditRecords,
    ending: `${endings.join(', ')}; host ${after.state}${after.state === 'QUARANTINED' ? ` (${(after.quarantineReason ?? '').slice(0, 120)})` : ''}`,
    problems,
    records,
  };
  const { problems: _p, records: _r, ...outcome } = verdictLine;
  if (check.tally !== false) giveVerdict(outcome);
  return verdictLine;
}

/** The host once no execution is moving it (the reaper may still be at work right after an abort). */
async function settledHost(env: LocalEnvironment, hostId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const host = await env.store.hosts.get(hostId);
    if (host.state === 'IN_SERVICE' || host.state === 'QUARANTINED' || Date.now() > deadline) return host;
    await sleep(200);
  }
}

/** Audit predicates for `faultOnRecord`. */
export const onRecord = {
  /** Compensation began, for an error matching `pattern`. */
  caught: (pattern: RegExp) => (records: readonly AuditRecord[]) =>
    records.some((r) => r.step === 'Compensate' && pattern.test(r.reason ?? '')),
  /** A step failed and compensation began. */
  compensated: (records: readonly AuditRecord[]) => records.some((r) => r.step === 'Compensate'),
  /** Some record of the run says refused (lock held, not in service, preflight). */
  refused: (records: readonly AuditRecord[]) => records.some((r) => r.outcome === 'refused'),
  /** The run went through and each step's effect is recorded once. */
  recordedOnce: (records: readonly AuditRecord[]) =>
    records.some((r) => r.step === 'Release' && r.outcome === 'succeeded'),
};
