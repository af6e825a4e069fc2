/**
 * `npm run demo`: the whole coordinator on this machine. Two local hosts with two tiny QEMU VMs each;
 * a synthetic CloudWatch aging alarm for one and an operator request for the other; both workflows run
 * through the synthesized state machine with the real handlers; a live timeline; then each VM's guest
 * pause, the audit verification and an HTML report. Then the aging segment (aging-segment.ts): a third
 * host whose leaking guest makes its QEMU process grow, measured by the collector until the predictor
 * starts its rejuvenation, and measured again after. Everything it started is stopped, even on Ctrl-C.
 * The last line is one JSON summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { counterBreaks } from '../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../host/lab/lab-host.js';
import { addFleetHost, agingAlarmEvent, type FleetHost } from '../local/lab-fleet.js';
import { startLocalEnvironment, type LocalEnvironment } from '../local/local-environment.js';
import type { LocalExecution } from '../local/step-functions/local-step-functions.js';
import { hostChainId, type AuditRecord } from '../shared/domain/audit-record.js';
import type { DemoRun, HostRun, VmPause } from './demo-run.js';
import { stepSpans } from '../shared/workflow/operator-steps.js';
import { renderReport } from './report-html.js';
import { AGING_COLLECTION, demoPrediction, LEAK_CALLS_PER_TICK, runAgingSegment } from './aging-segment.js';

const REPORT_DIR = resolve(import.meta.dirname, '..', 'reports');

interface Started {
  readonly host: FleetHost;
  readonly trigger: HostRun['trigger'];
  readonly execution: LocalExecution;
}

let cleanup: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const startedAt = new Date();
  const originMs = Date.now();
  const elapsed = (ms: number = Date.now()) => `+${((ms - originMs) / 1000).toFixed(2)}s`.padStart(8);
  console.log(
    `${elapsed()}  starting the local environment (DynamoDB Local, SSM, SNS, Step Functions from cdk synth)`,
  );
  const env = await startLocalEnvironment({
    waitMs: 150,
    coordinator: { agingCollection: AGING_COLLECTION, prediction: demoPrediction() },
  });
  cleanup = async () => {
    await env.stop();
    await teardownOpenLabHosts();
  };

  console.log(
    `${elapsed()}  launching 3 hosts x 2 VMs (QEMU, guest RAM on /dev/shm, share=on); host-c/vm1 runs the leaking guest`,
  );
  const [hostA, hostB, hostC] = await Promise.all([
    addFleetHost(env, { hostId: 'host-a', pool: 'web', vms: [{ name: 'vm1' }, { name: 'vm2' }] }),
    addFleetHost(env, { hostId: 'host-b', pool: 'db', vms: [{ name: 'vm1' }, { name: 'vm2' }] }),
    addFleetHost(env, {
      hostId: 'host-c',
      pool: 'batch',
      vms: [{ name: 'vm1', leakCallsPerTick: LEAK_CALLS_PER_TICK }, { name: 'vm2' }],
    }),
  ]);
  if (hostA === undefined || hostB === undefined || hostC === undefined)
    throw new Error('the lab hosts did not start');
  await sleep(500);

  console.log(`${elapsed()}  CloudWatch aging alarm for host-a; operator request for host-b`);
  const stamp = startedAt.toISOString().replace('Z', '+0000');
  const [alarm, operator] = (await Promise.all([
    env.invokeTrigger('AlarmTrigger', agingAlarmEvent(hostA.hostId, stamp)),
    env.startAsOperator({
      hostId: hostB.hostId,
      reason: 'planned rejuvenation: hypervisor uptime 180 days',
      requestId: `demo-${originMs}`,
    }),
  ])) as { executionName: string }[];
  const started: Started[] = [
    { host: hostA, trigger: 'alarm', execution: executionOf(env, alarm?.executionName) },
    { host: hostB, trigger: 'operator', execution: executionOf(env, operator?.executionName) },
  ];

  const states = env.workflow.definition['States'] as Record<string, { Type: string }>;
  await liveTimeline(states, started, elapsed);

  const aging = await runAgingSegment(env, {
    host: hostC,
    leakingVm: 'vm1',
    elapsed,
    follow: async (name) => {
      const predicted: Started = { host: hostC, trigger: 'predictive', execution: executionOf(env, name) };
      started.push(predicted);
      await liveTimeline(states, [predicted], elapsed);
    },
  });

  const hosts: HostRun[] = [];
  for (const s of started) hosts.push(await hostRun(env, s));
  for (const h of hosts) {
    for (const vm of h.vms) {
      console.log(
        `          ${h.hostId}/${vm.vm}: guest paused ${vm.pauseMs ?? '?'} ms, ${vm.stateBytes ?? '?'} bytes of device state, ${vm.rebooted ? 'REBOOTED' : 'kept running'}`,
      );
    }
    console.log(
      `          ${h.hostId}: ${h.status}, audit chain ${h.auditVerified ? 'verified' : 'BROKEN'} (${h.auditRecords.length} records)`,
    );
  }

  await mkdir(REPORT_DIR, { recursive: true });
  const report = join(REPORT_DIR, `demo-${startedAt.toISOString().replace(/[:.]/g, '-')}.html`);
  await writeFile(
    report,
    renderReport({
      startedAt: startedAt.toISOString(),
      // The chart starts when the first execution did, not when the environment began starting.
      originMs: Math.min(...started.map((s) => s.execution.startDate)),
      hosts,
      aging,
    } satisfies DemoRun),
  );
  console.log(`${elapsed()}  report: ${report}`);

  const vms = hosts.flatMap((h) => h.vms);
  const pauses = vms.map((v) => v.pauseMs).filter((p): p is number => p !== null);
  const summary = {
    hosts: hosts.length,
    vms: vms.length,
    rejuvenated: hosts.filter((h) => h.status === 'SUCCEEDED').length,
    guestsRebooted: vms.filter((v) => v.rebooted).length,
    maxGuestPauseMs: pauses.length === 0 ? null : Math.max(...pauses),
    auditVerified: hosts.every((h) => h.auditVerified),
    aging: {
      hostId: aging.hostId,
      status: aging.status,
      series: aging.evidence.series,
      z: aging.evidence.z,
      p: aging.evidence.p,
      rssAtPredictionMiB: aging.rssAtFireBytes === null ? null : Math.round(aging.rssAtFireBytes / 2 ** 20),
      rssAfterMiB: aging.rssAfterBytes === null ? null : Math.round(aging.rssAfterBytes / 2 ** 20),
      fellBack: aging.fellBack,
    },
    report,
  };
  await cleanup();
  cleanup = undefined;
  if (
    summary.rejuvenated !== hosts.length ||
    summary.guestsRebooted > 0 ||
    !summary.auditVerified ||
    !aging.fellBack
  )
    process.exitCode = 1;
  console.log(JSON.stringify(summary));
}

function executionOf(env: LocalEnvironment, name: string | undefined): LocalExecution {
  const execution = name === undefined ? undefined : env.stepFunctions.execution(name);
  if (execution === undefined) throw new Error(`the trigger started no execution (${name ?? 'none'})`);
  return execution;
}

/**
 * Prints, in time order, the steps each execution enters until all have ended. Wait and Choice states,
 * and repeated looks at the same running command, are left out: they are the loop, not the steps.
 */
async function liveTimeline(
  states: Readonly<Record<string, { Type: string }>>,
  started: readonly Started[],
  elapsed: (ms?: number) => string,
): Promise<void> {
  const seen = started.map(() => 0);
  const last = started.map(() => '');
  for (;;) {
    const fresh: { timestamp: number; line: string }[] = [];
    started.forEach((s, i) => {
      const entered = s.execution.history.filter((h) => h.type === 'StateEntered');
      for (const event of entered.slice(seen[i])) {
        const name = event.stateName ?? '';
        const type = states[name]?.Type;
        if (type === 'Wait' || type === 'Choice' || type === 'Pass' || name === last[i]) continue;
        last[i] = name;
        fresh.push({
          timestamp: event.timestamp,
          line: `${elapsed(event.timestamp)}  ${s.host.hostId.padEnd(7)} ${name}`,
        });
      }
      seen[i] = entered.length;
    });
    for (const f of fresh.sort((a, b) => a.timestamp - b.timestamp)) console.log(f.line);
    if (started.every((s) => s.execution.status !== 'RUNNING')) return;
    await sleep(100);
  }
}

async function hostRun(env: LocalEnvironment, s: Started): Promise<HostRun> {
  await s.execution.done;
  const entered = s.execution.history.filter((h) => h.type === 'StateEntered');
  const endMs = s.execution.stopDate ?? Date.now();
  const steps = stepSpans(
    entered.map((e) => ({ state: e.stateName ?? '?', atMs: e.timestamp })),
    endMs,
  );
  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(s.host.hostId))) records.push(r);
  const verdict = await env.store.audit.verify(hostChainId(s.host.hostId));
  const heartbeats = await s.host.heartbeats();
  return {
    hostId: s.host.hostId,
    trigger: s.trigger,
    executionName: s.execution.name,
    status: s.execution.status,
    ...(s.execution.error === undefined ? {} : { error: s.execution.error }),
    steps,
    vms: Object.entries(heartbeats).map(([vm, log]): VmPause => {
      const measured = warmRebootVm(records, vm);
      return {
        vm,
        pauseMs: measured?.pauseMs ?? null,
        stateBytes: measured?.stateBytes ?? null,
        rebooted: log.boots !== 1 || counterBreaks(log.counters).length > 0,
      };
    }),
    auditVerified: verdict.ok,
    auditRecords: records.map((r) => ({
      seq: r.seq,
      at: r.at,
      step: r.step,
      outcome: r.outcome,
      ...(r.toState === undefined ? {} : { toState: r.toState }),
      principal: r.principal,
      hash: r.hash,
    })),
  };
}

/** The WarmReboot result as the host reported it, from the audit record of that step. */
function warmRebootVm(
  records: readonly AuditRecord[],
  vm: string,
): { pauseMs?: number; stateBytes?: number } | undefined {
  const result = records.find(
    (r) => r.step === 'WarmReboot' && r.outcome === 'succeeded' && r.commandId !== undefined,
  );
  const summary = result?.detail?.['summary'];
  if (typeof summary !== 'string') return undefined;
  try {
    const vms = JSON.parse(summary) as { name?: string; pauseMs?: number; stateBytes?: number }[];
    return vms.find((v) => v.name === vm);
  } catch {
    return undefined;
  }
}

async function stopAndExit(code: number): Promise<void> {
  const stop = cleanup;
  cleanup = undefined;
  await stop?.().catch(() => undefined);
  process.exit(code);
}

process.once('SIGINT', () => void stopAndExit(130));
process.once('SIGTERM', () => void stopAndExit(143));

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAndExit(1);
});
