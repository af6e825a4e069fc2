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
import { TaskTokens, taskTokenPlaceholder } from './task-tokens.js';
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
  readonly stateMachineArn: string;
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
  /**
   * Further state machines of the same template served by the same endpoint (the campaign machine),
   * each under its own role. Their Task states may start executions of any machine here, as the
   * `states:startExecution` integrations do.
   */
  readonly additionalStateMachines?: readonly LocalStateMachineSpec[];
}

export interface LocalStateMachineSpec {
  readonly name: string;
  /** The Amazon States Language definition with every token resolved. */
  readonly definition: Record<string, unknown>;
  /** The machine's role, for the invocations and child starts its tasks make. */
  readonly executionRoleAccessKeyId?: string;
}

/** The Step Functions integrations that start another execution: request-response, `.sync`, `.sync:2`. */
export const START_EXECUTION_RESOURCES = {
  'arn:aws:states:::states:startExecution': 'request-response',
  'arn:aws:states:::states:startExecution.sync': 'sync',
  'arn:aws:states:::states:startExecution.sync:2': 'sync:2',
} as const;
type StartExecutionPattern = (typeof START_EXECUTION_RESOURCES)[keyof typeof START_EXECUTION_RESOURCES];

/** The callback pattern on the Lambda integration: the task waits for its token to be answered. */
export const LAMBDA_WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * The rule Step Functions manages in the account to hear of child executions' ends: a `.sync` start
 * needs events:PutTargets, PutRule and DescribeRule on it.
 */
export const SYNC_EXECUTION_EVENTS_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';

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
  const executions = new Map<string, LocalExecution>();
  const endedListeners: ((execution: LocalExecution) => void)[] = [];
  const specs: LocalStateMachineSpec[] = [
    {
      name: stateMachineName,
      definition: options.workflow.definition,
      ...(options.executionRoleAccessKeyId === undefined
        ? {}
        : { executionRoleAccessKeyId: options.executionRoleAccessKeyId }),
    },
    ...(options.additionalStateMachines ?? []),
  ];
  interface Machine {
    readonly arn: string;
    readonly name: string;
    readonly machine: StateMachine;
    readonly overrides: RunOptions['overrides'];
    readonly stateTypes: ReadonlyMap<string, string>;
  }
  const machines = new Map<string, Machine>();
  const taskTokens = new TaskTokens();
  // A function declaration (hoisted): the machines' tasks start children among all the machines.
  const startChild: StartChild = (callerRoleKey, pattern, parameters) =>
    startChildExecution(callerRoleKey, pattern, parameters);
  for (const spec of specs) {
    const arn = localStateMachineArn(spec.name);
    machines.set(arn, {
      arn,
      name: spec.name,
      machine: new StateMachine(withinTimerRange(withCallbackTimeouts(spec.definition)) as never, {
        validationOptions: { checkPaths: true },
      }),
      overrides: overridesFor(options, spec, arn, startChild, taskTokens),
      stateTypes: stateTypesOf(spec.definition),
    });
  }

  const start = (target: Machine, name: string, input: string): LocalExecution => {
    const executionArn = `${target.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const startDate = Date.now();
    const run = target.machine.run(JSON.parse(input) as never, {
      overrides: target.overrides,
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: JSON.parse(input),
          StartTime: new Date(startDate).toISOString(),
        },
        StateMachine: { Id: target.arn, Name: target.name },
        // Only a `.waitForTaskToken` task sees a real token: TaskTokens puts one in place of this.
        Task: { Token: taskTokenPlaceholder(executionArn) },
      } as never,
    });
    const history: HistoryEvent[] = [];
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: target.arn,
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
        // Its tasks' tokens are answered TaskTimedOut from now on.
        taskTokens.closeExecution(executionArn);
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

  /** StartExecution as the API does it: validated, idempotent for the same name and input. */
  const startExecution = (body: Record<string, unknown>): LocalExecution => {
    if (typeof body['input'] === 'string' && Buffer.byteLength(body['input']) > MAX_STATE_PAYLOAD_BYTES)
      throw new AwsServiceError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_STATE_PAYLOAD_BYTES}`,
      );
    const target =
      typeof body['stateMachineArn'] === 'string' ? machines.get(body['stateMachineArn']) : undefined;
    if (target === undefined)
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
    const existing = executions.get(`${target.arn.replace(':stateMachine:', ':execution:')}:${name}`);
    if (existing !== undefined) {
      // Step Functions answers a repeated start with the same input by the existing execution.
      if (existing.input === input) return existing;
      throw new AwsServiceError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${existing.executionArn}'`,
      );
    }
    return start(target, name, input);
  };

  /**
   * A Task state's `states:startExecution` integration: the child starts in this service under the
   * parent machine's role; `.sync` and `.sync:2` wait for it and answer as Step Functions does (the
   * child's description, its input and output as strings or, with `:2`, as JSON), failing the task with
   * `States.TaskFailed` and the description as Cause when the child did not succeed.
   */
  async function startChildExecution(
    callerRoleKey: string | undefined,
    pattern: StartExecutionPattern,
    parameters: unknown,
  ): Promise<unknown> {
    const p = (parameters ?? {}) as Record<string, unknown>;
    const targetArn = String(p['StateMachineArn'] ?? '');
    const input = typeof p['Input'] === 'string' ? p['Input'] : JSON.stringify(p['Input'] ?? {});
    await authorizeChildStart(options.authorizer, callerRoleKey, pattern, targetArn);
    let child: LocalExecution;
    try {
      child = startExecution({
        stateMachineArn: targetArn,
        input,
        ...(typeof p['Name'] === 'string' ? { name: p['Name'] } : {}),
      });
    } catch (error) {
      // The integration reports a refused call as the service's exception, prefixed with the service.
      const code = error instanceof AwsServiceError ? error.type : 'ServiceException';
      throw Object.assign(new Error((error as Error).message), {
        name: `StepFunctions.${code.endsWith('Exception') ? code : `${code}Exception`}`,
      });
    }
    if (pattern === 'request-response')
      return { ExecutionArn: child.executionArn, StartDate: child.startDate };
    await child.done;
    const asJson = pattern === 'sync:2';
    const description = {
      ExecutionArn: child.executionArn,
      Input: asJson ? (JSON.parse(child.input) as unknown) : child.input,
      InputDetails: { Included: true },
      Name: child.name,
      ...(child.output === undefined
        ? {}
        : {
            Output: asJson ? (JSON.parse(child.output) as unknown) : child.output,
            OutputDetails: { Included: true },
          }),
      StartDate: child.startDate,
      StateMachineArn: child.stateMachineArn,
      Status: child.status,
      StopDate: child.stopDate ?? Date.now(),
      ...(child.error === undefined ? {} : { Error: child.error, Cause: child.cause }),
    };
    if (child.status === 'SUCCEEDED') return description;
    throw Object.assign(new Error(JSON.stringify(description)), { name: 'States.TaskFailed' });
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: (body) => {
      const execution = startExecution(body);
      return { executionArn: execution.executionArn, startDate: execution.startDate / 1000 };
    },
    DescribeExecution: (body) => describe(find(body['executionArn'])),
    ListExecutions: (body) => ({
      executions: [...executions.values()]
        .filter((e) => body['statusFilter'] === undefined || e.status === body['statusFilter'])
        .filter((e) => body['stateMachineArn'] === undefined || e.stateMachineArn === body['stateMachineArn'])
        .sort((a, b) => b.startDate - a.startDate)
        .map((e) => {
          const { input: _input, output: _output, error: _error, cause: _cause, ...summary } = describe(e);
          return summary;
        }),
    }),
    StopExecution: (body) => {
      const execution = find(body['executionArn']);
      if (execution.status === 'RUNNING') execution.abort();
      return { stopDate: Date.now() / 1000 };
    },
    SendTaskSuccess: (body) => taskTokens.succeed(body),
    SendTaskFailure: (body) => taskTokens.fail(body),
    SendTaskHeartbeat: (body) => taskTokens.heartbeat(body),
    GetExecutionHistory: (body) => {
      const execution = find(body['executionArn']);
      const stateTypes = machines.get(execution.stateMachineArn)?.stateTypes ?? new Map<string, string>();
      return { events: execution.history.map((h) => wireEvent(h, stateTypes)) };
    },
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

function describe(e: LocalExecution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: e.startDate / 1000,
    ...(e.stopDate === undefined ? {} : { stopDate: e.stopDate / 1000 }),
    input: e.input,
    ...(e.output === undefined ? {} : { output: e.output }),
    ...(e.error === undefined ? {} : { error: e.error, cause: e.cause }),
  };
}

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer one fires at once, with a warning. */
const MAX_TIMER_SECONDS = Math.floor(2_147_483_647 / 1000);

/**
 * The definition with every `TimeoutSeconds` the interpreter would give Node's setTimeout brought within
 * its range: a 30-day campaign timeout would otherwise fire after 1 ms. No local run lasts 24 days, so
 * this changes nothing a test can observe.
 */
function withinTimerRange(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withinTimerRange);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      (key === 'TimeoutSeconds' || key === 'HeartbeatSeconds') && typeof v === 'number'
        ? Math.min(v, MAX_TIMER_SECONDS)
        : withinTimerRange(v),
    ]),
  );
}

/**
 * A task that waits for its token and names no TimeoutSeconds waits as long as its execution may in AWS
 * (the default is 99,999,999 s); the interpreter would give it 60 s, as it gives every task.
 */
function withCallbackTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  const states = (definition['States'] ?? {}) as Record<string, StateDefinition>;
  return {
    ...definition,
    States: Object.fromEntries(
      Object.entries(states).map(([name, state]) => {
        const inner = state.ItemProcessor ?? state.Iterator;
        const key = state.ItemProcessor !== undefined ? 'ItemProcessor' : 'Iterator';
        if (inner !== undefined) return [name, { ...state, [key]: withCallbackTimeouts(inner) }];
        if (state.Resource?.endsWith('.waitForTaskToken') === true && state.TimeoutSeconds === undefined)
          return [name, { ...state, TimeoutSeconds: MAX_TIMER_SECONDS }];
        return [name, state];
      }),
    ),
  };
}

type StartChild = (
  callerRoleKey: string | undefined,
  pattern: StartExecutionPattern,
  parameters: unknown,
) => Promise<unknown>;

function stateTypesOf(definition: Record<string, unknown>): Map<string, string> {
  const types = new Map<string, string>();
  for (const [name, state] of Object.entries(statesOf(definition))) {
    types.set(name, state.Type);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner !== undefined) for (const [n, t] of stateTypesOf(inner)) types.set(n, t);
  }
  return types;
}

interface StateDefinition {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  HeartbeatSeconds?: number;
  Retry?: unknown[];
  ItemProcessor?: Record<string, unknown>;
  Iterator?: Record<string, unknown>;
}

/** Every state of the definition, those of its Map states' processors included (names are unique). */
function statesOf(definition: Record<string, unknown>): Record<string, StateDefinition> {
  const states = { ...((definition['States'] ?? {}) as Record<string, StateDefinition>) };
  for (const state of Object.values(states)) {
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner !== undefined) Object.assign(states, statesOf(inner));
  }
  return states;
}

/**
 * Binds each Task state to what its Resource names: a function's handler, as the Lambda integration
 * calls it (under the state machine's role, refused as `Lambda.AWSLambdaException` when it may not
 * invoke, with the state size limit on what comes back: `States.DataLimitExceeded`), or the start of
 * another execution in this service. Shortens waits.
 */
function overridesFor(
  options: LocalStepFunctionsOptions,
  spec: LocalStateMachineSpec,
  stateMachineArn: string,
  startChild: StartChild,
  taskTokens: TaskTokens,
): RunOptions['overrides'] {
  const taskResourceLocalHandlers: Record<string, (input: never) => Promise<never>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(statesOf(spec.definition))) {
    if (state.Type === 'Wait' && options.waitMs !== undefined) waitTimeOverrides[name] = options.waitMs;
    const retryMs = options.retryIntervalMsByState?.[name] ?? options.retryIntervalMs;
    if (state.Retry !== undefined && retryMs !== undefined) retryIntervalOverrides[name] = retryMs;
    if (state.Type !== 'Task') continue;
    const pattern =
      state.Resource === undefined
        ? undefined
        : (START_EXECUTION_RESOURCES as Record<string, StartExecutionPattern>)[state.Resource];
    if (pattern !== undefined) {
      taskResourceLocalHandlers[name] = async (input) =>
        (await startChild(spec.executionRoleAccessKeyId, pattern, input)) as never;
      continue;
    }
    if (state.Resource === LAMBDA_WAIT_FOR_TASK_TOKEN) {
      // The function is named in the Parameters; it gets the Payload and its answer is not the result.
      const functionArn = String(state.Parameters?.['FunctionName'] ?? '');
      const constructId = options.workflow.functionsByArn.get(functionArn);
      const handler = constructId === undefined ? undefined : options.handlers[constructId];
      if (handler === undefined)
        throw new Error(`no local handler for state ${name} (function ${functionArn || 'none'})`);
      taskResourceLocalHandlers[name] = async (input) =>
        (await taskTokens.wait(
          name,
          input,
          {
            timeoutSeconds: Math.min(state.TimeoutSeconds ?? MAX_TIMER_SECONDS, MAX_TIMER_SECONDS),
            heartbeatSeconds: state.HeartbeatSeconds,
          },
          async (withToken) => {
            await authorizeInvocation(
              options.authorizer,
              spec.executionRoleAccessKeyId,
              stateMachineArn,
              functionArn,
            );
            await handler(structuredClone((withToken as { Payload?: unknown }).Payload ?? null));
          },
        )) as never;
      continue;
    }
    const constructId =
      state.Resource === undefined ? undefined : options.workflow.functionsByArn.get(state.Resource);
    const handler = constructId === undefined ? undefined : options.handlers[constructId];
    if (handler === undefined)
      throw new Error(`no local handler for state ${name} (resource ${state.Resource ?? 'none'})`);
    const functionArn = state.Resource ?? '';
    taskResourceLocalHandlers[name] = async (input) => {
      await authorizeInvocation(
        options.authorizer,
        spec.executionRoleAccessKeyId,
        stateMachineArn,
        functionArn,
      );
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

/**
 * What a start of another execution needs of the calling machine's role: states:StartExecution on the
 * machine and, for `.sync`, what Step Functions uses to follow the child: states:DescribeExecution on
 * it and events:PutTargets, PutRule and DescribeRule on the managed rule. A refusal fails the task
 * before anything starts.
 */
async function authorizeChildStart(
  authorizer: Authorizer | undefined,
  callerRoleKey: string | undefined,
  pattern: StartExecutionPattern,
  targetArn: string,
): Promise<void> {
  if (authorizer === undefined) return;
  const rule = `arn:${LOCAL_PARTITION}:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${SYNC_EXECUTION_EVENTS_RULE}`;
  const executions = `${targetArn.replace(':stateMachine:', ':execution:')}:*`;
  const authorization = await authorizer.authorize(callerRoleKey, [
    { action: 'states:StartExecution', resource: targetArn },
    ...(pattern === 'request-response'
      ? []
      : [
          { action: 'states:DescribeExecution', resource: executions },
          ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({
            action,
            resource: rule,
          })),
        ]),
  ]);
  if (authorization.outcome === 'allowed') return;
  throw Object.assign(new Error(`${authorization.message} (Service: Step Functions, Status Code: 400)`), {
    name: 'StepFunctions.AccessDeniedException',
  });
}

/** What the Lambda integration reports when the state machine's role may not invoke the function. */
async function authorizeInvocation(
  authorizer: Authorizer | undefined,
  roleAccessKeyId: string | undefined,
  stateMachineArn: string,
  functionArn: string,
): Promise<void> {
  if (authorizer === undefined) return;
  const authorization = await authorizer.authorize(roleAccessKeyId, [lambdaInvokeRequest(functionArn)]);
  if (authorization.outcome === 'allowed') return;
  throw Object.assign(
    new Error(
      `${authorization.message} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException) while ${stateMachineArn} invoked ${functionArn}`,
    ),
    { name: 'Lambda.AWSLambdaException' },
  );
}
