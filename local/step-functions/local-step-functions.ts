/**
 * A local Step Functions service for one state machine: the synthesized definition, run by
 * aws-local-stepfunctions with every Task bound to a handler in this process, behind an HTTP endpoint
 * that speaks the Step Functions JSON protocol, so the real @aws-sdk/client-sfn (triggers, CLI) drives it.
 */
import './promise-with-resolvers.js';
import { randomUUID } from 'node:crypto';
import { StateMachine, type RunOptions } from 'aws-local-stepfunctions';
import { AwsServiceError, refusedJsonRequest, startAwsJsonServer } from '../json-protocol/aws-json-server.js';
import type { Authorizer } from '../iam/local-iam.js';
import { lambdaInvokeRequest, stepFunctionsRequests } from '../iam/service-requests.js';
import {
  LOCAL_ACCOUNT,
  LOCAL_PARTITION,
  LOCAL_REGION,
  type SynthesizedWorkflow,
} from './synthesized-workflow.js';

export type LocalHandler = (input: unknown) => Promise<unknown>;
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  readonly id: number;
  readonly timestamp: number;
  readonly type: string;
  readonly stateName?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  readonly history: HistoryEvent[];
  done: Promise<void>;
  abort(): void;
}

export interface LocalStepFunctionsOptions {
  readonly workflow: SynthesizedWorkflow;
  /** Handler for each function, by construct id (e.g. `AdmitFunction`). */
  readonly handlers: Readonly<Record<string, LocalHandler>>;
  /** Pause of every Wait state, in milliseconds; the deployed durations are for real hosts. */
  readonly waitMs?: number;
  /** Pause before every retry, in milliseconds. */
  readonly retryIntervalMs?: number;
  /** Pause before a retry of particular states, overriding `retryIntervalMs` (e.g. Admit waiting for a pool slot). */
  readonly retryIntervalMsByState?: Readonly<Record<string, number>>;
  readonly stateMachineName?: string;
  /**
   * Local IAM: API callers are authorized as their signer's policies allow, and each Task's invocation as
   * the state machine's role (`executionRoleAccessKeyId`) allows. @default anyone may do anything
   */
  readonly authorizer?: Authorizer;
  readonly executionRoleAccessKeyId?: string;
}

/** The ARN a local state machine named `name` has (the endpoint's default name is `rejuv`). */
export function localStateMachineArn(name = 'rejuv'): string {
  return `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
}

/** Step Functions' limit on a state's input or output, and so on an execution's input: 256 KiB. */
export const MAX_STATE_PAYLOAD_BYTES = 262_144;

export interface RunningLocalStepFunctions {
  readonly endpoint: string;
  readonly stateMachineArn: string;
  execution(nameOrArn: string): LocalExecution | undefined;
  executions(): readonly LocalExecution[];
  /** Resolves once every execution started so far has ended. */
  settle(): Promise<void>;
  /** Calls `listener` with each execution once it has ended, as Step Functions emits its status change. */
  onExecutionEnded(listener: (execution: LocalExecution) => void): void;
  stop(): Promise<void>;
}

export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<RunningLocalStepFunctions> {
  const stateMachineName = options.stateMachineName ?? 'rejuv';
  const stateMachineArn = localStateMachineArn(stateMachineName);
  const machine = new StateMachine(options.workflow.definition as never, {
    validationOptions: { checkPaths: true },
  });
  const overrides = overridesFor(options, stateMachineArn);
  const stateTypes = new Map(
    Object.entries((options.workflow.definition['States'] ?? {}) as Record<string, { Type: string }>).map(
      ([name, state]) => [name, state.Type],
    ),
  );
  const executions = new Map<string, LocalExecution>();
  const endedListeners: ((execution: LocalExecution) => void)[] = [];

  const start = (name: string, input: string): LocalExecution => {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const startDate = Date.now();
    const run = machine.run(JSON.parse(input) as never, {
      overrides,
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: JSON.parse(input),
          StartTime: new Date(startDate).toISOString(),
        },
        StateMachine: { Id: stateMachineArn, Name: stateMachineName },
      } as never,
    });
    const history: HistoryEvent[] = [];
    const execution: LocalExecution = {
      executionArn,
      name,
      input,
      startDate,
      status: 'RUNNING',
      history,
      abort: run.abort,
      done: Promise.resolve(),
    };
    execution.done = (async () => {
      const logging = (async () => {
        for await (const event of run.eventLogs) {
          const e = event as {
            type: string;
            timestamp: number;
            state?: { name?: string };
            Error?: string;
            Cause?: unknown;
          };
          history.push({
            id: history.length + 1,
            timestamp: e.timestamp,
            type: e.type,
            ...(e.state?.name === undefined ? {} : { stateName: e.state.name }),
            ...(e.Error === undefined ? {} : { error: e.Error, cause: String(e.Cause ?? '') }),
          });
        }
      })();
      try {
        execution.output = JSON.stringify(await run.result);
        execution.status = 'SUCCEEDED';
      } catch (error) {
        const e = error as Error & { name: string };
        execution.status =
          e.name === 'ExecutionAbortedError'
            ? 'ABORTED'
            : e.name === 'ExecutionTimeoutError'
              ? 'TIMED_OUT'
              : 'FAILED';
        // The interpreter wraps the state's error (a Fail state's Error and Cause) as the cause.
        const failure = e.cause instanceof Error ? e.cause : e;
        execution.error = failure.name;
        execution.cause = failure.message;
      } finally {
        execution.stopDate = Date.now();
        await logging.catch(() => undefined);
      }
      for (const listener of endedListeners) listener(execution);
    })();
    executions.set(executionArn, execution);
    return execution;
  };

  const find = (arn: unknown): LocalExecution => {
    const execution = typeof arn === 'string' ? executions.get(arn) : undefined;
    if (execution === undefined)
      throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(arn)}'`);
    return execution;
  };

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: (body) => {
      if (typeof body['input'] === 'string' && Buffer.byteLength(body['input']) > MAX_STATE_PAYLOAD_BYTES)
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_STATE_PAYLOAD_BYTES}`,
        );
      if (body['stateMachineArn'] !== stateMachineArn)
        throw new AwsServiceError(
          'StateMachineDoesNotExist',
          `State Machine Does Not Exist: '${String(body['stateMachineArn'])}'`,
        );
      const name = typeof body['name'] === 'string' ? body['name'] : randomUUID();
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
        throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
      const input = typeof body['input'] === 'string' ? body['input'] : '{}';
      try {
        JSON.parse(input);
      } catch {
        throw new AwsServiceError('InvalidExecutionInput', 'Invalid execution input: not JSON');
      }
      const existing = executions.get(`${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`);
      if (existing !== undefined) {
        // Step Functions answers a repeated start with the same input by the existing execution.
        if (existing.input === input)
          return { executionArn: existing.executionArn, startDate: existing.startDate / 1000 };
        throw new AwsServiceError(
          'ExecutionAlreadyExists',
          `Execution Already Exists: '${existing.executionArn}'`,
        );
      }
      const execution = start(name, input);
      return { executionArn: execution.executionArn, startDate: execution.startDate / 1000 };
    },
    DescribeExecution: (body) => describe(find(body['executionArn']), stateMachineArn),
    ListExecutions: (body) => ({
      executions: [...executions.values()]
        .filter((e) => body['statusFilter'] === undefined || e.status === body['statusFilter'])
        .sort((a, b) => b.startDate - a.startDate)
        .map((e) => {
          const {
            input: _input,
            output: _output,
            error: _error,
            cause: _cause,
            ...summary
          } = describe(e, stateMachineArn);
          return summary;
        }),
    }),
    StopExecution: (body) => {
      const execution = find(body['executionArn']);
      if (execution.status === 'RUNNING') execution.abort();
      return { stopDate: Date.now() / 1000 };
    },
    GetExecutionHistory: (body) => ({
      events: find(body['executionArn']).history.map((h) => wireEvent(h, stateTypes)),
    }),
  };

  const server = await startAwsJsonServer({
    targetPrefix: 'AWSStepFunctions',
    jsonVersion: '1.0',
    operations,
    ...(options.authorizer === undefined
      ? {}
      : {
          authorize: async ({ operation, body, accessKeyId }) => {
            const authorization = await options.authorizer?.authorize(
              accessKeyId,
              stepFunctionsRequests(operation, body),
            );
            const refused = authorization === undefined ? undefined : refusedJsonRequest(authorization);
            if (refused !== undefined) throw refused;
          },
        }),
  });

  return {
    endpoint: server.endpoint,
    stateMachineArn,
    execution: (nameOrArn) =>
      executions.get(nameOrArn) ?? [...executions.values()].find((e) => e.name === nameOrArn),
    executions: () => [...executions.values()],
    onExecutionEnded: (listener) => {
      endedListeners.push(listener);
    },
    settle: async () => {
      await Promise.all([...executions.values()].map((e) => e.done));
    },
    stop: async () => {
      for (const e of executions.values()) if (e.status === 'RUNNING') e.abort();
      await Promise.all([...executions.values()].map((e) => e.done));
      await server.stop();
    },
  };
}

/**
 * A history event as Step Functions sends it: the interpreter's StateEntered/StateExited become
 * TaskStateEntered, WaitStateExited and so on, with the details member the service uses for each.
 */
function wireEvent(h: HistoryEvent, stateTypes: ReadonlyMap<string, string>): Record<string, unknown> {
  const common = { id: h.id, timestamp: h.timestamp / 1000 };
  const stateType = h.stateName === undefined ? undefined : stateTypes.get(h.stateName);
  if (h.type === 'StateEntered' && stateType !== undefined)
    return { ...common, type: `${stateType}StateEntered`, stateEnteredEventDetails: { name: h.stateName } };
  if (h.type === 'StateExited' && stateType !== undefined)
    return { ...common, type: `${stateType}StateExited`, stateExitedEventDetails: { name: h.stateName } };
  if (h.type === 'ExecutionFailed')
    return { ...common, type: h.type, executionFailedEventDetails: { error: h.error, cause: h.cause } };
  return { ...common, type: h.type };
}

function describe(e: LocalExecution, stateMachineArn: string) {
  return {
    executionArn: e.executionArn,
    stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: e.startDate / 1000,
    ...(e.stopDate === undefined ? {} : { stopDate: e.stopDate / 1000 }),
    input: e.input,
    ...(e.output === undefined ? {} : { output: e.output }),
    ...(e.error === undefined ? {} : { error: e.error, cause: e.cause }),
  };
}

/**
 * Binds each Task state to the handler of the function its Resource names, as the Lambda integration
 * calls it: under the state machine's role (refused as `Lambda.AWSLambdaException` when it may not
 * invoke), with the state size limit on what comes back (`States.DataLimitExceeded`). Shortens waits.
 */
function overridesFor(options: LocalStepFunctionsOptions, stateMachineArn: string): RunOptions['overrides'] {
  const taskResourceLocalHandlers: Record<string, (input: never) => Promise<never>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  const states = (options.workflow.definition['States'] ?? {}) as Record<
    string,
    { Type: string; Resource?: string; Retry?: unknown[] }
  >;
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Wait' && options.waitMs !== undefined) waitTimeOverrides[name] = options.waitMs;
    const retryMs = options.retryIntervalMsByState?.[name] ?? options.retryIntervalMs;
    if (state.Retry !== undefined && retryMs !== undefined) retryIntervalOverrides[name] = retryMs;
    if (state.Type !== 'Task') continue;
    const constructId =
      state.Resource === undefined ? undefined : options.workflow.functionsByArn.get(state.Resource);
    const handler = constructId === undefined ? undefined : options.handlers[constructId];
    if (handler === undefined)
      throw new Error(`no local handler for state ${name} (resource ${state.Resource ?? 'none'})`);
    const functionArn = state.Resource ?? '';
    taskResourceLocalHandlers[name] = async (input) => {
      await authorizeInvocation(options, stateMachineArn, functionArn);
      // A real invocation passes JSON both ways; so does this one, so nothing shared leaks between steps.
      const output = JSON.stringify((await handler(structuredClone(input))) ?? null);
      if (Buffer.byteLength(output) > MAX_STATE_PAYLOAD_BYTES) {
        throw Object.assign(
          new Error(
            `The state/task '${name}' returned a result with a size exceeding the maximum number of bytes service limit.`,
          ),
          { name: 'States.DataLimitExceeded' },
        );
      }
      return JSON.parse(output) as never;
    };
  }
  return {
    taskResourceLocalHandlers,
    waitTimeOverrides,
    retryIntervalOverrides,
  } as unknown as RunOptions['overrides'];
}

/** What the Lambda integration reports when the state machine's role may not invoke the function. */
async function authorizeInvocation(
  options: LocalStepFunctionsOptions,
  stateMachineArn: string,
  functionArn: string,
): Promise<void> {
  if (options.authorizer === undefined) return;
  const authorization = await options.authorizer.authorize(options.executionRoleAccessKeyId, [
    lambdaInvokeRequest(functionArn),
  ]);
  if (authorization.outcome === 'allowed') return;
  throw Object.assign(
    new Error(
      `${authorization.message} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException) while ${stateMachineArn} invoked ${functionArn}`,
    ),
    { name: 'Lambda.AWSLambdaException' },
  );
}
