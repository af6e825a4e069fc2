/**
 * `npm run sim:fleet`: a campaign over a simulated fleet (10,000 hosts by default), driven by the real
 * policy gate and planner, judged by an independent checker, with its makespan against a lower bound and
 * its control-plane cost. Prints a table, then one JSON line. `-- --hosts N`, `-- --seed N`.
 * Exits 1 when the checker finds a violation or a lost request.
 */
import { parseArgs } from 'node:util';
import { checkFleetRun } from './fleet-checker.js';
import { controlPlaneCost, hottestKey } from './fleet-cost.js';
import { buildScenario } from './fleet-scenario.js';
import { simulateFleet } from './fleet-simulation.js';
import { makespanLowerBound } from './lower-bound.js';

const HOUR_MS = 3_600_000;

function main(): void {
  const { values } = parseArgs({
    options: { hosts: { type: 'string', default: '10000' }, seed: { type: 'string', default: '20261201' } },
  });
  const hostCount = Number(values.hosts);
  const seed = Number(values.seed);
  if (!Number.isInteger(hostCount) || hostCount < 10 || hostCount > 1_000_000)
    throw new Error(`--hosts must be an integer from 10 to 1000000, got ${values.hosts}`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

  const wallStart = performance.now();
  const scenario = buildScenario({ hosts: hostCount, seed });
  const result = simulateFleet(scenario);
  const simulatedInMs = performance.now() - wallStart;
  const report = checkFleetRun(scenario, result.runs, result.outcomes);

  const campaignRuns = result.runs.filter((r) => r.cause === 'campaign');
  const ranIds = new Set(campaignRuns.map((r) => r.hostId));
  const bound = makespanLowerBound(
    scenario,
    scenario.hosts.filter((h) => ranIds.has(h.hostId)),
  );
  const makespanMs = result.campaignEndMs - scenario.startMs;
  const cost = controlPlaneCost(result, Object.keys(scenario.policy.pools).length);
  const hot = hottestKey(result);

  const pools = Object.keys(scenario.policy.pools);
  const rows = pools.map((pool) => {
    const own = campaignRuns.filter((r) => r.pool === pool);
    const first = Math.min(...own.map((r) => r.startMs));
    const last = Math.max(...own.map((r) => r.endMs));
    return [
      pool,
      String(scenario.hosts.filter((h) => h.pool === pool).length),
      String(scenario.limits.maxInMaintenancePerPool[pool] ?? scenario.limits.defaultMaxInMaintenancePerPool),
      String(own.filter((r) => r.ok).length),
      String(own.filter((r) => !r.ok).length),
      own.length === 0 ? '-' : new Date(first).toISOString().slice(5, 16).replace('T', ' '),
      own.length === 0 ? '-' : new Date(last).toISOString().slice(5, 16).replace('T', ' '),
      own.length === 0 ? '-' : ((last - scenario.startMs) / HOUR_MS).toFixed(2),
      ((bound.byPoolMs[pool] ?? 0) / HOUR_MS).toFixed(2),
    ];
  });
  const header = [
    'pool',
    'hosts',
    'limit',
    'done',
    'failed',
    'first start (UTC)',
    'last end (UTC)',
    'hours',
    'bound h',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const alarmRuns = result.runs.filter((r) => r.cause === 'alarm');
  const ran = result.outcomes.filter((o) => o.outcome === 'ran').length;
  const dropped = result.outcomes.filter((o) => o.outcome === 'dropped');
  const uniqueRequests = new Set(scenario.requests.map((r) => r.requestId)).size;

  console.log(
    `fleet campaign: ${hostCount} hosts, 3 zones, seed ${seed}, from ${new Date(scenario.startMs).toISOString()}`,
  );
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log('');
  console.log(
    `campaign                 ${result.campaignStatus}${result.campaignStatusReason === undefined ? '' : `: ${result.campaignStatusReason}`}`,
  );
  console.log(
    `makespan                 ${(makespanMs / HOUR_MS).toFixed(2)} h; lower bound ${(bound.lowerBoundMs / HOUR_MS).toFixed(2)} h (set by ${bound.boundBy})`,
  );
  console.log(
    `checker                  ${report.instantsChecked} instants, ${result.runs.length} runs: ${report.violations.length} violation(s)`,
  );
  for (const v of report.violations.slice(0, 10)) console.log(`  ${v}`);
  console.log(
    `aging alarms             ${scenario.requests.length} deliveries of ${uniqueRequests} alarms: ${ran} ran (${alarmRuns.length} runs of their own, the rest in the campaign's turn), ${dropped.length} dropped, ${report.lostRequests.length} lost`,
  );
  for (const d of dropped.slice(0, 3))
    console.log(`  ${d.requestId}: ${d.outcome === 'dropped' ? d.reason : ''}`);
  if (alarmRuns.length > 0)
    console.log(
      `  last alarm run ends    ${new Date(Math.max(...alarmRuns.map((r) => r.endMs))).toISOString()} (cooldowns and windows)`,
    );
  console.log(
    `policy decisions         ${result.decisionsRecorded} taken; refusals by rule ${JSON.stringify(result.refusalsByRule)}`,
  );
  console.log(
    `control plane            ${cost.stateTransitions} transitions $${cost.stepFunctionsUsd.toFixed(2)}, ${cost.lambdaInvocations} Lambda invocations $${cost.lambdaUsd.toFixed(2)}, ${cost.writeUnits} WRU + ${cost.readUnits} RRU $${cost.dynamoDbUsd.toFixed(2)}, SSM $${cost.ssmUsd.toFixed(2)}`,
  );
  console.log(
    `hottest DynamoDB key     ${hot.key}: ${hot.writesPerSecond} writes in one second (limit ~1000/s per key)`,
  );
  console.log(
    `simulated in             ${(simulatedInMs / 1000).toFixed(1)} s (${result.events} events, ${result.plannerPasses} planner passes)`,
  );

  const summary = {
    hosts: hostCount,
    makespanHours: Number((makespanMs / HOUR_MS).toFixed(3)),
    lowerBoundHours: Number((bound.lowerBoundMs / HOUR_MS).toFixed(3)),
    makespanRatio: Number((makespanMs / bound.lowerBoundMs).toFixed(4)),
    policyViolations: report.violations.length,
    lostRequests: report.lostRequests.length,
    costPerHostUsd: Number((cost.totalUsd / hostCount).toFixed(6)),
    hottestKeyWritesPerSecond: hot.writesPerSecond,
  };
  console.log(JSON.stringify(summary));
  if (report.violations.length > 0 || report.lostRequests.length > 0) process.exitCode = 1;
}

try {
  main();
} catch (error: unknown) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
