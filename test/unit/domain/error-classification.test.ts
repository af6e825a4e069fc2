/**
 * One classification of rejuv's errors (shared/domain/error-classification.ts) drives the state
 * machines' Retry lists and the CLI's exit codes: these prove it covers every error class, that each
 * class's own `retryable` says the same, and that the synthesized template and the CLI (directly and
 * through the operator API) treat every error as its kind says.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT, EXIT_CODE_OF_KIND } from '../../../cli/exit-codes.js';
import { exitCodeForError } from '../../../cli/main.js';
import { OperatorApiClient } from '../../../cli/operator-api-client.js';
import { CliError } from '../../../cli/exit-codes.js';
import { errorResponse } from '../../../lambdas/runtime/function-url.js';
import { toStepError } from '../../../lambdas/runtime/step-errors.js';
import {
  synthesizedWorkflow,
  type SynthesizedWorkflow,
} from '../../../local/step-functions/synthesized-workflow.js';
import {
  ERROR_KINDS,
  kindOfErrorName,
  STEP_RETRY_ERRORS,
  TRANSIENT_ERROR_NAMES,
  type ErrorKind,
} from '../../../shared/domain/error-classification.js';
import { RejuvError } from '../../../shared/domain/errors.js';
import { ERROR_MODULES, errorClassesOf, exampleOf } from '../../support/error-examples.js';

/** The local twin's errors stand for AWS's answers (an SSM InvalidParameters, an SNS NotFound). */
const TWIN_MODULES = /^(local\/|host\/runner\/)/;

const classified = Object.entries(ERROR_MODULES)
  .filter(([path]) => !TWIN_MODULES.test(path))
  .flatMap(([path, module]) =>
    errorClassesOf(module).map(([exportName, errorClass]) => ({
      path,
      exportName,
      error: exampleOf(exportName, errorClass),
    })),
  )
  .filter((c): c is typeof c & { error: RejuvError } => c.error instanceof RejuvError)
  .map((c) => ({ ...c, kind: kindOfErrorName(c.error.name) }));

type Clause = { ErrorEquals: string[] };
type Machine = { States: Record<string, State> };
type State = {
  Type: string;
  Resource?: string;
  Retry?: Clause[];
  Catch?: Clause[];
  ItemProcessor?: Machine;
  Iterator?: Machine;
  Branches?: Machine[];
};

/** Every state of a definition, those inside Map and Parallel states too. */
function statesOf(machine: Machine): [string, State][] {
  return Object.entries(machine.States).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]
      .filter((m) => m !== undefined)
      .flatMap(statesOf),
  ]);
}

describe('Errors: the classification', () => {
  it('classifies every rejuv error class, and names no class that does not exist', () => {
    expect(classified.length).toBeGreaterThan(40);
    expect(classified.filter((c) => c.kind === undefined).map((c) => c.exportName)).toEqual([]);
    const names = new Set(classified.map((c) => c.error.name));
    expect(Object.keys(ERROR_KINDS).filter((name) => !names.has(name))).toEqual([]);
  });

  it.each(classified)('$exportName ($kind): its own retryable says the same', ({ error, kind }) => {
    expect(error.retryable).toBe(kind === 'transient' || kind === 'contended');
  });
});

describe('Errors: the state machines retry what is transient, and nothing else of rejuv’s', () => {
  let workflow: SynthesizedWorkflow;
  let machines: [string, [string, State][]][];

  beforeAll(() => {
    workflow = synthesizedWorkflow();
    const campaign = workflow.campaign;
    if (campaign === undefined) throw new Error('the template has no campaign state machine');
    machines = [
      ['rejuvenation', statesOf(workflow.definition as Machine)],
      ['campaign', statesOf(campaign.definition as Machine)],
    ];
  });

  it('retries every transient error on every Lambda Task of both machines', () => {
    for (const [machine, states] of machines) {
      const lambdaTasks = states.filter(
        ([, s]) => s.Type === 'Task' && workflow.functionsByArn.has(s.Resource ?? ''),
      );
      expect(lambdaTasks.length, machine).toBeGreaterThan(2);
      for (const [name, state] of lambdaTasks) {
        expect(state.Retry, `${machine} ${name}`).toContainEqual(
          expect.objectContaining({ ErrorEquals: [...STEP_RETRY_ERRORS] }),
        );
      }
    }
  });

  it('retries a rejuv error only when it is transient or contended', () => {
    const retried = machines.flatMap(([, states]) =>
      states.flatMap(([, s]) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals)),
    );
    const kinds = new Set(retried.map(kindOfErrorName).filter((k) => k !== undefined));
    expect([...kinds].sort()).toEqual(['contended', 'transient']);
    const stepTransients = TRANSIENT_ERROR_NAMES.filter((name) => STEP_RETRY_ERRORS.includes(name));
    expect(stepTransients.length).toBeGreaterThan(4);
    for (const name of stepTransients) expect(retried, name).toContain(name);
  });

  it('names in its Retry and Catch clauses only errors that are classified or AWS’s own', () => {
    const named = machines.flatMap(([, states]) =>
      states.flatMap(([, s]) => [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((c) => c.ErrorEquals)),
    );
    const unknown = named.filter(
      (name) =>
        kindOfErrorName(name) === undefined &&
        !/^(States|Lambda)\./.test(name) &&
        // The campaign's own wake-up signals from its approval step (not errors of rejuv's steps).
        !['CampaignRejected', 'CampaignCancelled'].includes(name),
    );
    expect(unknown).toEqual([]);
  });

  it('turns an AWS fault a step could not get past into TransientError, which every step retries', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ProvisionedThroughputExceededException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const stepError = toStepError(throttled) as Error;
    expect(stepError.name).toBe('TransientError');
    expect(STEP_RETRY_ERRORS).toContain(stepError.name);
    const refused = Object.assign(new Error('no'), { name: 'AccessDeniedException', $fault: 'client' });
    expect(toStepError(refused)).toBe(refused);
  });
});

describe('Errors: the CLI’s exit codes follow the kinds', () => {
  const kinds = Object.keys(EXIT_CODE_OF_KIND) as ErrorKind[];

  it('gives the “unavailable” code to transient errors only', () => {
    for (const kind of kinds)
      expect(EXIT_CODE_OF_KIND[kind] === EXIT.unavailable, kind).toBe(kind === 'transient');
  });

  it.each(classified)('$exportName ($kind): the same code raised locally', ({ error, kind }) => {
    expect(exitCodeForError(error)).toBe(EXIT_CODE_OF_KIND[kind ?? 'failed']);
  });

  it.each(classified)(
    '$exportName ($kind): the same code through the operator API',
    async ({ error, kind }) => {
      const response = errorResponse(error, 'req-1');
      const client = new OperatorApiClient(
        async () => ({ status: response.statusCode, body: response.body }),
        'the test API',
      );
      const sent = client.send({ action: 'release' });
      await expect(sent).rejects.toBeInstanceOf(CliError);
      await expect(sent).rejects.toMatchObject({ exitCode: EXIT_CODE_OF_KIND[kind ?? 'failed'] });
    },
  );

  it('reports an AWS fault the SDK gave up on as the coordinator unavailable', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(exitCodeForError(throttled)).toBe(EXIT.unavailable);
    expect(exitCodeForError(new TypeError('a bug'))).toBe(EXIT.failed);
  });
});
