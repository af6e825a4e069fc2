/**
 * A local Lambda service for the functions of one stack: each function runs its deployed bundle in
 * execution environments of its own (processes of its runtime's Node major, see runtime-node.ts; one
 * invocation at a time each, kept warm, more started when all are busy), with the environment variables
 * its template declares, the credentials of its own role, and the runtime's contract: JSON in and out, a thrown error reported as `errorType` (the
 * error's `name`) and `errorMessage`, the timeout, and the 6 MB payload limits of a synchronous call.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DeployedFunctionCode } from './deployed-artifacts.js';
import { localNodeFor } from './runtime-node.js';

/** Lambda's limit on a synchronous invocation's request and response payloads. */
export const MAX_SYNC_PAYLOAD_BYTES = 6_291_456;

/**
 * At most this many environments per function run at once; further invocations wait for one (they are
 * not throttled). Lambda would scale out, but on two cores each extra environment costs a process start
 * (about 0.3 s of CPU to load a bundle and the SDK) that slows every run: a soak of six concurrent hosts
 * took 25 s per run with 12 per function, 12 s with 3.
 */
const MAX_ENVIRONMENTS_PER_FUNCTION = 3;

const WORKER = fileURLToPath(new URL('./lambda-worker.cjs', import.meta.url));

export interface LocalFunction {
  /** The construct id it was created with, e.g. `AdmitFunction`. */
  readonly constructId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** Its Lambda runtime, e.g. `nodejs24.x`: the environments run under that Node major. */
  readonly runtime: string;
  readonly code: DeployedFunctionCode;
  /** Its environment variables, as the template declares them (tokens resolved). */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** What the Lambda service adds when it starts an environment: the role's credentials, region, endpoints. */
  readonly serviceEnvironment: () => Readonly<Record<string, string>>;
}

/** A function error, as the runtime reports it: Step Functions matches `errorType`. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: readonly string[] = [],
  ) {
    super(errorMessage);
    this.name = errorType;
  }

  /** The Cause Step Functions records for a failed Lambda task: the runtime's error document. */
  causeDocument(): string {
    return JSON.stringify({ errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace });
  }
}

export interface LocalLambdaRuntimeOptions {
  readonly functions: readonly LocalFunction[];
  /** The AWS SDK the Node runtime provides: the environments' NODE_PATH. */
  readonly runtimeModules: string;
  /** Where the functions' stdout and stderr go (CloudWatch Logs in AWS). @default discarded */
  readonly log?: (functionName: string, chunk: string) => void;
}

interface WorkerReply {
  readonly id?: string;
  readonly ready?: boolean;
  readonly result?: string;
  readonly error?: { errorType: string; errorMessage: string; trace?: string[] };
  readonly fatal?: { errorType: string; errorMessage: string; trace?: string[] };
}

interface Environment {
  readonly child: ChildProcess;
  busy: boolean;
  /** Killed (timeout) or exited: never given another invocation. */
  retired: boolean;
  readonly ready: Promise<void>;
}

export class LocalLambdaRuntime {
  private readonly byConstructId = new Map<string, LocalFunction>();
  /** The Node binary of each function's runtime, found before any function runs. */
  private readonly nodeOf = new Map<string, string>();
  private readonly environments = new Map<string, Environment[]>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private stopped = false;

  constructor(private readonly options: LocalLambdaRuntimeOptions) {
    for (const fn of options.functions) {
      this.byConstructId.set(fn.constructId, fn);
      this.nodeOf.set(fn.constructId, localNodeFor(fn.functionName, fn.runtime));
    }
  }

  functionOf(constructId: string): LocalFunction {
    const fn = this.byConstructId.get(constructId);
    if (fn === undefined) throw new Error(`no function ${constructId} in the synthesized stack`);
    return fn;
  }

  /** A synchronous invocation (RequestResponse): the function's result, or its error thrown. */
  async invoke(constructId: string, event: unknown): Promise<unknown> {
    const fn = this.functionOf(constructId);
    const payload = JSON.stringify(event ?? null);
    if (Buffer.byteLength(payload) > MAX_SYNC_PAYLOAD_BYTES) {
      throw Object.assign(
        new Error(
          `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
        ),
        { name: 'RequestEntityTooLargeException' },
      );
    }
    const environment = await this.acquire(fn);
    try {
      const result = await this.run(fn, environment, payload);
      if (Buffer.byteLength(result) > MAX_SYNC_PAYLOAD_BYTES) {
        throw new LambdaFunctionError(
          'Function.ResponseSizeTooLarge',
          `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD_BYTES} bytes).`,
        );
      }
      return JSON.parse(result);
    } finally {
      this.releaseEnvironment(fn, environment);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.environments.values()].flat();
    this.environments.clear();
    await Promise.all(all.map((e) => stopChild(e.child)));
  }

  private async acquire(fn: LocalFunction): Promise<Environment> {
    for (;;) {
      if (this.stopped) throw new Error('the local Lambda service is stopped');
      const pool = this.environments.get(fn.constructId) ?? [];
      this.environments.set(fn.constructId, pool);
      const idle = pool.find((e) => !e.busy && !e.retired);
      if (idle !== undefined) {
        idle.busy = true;
        await idle.ready;
        return idle;
      }
      if (pool.length < MAX_ENVIRONMENTS_PER_FUNCTION) {
        const started = this.start(fn);
        started.busy = true;
        pool.push(started);
        await started.ready;
        return started;
      }
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(fn.constructId) ?? [];
        queue.push(resolve);
        this.waiting.set(fn.constructId, queue);
      });
    }
  }

  private releaseEnvironment(fn: LocalFunction, environment: Environment): void {
    environment.busy = false;
    const pool = this.environments.get(fn.constructId) ?? [];
    // An environment whose process ended (crash, timeout) is replaced on the next invocation.
    if (environment.retired)
      this.environments.set(
        fn.constructId,
        pool.filter((e) => e !== environment),
      );
    this.waiting.get(fn.constructId)?.shift()?.();
  }

  private start(fn: LocalFunction): Environment {
    const child = fork(WORKER, [], {
      execPath: this.nodeOf.get(fn.constructId),
      env: {
        PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        NODE_PATH: this.options.runtimeModules,
        LAMBDA_TASK_ROOT: fn.code.taskRoot,
        LAMBDA_RUNTIME_DIR: '/var/runtime',
        _HANDLER: fn.code.handler,
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replace(/-/g, '')}`,
        ...fn.serviceEnvironment(),
        ...fn.environment,
      },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const log = (chunk: Buffer): void => this.options.log?.(fn.functionName, chunk.toString('utf8'));
    child.stdout?.on('data', log);
    child.stderr?.on('data', log);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: WorkerReply): void => {
        if (message.ready === true) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null): void =>
        reject(
          new LambdaFunctionError(
            'Runtime.ExitError',
            `RequestId: init Error: Runtime exited with error: exit status ${code ?? 'signal'}`,
          ),
        );
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    // Readiness is awaited by the invocation that started it; nobody else may see the rejection unhandled.
    ready.catch(() => undefined);
    const environment: Environment = { child, busy: false, retired: false, ready };
    child.once('exit', () => {
      environment.retired = true;
    });
    return environment;
  }

  private run(fn: LocalFunction, environment: Environment, payload: string): Promise<string> {
    const { child } = environment;
    const id = randomUUID();
    const timeoutMs = fn.timeoutSeconds * 1000;
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (message: WorkerReply): void => {
        if (message.fatal !== undefined) {
          done();
          const { errorType, errorMessage, trace } = message.fatal;
          reject(new LambdaFunctionError(errorType, errorMessage, trace));
          return;
        }
        if (message.id !== id) return;
        done();
        if (message.error !== undefined) {
          const { errorType, errorMessage, trace } = message.error;
          reject(new LambdaFunctionError(errorType, errorMessage, trace));
        } else resolve(message.result ?? 'null');
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(
          new LambdaFunctionError(
            'Runtime.ExitError',
            `RequestId: ${id} Error: Runtime exited with error: ${signal === null ? `exit status ${code}` : `signal: ${signal}`}`,
          ),
        );
      };
      const timer = setTimeout(() => {
        done();
        environment.retired = true;
        child.kill('SIGKILL');
        reject(
          new LambdaFunctionError(
            'Sandbox.Timedout',
            `RequestId: ${id} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
          ),
        );
      }, timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({
        id,
        payload,
        requestId: id,
        deadlineMs: Date.now() + timeoutMs,
        functionArn: fn.functionArn,
      });
    });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
