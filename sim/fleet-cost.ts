/**
 * The control plane's cost at list prices (us-east-1, on-demand; Lambda on arm64 as the stack deploys it)
 * and the busiest DynamoDB partition key's write rate.
 *
 * Per execution, from the synthesized workflow (cdk/rejuvenation-workflow.ts) on its happy path: 19
 * states entered once (Start, Admit, PreflightSend, KeepPreflightFindings, DryRun, Draining, DrainStart,
 * Drained, Suspending, WarmRebootSend, Reloading, Resuming, Verifying, VerifySend, Undraining, Undrain,
 * BackInService, Release, Rejuvenated), 3 per poll p (Wait, Poll or Check, Choice), less 2 because the
 * first drain check and the first await-host check come without a Wait: 17 + 3p state transitions, and
 * 15 + p Lambda invocations. `npm run bench:cost` measured 61 transitions and 30 workflow invocations
 * at p = 15 (docs/benches.md); the formula gives 62 and 30. Polls: 3 host commands that each wait one
 * 10 s `pollInterval`, one drain check and one await-host check, plus one more poll per further 10 s of
 * the host's duration beyond 40 s. A failed run adds its compensation path (Compensate, the plan's
 * choice, the compensation step, ReleaseAfterFailure, FailureOutcome, the end state): taken as 8
 * transitions and 3 invocations more.
 *
 * DynamoDB per execution, as measured by bench:cost (a run with 15 polls, more than the 5-6 here, so an
 * overestimate): 73 items written, 45 reads. Every write is billed as transactional (2 WRU per item up
 * to 1 KB) and every read as transactional (2 RRU), the most each can cost.
 *
 * The campaign controller (not built yet; modelled as the simulation runs it): one Lambda invocation per
 * planning pass that reads the campaign item and one counter item per pool (strongly consistent), writes
 * the campaign item when the pass changed anything, and writes each started or ended host's campaign item.
 * SSM Run Command on EC2 instances is free; hybrid (`mi-`) instances on the advanced tier would add
 * $0.00695 per instance-hour, not counted here.
 */
import type { SimResult, SimRun } from './fleet-simulation.js';

export const PRICES_USD = {
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerRequest: 0.2 / 1e6,
  /** arm64, first tier. */
  lambdaPerGbSecond: 0.0000133334,
  dynamoDbPerWru: 0.625 / 1e6,
  dynamoDbPerRru: 0.125 / 1e6,
  ssmRunCommandEc2: 0,
} as const;

/** 256 MB (cdk/rejuv-function.ts); billed duration per invocation, assumed (the lab's bundles on Node 24). */
const LAMBDA_GB = 0.25;
const LAMBDA_SECONDS_PER_STEP = 0.2;
const LAMBDA_SECONDS_PER_PLANNER_PASS = 0.3;

export function pollsFor(durationMs: number): number {
  return 5 + Math.floor(Math.max(0, durationMs - 40_000) / 10_000);
}

export interface CostBreakdown {
  readonly stateTransitions: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly stepFunctionsUsd: number;
  readonly lambdaUsd: number;
  readonly dynamoDbUsd: number;
  readonly ssmUsd: number;
  readonly totalUsd: number;
}

export function controlPlaneCost(result: SimResult, pools: number): CostBreakdown {
  let transitions = 0;
  let invocations = 0;
  let gbSeconds = 0;
  let wru = 0;
  let rru = 0;
  for (const run of result.runs) {
    const polls = pollsFor(run.endMs - run.startMs);
    const runInvocations = 15 + polls + (run.ok ? 0 : 3);
    transitions += 17 + 3 * polls + (run.ok ? 0 : 8);
    invocations += runInvocations;
    gbSeconds += runInvocations * LAMBDA_GB * LAMBDA_SECONDS_PER_STEP;
    wru += 73 * 2;
    rru += 45 * 2;
    // The controller writes the host's campaign item when it starts and when it ends.
    wru += 2 * 2;
  }
  invocations += result.plannerPasses;
  gbSeconds += result.plannerPasses * LAMBDA_GB * LAMBDA_SECONDS_PER_PLANNER_PASS;
  rru += result.plannerPasses * (1 + pools);
  wru += result.campaignItemWrites.length * 2;

  const stepFunctionsUsd = transitions * PRICES_USD.stepFunctionsPerTransition;
  const lambdaUsd = invocations * PRICES_USD.lambdaPerRequest + gbSeconds * PRICES_USD.lambdaPerGbSecond;
  const dynamoDbUsd = wru * PRICES_USD.dynamoDbPerWru + rru * PRICES_USD.dynamoDbPerRru;
  const ssmUsd = result.runs.length * 3 * PRICES_USD.ssmRunCommandEc2;
  return {
    stateTransitions: transitions,
    lambdaInvocations: invocations,
    lambdaGbSeconds: gbSeconds,
    writeUnits: wru,
    readUnits: rru,
    stepFunctionsUsd,
    lambdaUsd,
    dynamoDbUsd,
    ssmUsd,
    totalUsd: stepFunctionsUsd + lambdaUsd + dynamoDbUsd + ssmUsd,
  };
}

/**
 * The offsets (fraction of the run) at which an execution writes its host's item, one per host
 * transition: ADMITTED, DRAINING, DRAINED, SUSPENDING at the start; RELOADING and RESUMING together once
 * WarmReboot reports; VERIFYING; UNDRAINING and IN_SERVICE at the end; the release.
 */
const HOST_ITEM_WRITE_OFFSETS_MS = (d: number) => [
  0,
  200,
  1200,
  1400,
  d * 0.6,
  d * 0.6 + 150,
  d * 0.62,
  d - 1500,
  d - 1300,
  d - 100,
];

export interface HotKey {
  readonly key: string;
  readonly writesPerSecond: number;
  readonly atMs: number;
}

/** The busiest key: the most writes any one partition key takes within one second. */
export function hottestKey(result: SimResult): HotKey {
  const perKey = new Map<string, number[]>();
  const add = (key: string, atMs: number) => {
    let list = perKey.get(key);
    if (list === undefined) perKey.set(key, (list = []));
    list.push(atMs);
  };
  for (const at of result.campaignItemWrites) add('campaign#fleet', at);
  for (const run of result.runs) addRun(run, add);
  let hottest: HotKey = { key: 'none', writesPerSecond: 0, atMs: 0 };
  for (const [key, times] of perKey) {
    times.sort((a, b) => a - b);
    let lo = 0;
    for (let hi = 0; hi < times.length; hi++) {
      const t = times[hi] ?? 0;
      while ((times[lo] ?? 0) <= t - 1000) lo++;
      if (hi - lo + 1 > hottest.writesPerSecond) hottest = { key, writesPerSecond: hi - lo + 1, atMs: t };
    }
  }
  return hottest;
}

function addRun(run: SimRun, add: (key: string, atMs: number) => void): void {
  // The pool semaphore is one lease item per slot (shared/adapters/dynamodb/dynamodb-pool-semaphore.ts),
  // not one item per pool: taken at Admit, given back at Release.
  add(`pool#${run.pool}#slot#${run.slot}`, run.startMs);
  add(`pool#${run.pool}#slot#${run.slot}`, run.endMs);
  const d = run.endMs - run.startMs;
  for (const offset of HOST_ITEM_WRITE_OFFSETS_MS(d)) add(`host#${run.hostId}`, run.startMs + offset);
}
