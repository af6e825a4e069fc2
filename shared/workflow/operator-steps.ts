/**
 * The workflow's states grouped into the steps an operator thinks in (Admit, Preflight, Drain, …): a
 * step runs from the first of its states to the first state of the next step. Presentation only: the
 * CLI's progress and the demo's timeline and report.
 */

export interface StepSpan {
  readonly state: string;
  readonly startMs: number;
  readonly endMs: number;
}

const STEP_OF_STATE: readonly [RegExp, string][] = [
  [/^(Start|Admit)$/, 'Admit'],
  [/^RecordRefusal$/, 'Refuse'],
  [/^(Preflight|DryRun$)/, 'Preflight'],
  [/^DryRunReport$/, 'DryRunReport'],
  [/^(Draining|DrainStart|DrainCheck|DrainWait|DrainComplete|Drained)$/, 'Drain'],
  [/^(Suspending|WarmReboot|Reloading|Resuming)/, 'WarmReboot'],
  [/^(AwaitHost|HostBack)/, 'AwaitHost'],
  [/^(Verifying|Verify)/, 'Verify'],
  [/^(Undraining|Undrain|BackInService)$/, 'Undrain'],
  [
    /^(Compensate|AdoptCompensationPlan|CompensationPlan|Recover|UndrainAfterFailure|UndrainingAfterRecover|BackInServiceAfterFailure|QuarantineHost)/,
    'Compensate',
  ],
  [/^(Release|ReleaseAfterFailure|FailureOutcome|Rejuvenated|Recovered|Quarantined|Refused)$/, 'Release'],
];

export function stepOfState(state: string): string {
  return STEP_OF_STATE.find(([pattern]) => pattern.test(state))?.[1] ?? state;
}

/** Consecutive states of one step become one span. */
export function stepSpans(
  entered: readonly { readonly state: string; readonly atMs: number }[],
  endMs: number,
): StepSpan[] {
  const spans: StepSpan[] = [];
  for (const [i, e] of entered.entries()) {
    const step = stepOfState(e.state);
    const next = entered[i + 1]?.atMs ?? endMs;
    const open = spans.at(-1);
    if (open !== undefined && open.state === step) spans[spans.length - 1] = { ...open, endMs: next };
    else spans.push({ state: step, startMs: e.atMs, endMs: next });
  }
  return spans;
}
