/**
 * The local Lambda service as the Node runtime behaves: a bundle in its own process with only the
 * template's environment, JSON in and out, a thrown error reported under its `name`, the timeout, the
 * payload limits, a crash; and the Lambda integration of the local Step Functions: the 256 KiB state limit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LambdaFunctionError,
  LocalLambdaRuntime,
  MAX_SYNC_PAYLOAD_BYTES,
  type LocalFunction,
} from '../../../local/lambda-runtime/local-lambda-runtime.js';
import { UnsupportedLocalRuntimeError } from '../../../local/lambda-runtime/runtime-node.js';
import {
  MAX_STATE_PAYLOAD_BYTES,
  startLocalStepFunctions,
  type RunningLocalStepFunctions,
} from '../../../local/step-functions/local-step-functions.js';

const BUNDLE = `
class PoolFullError extends Error { constructor(m) { super(m); this.name = 'PoolFullError'; } }
exports.handler = async (event, context) => {
  switch (event.kind) {
    case 'echo': return { got: event, env: process.env.GREETING, fn: context.functionName, secret: process.env.OUTSIDE ?? null };
    case 'throw': throw new PoolFullError('pool web is full');
    case 'sleep': await new Promise((r) => setTimeout(r, 5000)); return 'late';
    case 'exit': process.exit(3);
    case 'big': return 'x'.repeat(event.bytes);
    case 'require': return require(event.module) && 'loaded';
    case 'node': return { version: process.version, executionEnv: process.env.AWS_EXECUTION_ENV };
    default: return undefined;
  }
};`;

let runtime: LocalLambdaRuntime;

function fn(constructId: string, taskRoot: string, timeoutSeconds = 3): LocalFunction {
  return {
    constructId,
    functionName: `fn-${constructId}`,
    functionArn: `arn:aws:lambda:local:000000000000:function:fn-${constructId}`,
    runtime: 'nodejs24.x',
    code: { taskRoot, handler: 'index.handler' },
    environment: { GREETING: 'hello' },
    timeoutSeconds,
    memoryMiB: 128,
    serviceEnvironment: () => ({ AWS_REGION: 'local' }),
  };
}

beforeAll(() => {
  const root = mkdtempSync(join(tmpdir(), 'lambda-bundle-'));
  writeFileSync(join(root, 'index.js'), BUNDLE);
  process.env['OUTSIDE'] = 'must not leak';
  runtime = new LocalLambdaRuntime({
    runtimeModules: mkdtempSync(join(tmpdir(), 'runtime-modules-')),
    functions: [fn('Echo', root), fn('Slow', root, 1)],
  });
});

afterAll(async () => {
  Reflect.deleteProperty(process.env, 'OUTSIDE');
  await runtime?.stop();
});

describe('Local Lambda runtime', () => {
  it('runs the bundle under the Node major of its runtime, not the Node running the tests', async () => {
    await expect(runtime.invoke('Echo', { kind: 'node' })).resolves.toEqual({
      version: expect.stringMatching(/^v24\./),
      executionEnv: 'AWS_Lambda_nodejs24.x',
    });
  });

  it.each([
    [
      'nodejs22.x',
      /runtime nodejs22\.x cannot run locally: no local Node 22 \(local mode has a Node for nodejs24\.x/,
    ],
    ['python3.12', /runtime python3\.12 cannot run locally: local mode runs Node\.js runtimes only/],
  ])('refuses a function of runtime %s before anything runs, saying why', (runtimeName, message) => {
    const start = () =>
      new LocalLambdaRuntime({
        runtimeModules: tmpdir(),
        functions: [{ ...fn('Old', tmpdir()), runtime: runtimeName }],
      });
    expect(start).toThrow(UnsupportedLocalRuntimeError);
    expect(start).toThrow(message);
    expect(start).toThrow(/^function fn-Old: /);
  });

  it('runs the bundle with the template environment only, JSON in and out', async () => {
    await expect(runtime.invoke('Echo', { kind: 'echo', n: 1 })).resolves.toEqual({
      got: { kind: 'echo', n: 1 },
      env: 'hello',
      fn: 'fn-Echo',
      secret: null,
    });
    await expect(runtime.invoke('Echo', { kind: 'nothing' })).resolves.toBeNull();
  });

  it('reports a thrown error as errorType = its name, with its message', async () => {
    const error = await runtime.invoke('Echo', { kind: 'throw' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaFunctionError);
    expect(error).toMatchObject({
      name: 'PoolFullError',
      errorType: 'PoolFullError',
      errorMessage: 'pool web is full',
    });
    expect(JSON.parse((error as LambdaFunctionError).causeDocument())).toMatchObject({
      errorType: 'PoolFullError',
      errorMessage: 'pool web is full',
    });
  });

  it('times out as Lambda does, and the next invocation gets a fresh environment', async () => {
    await expect(runtime.invoke('Slow', { kind: 'sleep' })).rejects.toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringContaining('Task timed out after 1.00 seconds'),
    });
    await expect(runtime.invoke('Slow', { kind: 'echo' })).resolves.toMatchObject({ env: 'hello' });
  });

  it('reports a runtime that exits as Runtime.ExitError', async () => {
    await expect(runtime.invoke('Echo', { kind: 'exit' })).rejects.toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringContaining('exit status 3'),
    });
  });

  it('refuses a request or a response over the 6 MB synchronous limit', async () => {
    await expect(
      runtime.invoke('Echo', { kind: 'echo', pad: 'x'.repeat(MAX_SYNC_PAYLOAD_BYTES) }),
    ).rejects.toMatchObject({ name: 'RequestEntityTooLargeException' });
    await expect(
      runtime.invoke('Echo', { kind: 'big', bytes: MAX_SYNC_PAYLOAD_BYTES + 1 }),
    ).rejects.toMatchObject({
      errorType: 'Function.ResponseSizeTooLarge',
    });
  });

  it('resolves no module the bundle left out: only what the runtime provides', async () => {
    await expect(runtime.invoke('Echo', { kind: 'require', module: 'zod' })).rejects.toMatchObject({
      errorType: 'Error',
      errorMessage: expect.stringContaining("Cannot find module 'zod'"),
    });
  });
});

describe('Local Step Functions: the Lambda integration', () => {
  let sfn: RunningLocalStepFunctions;
  const functionArn = 'arn:aws:lambda:local:000000000000:function:fn-Echo';

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      workflow: {
        definition: {
          StartAt: 'Big',
          States: {
            Big: {
              Type: 'Task',
              Resource: functionArn,
              Catch: [{ ErrorEquals: ['States.DataLimitExceeded'], Next: 'TooBig', ResultPath: '$.error' }],
              End: true,
            },
            TooBig: { Type: 'Fail', Error: 'TooBig' },
          },
        },
        functionsByArn: new Map([[functionArn, 'EchoFunction']]),
        template: { Resources: {} },
      },
      handlers: { EchoFunction: (input) => runtime.invoke('Echo', input) },
    });
  });

  afterAll(async () => {
    await sfn?.stop();
  });

  it('fails a task whose result exceeds 256 KiB with States.DataLimitExceeded', async () => {
    const client = await import('@aws-sdk/client-sfn');
    const sdk = new client.SFNClient({
      endpoint: sfn.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const small = await sdk.send(
      new client.StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: 'small',
        input: JSON.stringify({ kind: 'big', bytes: 1000 }),
      }),
    );
    const big = await sdk.send(
      new client.StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: 'big',
        input: JSON.stringify({ kind: 'big', bytes: MAX_STATE_PAYLOAD_BYTES }),
      }),
    );
    await sfn.settle();
    expect(sfn.execution(small.executionArn ?? '')?.status).toBe('SUCCEEDED');
    expect(sfn.execution(big.executionArn ?? '')).toMatchObject({ status: 'FAILED', error: 'TooBig' });
    await expect(
      sdk.send(
        new client.StartExecutionCommand({
          stateMachineArn: sfn.stateMachineArn,
          input: JSON.stringify({ pad: 'x'.repeat(MAX_STATE_PAYLOAD_BYTES) }),
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    sdk.destroy();
  });
});
