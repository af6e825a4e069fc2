/**
 * Reading executions through the Step Functions API: their status, the steps they went through, and
 * a live follow that reports each new step as the execution enters it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { stepOfState } from '../shared/workflow/operator-steps.js';
import { CliError, EXIT } from './exit-codes.js';

export interface ExecutionView {
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly hostId?: string;
  readonly trigger?: string;
  readonly dryRun?: boolean;
  /** How it ended: rejuvenated, dry-run, refused, recovered or quarantined (the Release outcome). */
  readonly outcome?: string;
  readonly error?: string;
  readonly cause?: string;
  /** Every step entered so far, in order. */
  readonly steps: readonly StepEntered[];
}

export interface StepEntered {
  readonly step: string;
  readonly state: string;
  readonly at: string;
}

export function executionArnOf(stateMachineArn: string, ref: string): string {
  return ref.startsWith('arn:') ? ref : `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${ref}`;
}

export async function describeExecution(sfn: SFNClient, executionArn: string): Promise<ExecutionView> {
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch((error: unknown) => {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist')
      throw new CliError(`no execution ${executionArn}`, EXIT.notFound, { cause: error });
    throw error;
  });
  const input = parseJsonObject(d.input);
  // Read after the status, so an ended execution's history is complete.
  const steps = await enteredSteps(sfn, executionArn);
  const outcome = outcomeOf(d.status, parseJsonObject(d.output), steps.at(-1)?.state);
  return {
    name: d.name ?? executionArn.split(':').at(-1) ?? executionArn,
    executionArn,
    status: d.status ?? 'UNKNOWN',
    ...(d.startDate === undefined ? {} : { startDate: d.startDate.toISOString() }),
    ...(d.stopDate === undefined ? {} : { stopDate: d.stopDate.toISOString() }),
    ...(typeof input['hostId'] === 'string' ? { hostId: input['hostId'] } : {}),
    ...(typeof input['trigger'] === 'string' ? { trigger: input['trigger'] } : {}),
    ...(typeof input['dryRun'] === 'boolean' ? { dryRun: input['dryRun'] } : {}),
    ...(outcome === undefined ? {} : { outcome }),
    ...(d.error === undefined ? {} : { error: d.error }),
    ...(d.cause === undefined ? {} : { cause: d.cause }),
    steps,
  };
}

export async function listExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  limit: number,
): Promise<Omit<ExecutionView, 'steps'>[]> {
  const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: limit }));
  return (listed.executions ?? []).map((e) => ({
    name: e.name ?? '',
    executionArn: e.executionArn ?? '',
    status: e.status ?? 'UNKNOWN',
    ...(e.startDate === undefined ? {} : { startDate: e.startDate.toISOString() }),
    ...(e.stopDate === undefined ? {} : { stopDate: e.stopDate.toISOString() }),
  }));
}

/** The states the execution entered, in order, leaving out the loop's Wait, Choice and Pass states. */
export async function enteredSteps(sfn: SFNClient, executionArn: string): Promise<StepEntered[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return events
    .filter((e) => /^(Task|Fail|Succeed)StateEntered$/.test(e.type ?? ''))
    .map((e) => {
      const state = e.stateEnteredEventDetails?.name ?? '?';
      return { step: stepOfState(state), state, at: (e.timestamp ?? new Date(0)).toISOString() };
    });
}

/**
 * Polls until the execution ends, calling `onStep` once per step as it begins (a step spans several
 * states: Send, Poll, ...), and returns how it ended.
 */
export async function followExecution(
  sfn: SFNClient,
  executionArn: string,
  onStep: (step: StepEntered) => void,
  pollMs = 500,
): Promise<ExecutionView> {
  let reported = 0;
  let lastStep: string | undefined;
  for (;;) {
    const view = await describeExecution(sfn, executionArn);
    for (const s of view.steps.slice(reported)) {
      if (s.step !== lastStep) onStep(s);
      lastStep = s.step;
    }
    reported = view.steps.length;
    if (view.status !== 'RUNNING') return view;
    await sleep(pollMs);
  }
}

/** A succeeded execution's output carries Release's outcome; a failed one ends in a Fail state named for it. */
function outcomeOf(
  status: string | undefined,
  output: Record<string, unknown>,
  lastState: string | undefined,
): string | undefined {
  if (status === 'RUNNING') return undefined;
  const released = (output['result'] as Record<string, unknown> | undefined)?.['outcome'];
  if (typeof released === 'string') return released;
  return lastState?.toLowerCase();
}

function parseJsonObject(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
