import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { TRANSIENT_ERRORS } from '../../../cdk/rejuvenation-workflow.js';
import {
  synthesizedWorkflow,
  type SynthesizedWorkflow,
} from '../../../local/step-functions/synthesized-workflow.js';

type State = {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Retry?: { ErrorEquals: string[] }[];
  QueryLanguage?: string;
};

let workflow: SynthesizedWorkflow;
let states: Record<string, State>;

beforeAll(() => {
  workflow = synthesizedWorkflow();
  states = workflow.definition['States'] as Record<string, State>;
});

/** Every state reachable from `start` through Next, Choice branches and Default (not through Catch). */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const state = states[name] as State & { Choices?: { Next: string }[]; Default?: string };
    for (const next of [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next)])
      if (next !== undefined) queue.push(next);
  }
  return seen;
}

describe('Workflow: the synthesized state machine', () => {
  it('is valid ASL, in JSONPath only (the local interpreter silently ignores JSONata)', () => {
    const result = aslValidator(workflow.definition, { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
    expect(workflow.definition['QueryLanguage'] ?? 'JSONPath').toBe('JSONPath');
    for (const [name, state] of Object.entries(states))
      expect(state.QueryLanguage ?? 'JSONPath', name).toBe('JSONPath');
  });

  it('binds every Task to one of the stack’s functions', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(20);
    for (const [name, task] of tasks)
      expect(workflow.functionsByArn.get(task.Resource ?? ''), name).toMatch(/Function$/);
  });

  it('retries transient faults on every Task', () => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      const retried = new Set((state.Retry ?? []).flatMap((r) => r.ErrorEquals));
      for (const error of TRANSIENT_ERRORS) expect(retried.has(error), `${name} retries ${error}`).toBe(true);
    }
  });

  it('catches every failure on the path from Admit to Release into compensation', () => {
    const happyPath = [...reachable('Admit')].filter(
      (n) => states[n]?.Type === 'Task' && n !== 'Admit' && n !== 'Release',
    );
    expect(happyPath).toEqual(
      expect.arrayContaining(['PreflightSend', 'WarmRebootPoll', 'Draining', 'VerifyPoll', 'Undrain']),
    );
    for (const name of happyPath) {
      const catchers = states[name]?.Catch ?? [];
      expect(
        catchers.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'Compensate'),
        name,
      ).toBe(true);
    }
  });

  it('routes every compensation failure to quarantine, and quarantine to Release', () => {
    const compensation = [...reachable('Compensate')].filter((n) => states[n]?.Type === 'Task');
    expect(compensation).toEqual(
      expect.arrayContaining(['RecoverSend', 'RecoverPoll', 'UndrainAfterFailure', 'QuarantineHost']),
    );
    for (const name of compensation) {
      if (name === 'ReleaseAfterFailure') continue;
      const next = name === 'QuarantineHost' ? 'ReleaseAfterFailure' : 'QuarantineHost';
      expect(
        states[name]?.Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === next),
        name,
      ).toBe(true);
    }
  });

  it('keeps Preflight in its own slot, so WarmReboot and Verify are sent what it found', () => {
    for (const name of ['PreflightSend', 'PreflightPoll'])
      expect(states[name], name).toMatchObject({ ResultPath: '$.preflight' });
    expect(states['PreflightPoll']).toMatchObject({ Parameters: { 'command.$': '$.preflight.command' } });
    for (const name of ['WarmRebootSend', 'WarmRebootPoll', 'VerifySend', 'VerifyPoll']) {
      expect(states[name], name).toMatchObject({
        ResultPath: '$.cmd',
        Parameters: { 'preflight.$': '$.preflight.preflight' },
      });
    }
  });

  it('routes a finished Preflight from its Done choice: a dry run to its report, else to Draining', () => {
    expect(states['PreflightDone']).toMatchObject({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.preflight.done', BooleanEquals: true },
            { Variable: '$.ctx.request.dryRun', BooleanEquals: true },
          ],
          Next: 'DryRunReport',
        },
        { Variable: '$.preflight.done', BooleanEquals: true, Next: 'Draining' },
      ],
      Default: 'PreflightWait',
    });
  });

  it('ends an Admit refusal by recording it, without compensation', () => {
    expect(states['Admit']?.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['UnclaimedExecutionError'], Next: 'RecordRefusal' }),
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'RecordRefusal' }),
    ]);
    // An execution no trigger claimed stays refused however often it is asked.
    expect(states['Admit']?.Retry?.flatMap((r) => r.ErrorEquals)).not.toContain('UnclaimedExecutionError');
    expect(states['Admit']?.Retry?.some((r) => r.ErrorEquals.includes('PoolFullError'))).toBe(true);
    expect(reachable('RecordRefusal')).toEqual(new Set(['RecordRefusal', 'Refused']));
  });
});
