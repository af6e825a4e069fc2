/**
 * What one host's rejuvenation costs in the billed units: Step Functions state transitions, Lambda
 * invocations and their durations, and DynamoDB requests and items written; then in dollars at list
 * prices (PRICES below). Measured from a real local run (synthesized workflow, real handlers, real QEMU
 * host with two VMs), not computed from the code. The functions' durations are the local ones (bundles in
 * worker processes on this machine): an estimate of Lambda's, which bills each invocation to the ms.
 */
import { teardownOpenLabHosts } from '../host/lab/lab-host.js';
import { startLocalEnvironment } from '../local/local-environment.js';
import { synthesizedWorkflow } from '../local/step-functions/synthesized-workflow.js';
import { addFleetHost, agingAlarmEvent } from '../test/e2e/support/local-fleet.js';

/**
 * List prices, us-east-1, as published on the AWS pricing pages (checked 2026-12-01 against the
 * pages the docs search holds; DynamoDB's on-demand rates are those in force since the November 2024
 * reduction, which the stored page did not show in figures: an assumption). Free tiers are ignored.
 */
export const PRICES = {
  /** Step Functions Standard: $0.025 per 1,000 state transitions. */
  stepFunctionsPerTransition: 0.025 / 1000,
  /** Lambda: $0.20 per 1M requests. */
  lambdaPerRequest: 0.2 / 1_000_000,
  /** Lambda on Arm (RejuvFunction's architecture): $0.0000133334 per GB-second, billed per ms. */
  lambdaArmPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand: $0.625 per 1M write request units (1 KB standard write; 2 per transactional). */
  dynamoDbPerWriteUnit: 0.625 / 1_000_000,
  /** DynamoDB on-demand: $0.125 per 1M read request units (4 KB strongly consistent read). */
  dynamoDbPerReadUnit: 0.125 / 1_000_000,
} as const;

/** What RejuvFunction configures for every function (cdk/rejuv-function.ts). */
const LAMBDA_MEMORY_MIB = 256;

/**
 * Request units from the operations, assuming what rejuv's items are: under 1 KB written (a host, a lease,
 * an audit record, a claim) and under 4 KB read. Single writes 1 WRU; each item of a transaction 2
 * (condition checks included); GetItem and Query 1 RRU each (consistent reads of one small page),
 * BatchGetItem 1 per key (counted as 1 per request here: the pool semaphore reads its 1-slot pools).
 */
function requestUnits(byOperation: Readonly<Record<string, number>>, itemsWritten: number) {
  const op = (name: string) => byOperation[name] ?? 0;
  const single = op('PutItem') + op('UpdateItem') + op('DeleteItem');
  const transactItems = itemsWritten - single - op('BatchWriteItem');
  const writeUnits = single + 2 * Math.max(transactItems, op('TransactWriteItems'));
  const readUnits =
    op('GetItem') + op('Query') + op('BatchGetItem') + 2 * op('TransactGetItems') + op('Scan');
  return { writeUnits, readUnits };
}

/** One host's run, with every Wait shortened to `waits` ms or kept at its synthesized duration. */
async function measure(waits: number | 'synthesized'): Promise<void> {
  const env = await startLocalEnvironment({ waitMs: waits });
  try {
    const states = synthesizedWorkflow().definition['States'] as Record<
      string,
      { Type: string; Seconds?: number }
    >;
    const host = await addFleetHost(env, {
      hostId: `cost-${waits === 'synthesized' ? 'deployed' : 'short'}`,
      pool: 'web',
      vms: [{ name: 'vm1' }, { name: 'vm2' }],
    });
    env.dynamoDbRequests?.reset();
    // Every invocation, by the state machine, the triggers or EventBridge, goes through this runtime.
    const invocations: { fn: string; ms: number }[] = [];
    const invoke = env.lambda.invoke.bind(env.lambda);
    env.lambda.invoke = async (constructId, input) => {
      const t0 = performance.now();
      try {
        return await invoke(constructId, input);
      } finally {
        invocations.push({ fn: constructId, ms: Math.ceil(performance.now() - t0) });
      }
    };
    const started = (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId))) as {
      executionName: string;
    };
    const execution = env.stepFunctions.execution(started.executionName);
    if (execution === undefined) throw new Error('the alarm started no execution');
    await execution.done;
    if (execution.status !== 'SUCCEEDED')
      throw new Error(`the run did not succeed: ${execution.error} ${execution.cause}`);
    // What EventBridge runs at the execution's end (the audit seal, the pending drainer) is part of it.
    await env.eventDeliveriesSettled();
    const entered = execution.history.filter((h) => h.type === 'StateEntered');
    const taskEntries = entered.filter((h) => states[h.stateName ?? '']?.Type === 'Task').length;
    const counts = env.dynamoDbRequests?.counts();
    const requests = Object.values(counts?.byOperation ?? {}).reduce((a, b) => a + b, 0);
    const writeOps = ['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem'];
    const writeRequests = writeOps.reduce((n, op) => n + (counts?.byOperation[op] ?? 0), 0);
    const units = requestUnits(counts?.byOperation ?? {}, counts?.itemsWritten ?? 0);
    const gbSeconds = invocations.reduce((n, i) => n + (LAMBDA_MEMORY_MIB / 1024) * (i.ms / 1000), 0);
    const usd = {
      stepFunctions: entered.length * PRICES.stepFunctionsPerTransition,
      lambdaRequests: invocations.length * PRICES.lambdaPerRequest,
      lambdaDuration: gbSeconds * PRICES.lambdaArmPerGbSecond,
      dynamoDb: units.writeUnits * PRICES.dynamoDbPerWriteUnit + units.readUnits * PRICES.dynamoDbPerReadUnit,
    };
    const costPerHostUsd = Object.values(usd).reduce((a, b) => a + b, 0);
    const byFunction: Record<string, number> = {};
    for (const i of invocations)
      byFunction[i.fn.replace(/Function$/, '')] = (byFunction[i.fn.replace(/Function$/, '')] ?? 0) + 1;
    const result = {
      stateTransitions: entered.length,
      lambdaInvocations: invocations.length,
      workflowTaskInvocations: taskEntries,
      lambdaGbSeconds: Number(gbSeconds.toFixed(3)),
      dynamoDbWriteUnits: units.writeUnits,
      dynamoDbReadUnits: units.readUnits,
      dynamoDbRequests: requests,
      dynamoDbWriteRequests: writeRequests,
      dynamoDbItemsWritten: counts?.itemsWritten ?? 0,
      iamRequestsChecked: env.iam.cost().requestsChecked,
      iamCheckingMs: env.iam.cost().checkingMs,
      pollLoops: entered.filter(
        (h) =>
          h.stateName?.endsWith('Poll') === true ||
          h.stateName === 'AwaitHostCheck' ||
          h.stateName === 'DrainCheck',
      ).length,
      usd: Object.fromEntries(Object.entries(usd).map(([k, v]) => [k, Number(v.toFixed(7))])),
      costPerHostUsd: Number(costPerHostUsd.toFixed(6)),
    };
    const pollSeconds = states['WarmRebootWait']?.Seconds;
    console.log(
      waits === 'synthesized'
        ? `one host, two VMs, alarm-triggered, local run, Wait states as synthesized (${pollSeconds} s): the estimate for a deployment`
        : `one host, two VMs, alarm-triggered, local run, Wait states shortened to ${waits} ms (overstates the poll loops)`,
    );
    console.log(
      `  state transitions       ${result.stateTransitions} (of which poll checks: ${result.pollLoops})`,
    );
    console.log(
      `  Lambda invocations      ${result.lambdaInvocations} (${taskEntries} workflow steps; ${JSON.stringify(byFunction)}), ${result.lambdaGbSeconds} GB-s at ${LAMBDA_MEMORY_MIB} MiB`,
    );
    console.log(
      `  DynamoDB requests       ${result.dynamoDbRequests}: ${JSON.stringify(counts?.byOperation)}`,
    );
    console.log(
      `  DynamoDB write requests ${result.dynamoDbWriteRequests}, items written ${result.dynamoDbItemsWritten}`,
    );
    console.log(
      `  local IAM               ${result.iamRequestsChecked} requests checked in ${result.iamCheckingMs} ms (the enforcement's own cost)`,
    );
    const byState: Record<string, number> = {};
    for (const h of entered) byState[h.stateName ?? '?'] = (byState[h.stateName ?? '?'] ?? 0) + 1;
    console.log(
      `  transitions by state    ${Object.entries(byState)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    console.log(
      `  DynamoDB request units  ${units.writeUnits} WRU, ${units.readUnits} RRU (items under 1 KB / 4 KB assumed)`,
    );
    console.log('');
    console.log('  at list prices (us-east-1)        USD');
    console.log(`  Step Functions transitions   ${usd.stepFunctions.toFixed(6)}  ($0.025 per 1,000)`);
    console.log(`  Lambda requests              ${usd.lambdaRequests.toFixed(6)}  ($0.20 per 1M)`);
    console.log(`  Lambda duration (Arm)        ${usd.lambdaDuration.toFixed(6)}  ($0.0000133334 per GB-s)`);
    console.log(
      `  DynamoDB on-demand           ${usd.dynamoDb.toFixed(6)}  ($0.625 per 1M WRU, $0.125 per 1M RRU)`,
    );
    console.log(`  per host                     ${costPerHostUsd.toFixed(6)}`);
    console.log(JSON.stringify({ waits, ...result }));
  } finally {
    await env.stop();
    await teardownOpenLabHosts();
  }
}

/**
 * Both runs, the deployment's estimate last: `npm run bench:cost -- synthesized` (or `short`) runs one.
 * The shortened run is the one the e2e tests make; the synthesized one waits the deployed poll interval.
 */
async function main(): Promise<void> {
  const which = process.argv[2] ?? 'both';
  if (!['both', 'short', 'synthesized'].includes(which))
    throw new Error(`unknown run "${which}": expected both, short or synthesized`);
  if (which !== 'synthesized') await measure(100);
  if (which === 'both') console.log('');
  if (which !== 'short') await measure('synthesized');
  // A poll loop (Wait, Poll, Done) against a poll Lambda that waits inside instead: what would break even.
  const loopUsd = 3 * PRICES.stepFunctionsPerTransition + PRICES.lambdaPerRequest;
  const lambdaSecondUsd = (LAMBDA_MEMORY_MIB / 1024) * PRICES.lambdaArmPerGbSecond;
  console.log('');
  // This host has no load balancer, so its drain ends at once; behind one, DrainCheck loops until the
  // target group's deregistration ends (earlier when no request is in flight): computed, not measured.
  const states = synthesizedWorkflow().definition['States'] as Record<string, { Seconds?: number }>;
  const pollSeconds = states['DrainWait']?.Seconds ?? 10;
  const drainLoops = Math.ceil(300 / pollSeconds);
  console.log(
    `  not measured: behind a load balancer, each ${pollSeconds} s of draining adds a DrainWait/DrainCheck/DrainComplete loop; the default 300 s deregistration delay run out: ${drainLoops} loops, ${3 * drainLoops} transitions, $${(drainLoops * loopUsd).toFixed(6)} per host`,
  );
  console.log(
    `  break-even: one poll loop (3 transitions + 1 request) costs $${loopUsd.toFixed(7)}, as much as ${(loopUsd / lambdaSecondUsd).toFixed(1)} s of a ${LAMBDA_MEMORY_MIB} MiB Lambda waiting`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
