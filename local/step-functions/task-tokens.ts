/**
 * The callback pattern (`.waitForTaskToken`) for the local Step Functions, which the interpreter accepts
 * but does not emulate: a token per task attempt, handed to the state in the context object
 * (`$$.Task.Token`), and SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat ending or extending the
 * wait, answered as Step Functions answers them:
 * - a token that is not one of ours: `InvalidToken`;
 * - a token of ours that no task was given (made up from our format): `TaskDoesNotExist`;
 * - a token whose task no longer waits (answered, timed out, its execution ended): `TaskTimedOut`;
 * - an output that is not JSON: `InvalidOutput`; over 256 KiB: `ValidationException`.
 * Each token names its execution, so the tasks of an execution that ended stop waiting with it.
 */
import { randomBytes } from 'node:crypto';
import { AwsServiceError } from '../json-protocol/aws-json-server.js';

/**
 * What `$$.Task.Token` resolves to in the interpreter's context: one string per execution, replaced by a
 * fresh token in the input of the task that waits (each attempt its own, as in AWS).
 */
export function taskTokenPlaceholder(executionArn: string): string {
  return `local-task-token-for:${executionArn}`;
}

const PLACEHOLDER_PREFIX = 'local-task-token-for:';

interface TokenBody {
  readonly v: 1;
  readonly executionArn: string;
  readonly stateName: string;
  readonly nonce: string;
}

interface WaitingTask {
  readonly executionArn: string;
  open: boolean;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeat(): void;
}

/** Step Functions' limit on a task's output (SendTaskSuccess's `output`): 256 KiB. */
const MAX_OUTPUT_BYTES = 262_144;

function stateError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

export class TaskTokens {
  private readonly tasks = new Map<string, WaitingTask>();

  /**
   * Runs one waiting task: mints its token, puts it where the state's Parameters asked for `$$.Task.Token`,
   * starts the work (`invoke`, e.g. the Lambda function) and resolves with the output a SendTaskSuccess
   * gives, or rejects with a SendTaskFailure's error, the invocation's own failure, `States.Timeout` or
   * `States.HeartbeatTimeout`.
   */
  async wait(
    stateName: string,
    input: unknown,
    limits: { readonly timeoutSeconds: number; readonly heartbeatSeconds?: number | undefined },
    invoke: (input: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    const executionArn = findExecution(input) ?? 'unknown';
    const body: TokenBody = { v: 1, executionArn, stateName, nonce: randomBytes(24).toString('base64url') };
    const token = Buffer.from(JSON.stringify(body)).toString('base64url');
    const withToken = replacePlaceholders(input, token);
    let resolve: (output: unknown) => void = () => undefined;
    let reject: (error: Error) => void = () => undefined;
    const promise = new Promise<unknown>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const timers: NodeJS.Timeout[] = [];
    let heartbeatTimer: NodeJS.Timeout | undefined;
    const close = () => {
      task.open = false;
      for (const t of timers) clearTimeout(t);
      if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer);
    };
    const task: WaitingTask = {
      executionArn,
      open: true,
      resolve: (output) => {
        close();
        resolve(output);
      },
      reject: (error) => {
        close();
        reject(error);
      },
      heartbeat: () => {
        if (limits.heartbeatSeconds === undefined) return;
        if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimeout(
          () => task.reject(stateError('States.HeartbeatTimeout', 'Task heartbeat timed out')),
          limits.heartbeatSeconds * 1000,
        );
      },
    };
    this.tasks.set(token, task);
    timers.push(
      setTimeout(
        () => task.reject(stateError('States.Timeout', 'Task timed out')),
        limits.timeoutSeconds * 1000,
      ),
    );
    task.heartbeat();
    // The invocation's failure fails the task; its answer does not end the wait (only the token does).
    invoke(withToken).catch((error: unknown) => {
      if (task.open) task.reject(error instanceof Error ? error : new Error(String(error)));
    });
    return promise;
  }

  /** Every task of an execution that ended (stopped, failed, timed out) stops waiting. */
  closeExecution(executionArn: string): void {
    for (const task of this.tasks.values())
      if (task.executionArn === executionArn && task.open)
        task.reject(stateError('States.Runtime', 'the execution ended'));
  }

  succeed(body: Record<string, unknown>): object {
    const task = this.open(body['taskToken']);
    const output = body['output'];
    if (typeof output !== 'string' || Buffer.byteLength(output) > MAX_OUTPUT_BYTES)
      throw new AwsServiceError(
        'ValidationException',
        `1 validation error detected: Value at 'output' failed to satisfy constraint: Member must have length less than or equal to ${MAX_OUTPUT_BYTES}`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new AwsServiceError('InvalidOutput', 'Invalid Output: the output is not JSON');
    }
    task.resolve(parsed);
    return {};
  }

  fail(body: Record<string, unknown>): object {
    const task = this.open(body['taskToken']);
    const error = typeof body['error'] === 'string' ? body['error'] : '';
    const cause = typeof body['cause'] === 'string' ? body['cause'] : '';
    task.reject(stateError(error, cause));
    return {};
  }

  heartbeat(body: Record<string, unknown>): object {
    this.open(body['taskToken']).heartbeat();
    return {};
  }

  private open(token: unknown): WaitingTask {
    if (decode(token) === undefined)
      throw new AwsServiceError('InvalidToken', "Invalid Token: 'Invalid token'");
    const task = this.tasks.get(token as string);
    if (task === undefined) throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist');
    if (!task.open)
      throw new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    return task;
  }
}

function decode(token: unknown): TokenBody | undefined {
  if (typeof token !== 'string' || token.length < 1 || token.length > 2048) return undefined;
  try {
    const body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody>;
    return body.v === 1 && typeof body.executionArn === 'string' && typeof body.nonce === 'string'
      ? (body as TokenBody)
      : undefined;
  } catch {
    return undefined;
  }
}

function findExecution(value: unknown): string | undefined {
  if (typeof value === 'string')
    return value.startsWith(PLACEHOLDER_PREFIX) ? value.slice(PLACEHOLDER_PREFIX.length) : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const v of Object.values(value)) {
    const found = findExecution(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

function replacePlaceholders(value: unknown, token: string): unknown {
  if (typeof value === 'string') return value.startsWith(PLACEHOLDER_PREFIX) ? token : value;
  if (Array.isArray(value)) return value.map((v) => replacePlaceholders(v, token));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replacePlaceholders(v, token)]));
}
