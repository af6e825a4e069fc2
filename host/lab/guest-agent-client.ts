/**
 * The lab's side of the QEMU guest agent (qemu-ga) over a virtio-serial port that the VM's QEMU exposes
 * as a unix socket. Each call opens its own connection and resynchronises first with
 * `guest-sync-delimited`: the port buffers whatever was written while no agent listened (the agent
 * restarts, or a new kernel is booting), and the agent answers the sync after a 0xFF byte, so stale
 * replies are skipped. Commands run through `guest-exec` with their output captured, polled with
 * `guest-exec-status`.
 */
import { randomInt } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';

export interface GuestExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class GuestAgentError extends Error {
  override readonly name = 'GuestAgentError';
}

const DELIMITER = 0xff;

/** One connection: requests written, replies read as JSON lines after the sync delimiter. */
class Connection {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on('close', () => this.fail(new GuestAgentError('guest agent connection closed')));
    socket.on('error', (error) => this.fail(error));
  }

  static open(path: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiter?.();
  }

  send(message: unknown, delimited = false): void {
    const json = Buffer.from(`${JSON.stringify(message)}\n`);
    this.socket.write(delimited ? Buffer.concat([Buffer.from([DELIMITER]), json]) : json);
  }

  /** The next JSON line (after the delimiter, when `afterDelimiter`), or an error at `deadline`. */
  async next(deadline: number, afterDelimiter = false): Promise<unknown> {
    for (;;) {
      if (afterDelimiter) {
        const at = this.buffer.indexOf(DELIMITER);
        if (at >= 0) {
          this.buffer = this.buffer.subarray(at + 1);
          afterDelimiter = false;
        } else this.buffer = Buffer.alloc(0);
      }
      const newline = this.buffer.indexOf(0x0a);
      if (!afterDelimiter && newline >= 0) {
        const line = this.buffer.subarray(0, newline).toString('utf8').trim();
        this.buffer = this.buffer.subarray(newline + 1);
        if (line === '') continue;
        return JSON.parse(line) as unknown;
      }
      if (this.failure !== undefined) throw this.failure;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new GuestAgentError('no answer from the guest agent in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Reply {
  readonly return?: unknown;
  readonly error?: { readonly class?: string; readonly desc?: string };
}

/** A connection whose agent answered a fresh sync: later lines belong to our requests. */
async function synced(path: string, deadline: number): Promise<Connection> {
  const connection = await Connection.open(path);
  try {
    const id = randomInt(1, 2 ** 31);
    // The leading 0xFF makes the agent drop any half-read request left in the port.
    connection.send({ execute: 'guest-sync-delimited', arguments: { id } }, true);
    let afterDelimiter = true;
    for (;;) {
      const reply = (await connection.next(deadline, afterDelimiter)) as Reply;
      afterDelimiter = false;
      if (reply.return === id) return connection;
      afterDelimiter = true;
    }
  } catch (error) {
    connection.close();
    throw error;
  }
}

async function request(connection: Connection, deadline: number, message: unknown): Promise<unknown> {
  connection.send(message);
  const reply = (await connection.next(deadline)) as Reply;
  if (reply.error !== undefined)
    throw new GuestAgentError(
      `guest agent refused ${JSON.stringify(message)}: ${reply.error.desc ?? 'no detail'}`,
    );
  return reply.return;
}

/** Resolves once the agent answers a sync; retries (new connections) until `timeoutMs`. */
export async function waitForGuestAgent(socketPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await synced(socketPath, Math.min(deadline, Date.now() + 3000))).close();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new GuestAgentError(`guest agent on ${socketPath} did not answer within ${timeoutMs} ms`, {
          cause: error,
        });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

interface ExecStatus {
  readonly exited: boolean;
  readonly exitcode?: number;
  readonly signal?: number;
  readonly 'out-data'?: string;
  readonly 'err-data'?: string;
}

/**
 * Runs `argv` in the guest and waits for it to exit. A command that leaves a process behind must
 * detach it from its output (`setsid ... >log 2>&1 &`): the agent reports an exit only once the
 * captured output is closed.
 */
export async function guestExec(
  socketPath: string,
  argv: readonly string[],
  options: { readonly timeoutMs?: number } = {},
): Promise<GuestExecResult> {
  const [path, ...arg] = argv;
  if (path === undefined) throw new GuestAgentError('guestExec needs a command');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const connection = await synced(socketPath, deadline);
  try {
    const { pid } = (await request(connection, deadline, {
      execute: 'guest-exec',
      arguments: { path, arg, 'capture-output': true },
    })) as { pid: number };
    for (;;) {
      const status = (await request(connection, deadline, {
        execute: 'guest-exec-status',
        arguments: { pid },
      })) as ExecStatus;
      if (status.exited)
        return {
          exitCode: status.exitcode ?? 128 + (status.signal ?? 0),
          stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
          stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
        };
      if (Date.now() > deadline)
        throw new GuestAgentError(`${argv.join(' ')} did not finish in the guest within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    connection.close();
  }
}

export interface GuestClockReading {
  /** The guest's wall clock minus this machine's, in ms, taken at the request's midpoint. */
  readonly offsetMs: number;
  /** The request's round trip: the offset is good to half of it. */
  readonly roundTripMs: number;
}

/** Compares the guest's wall clock (`guest-get-time`) with this machine's. */
export async function guestClock(socketPath: string, timeoutMs = 10_000): Promise<GuestClockReading> {
  const deadline = Date.now() + timeoutMs;
  const connection = await synced(socketPath, deadline);
  try {
    const sent = Date.now();
    const guestNs = (await request(connection, deadline, { execute: 'guest-get-time' })) as number;
    const received = Date.now();
    return { offsetMs: guestNs / 1e6 - (sent + received) / 2, roundTripMs: received - sent };
  } finally {
    connection.close();
  }
}
