/**
 * A minimal QMP client for the lab (launching, probing, tearing down). The documents never use it:
 * on a host everything goes through the python agent.
 */
import { createConnection, type Socket } from 'node:net';

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class QmpClient {
  private buffer = '';
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  private greeted: Pending | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('close', () => this.failAll(new Error('QMP connection closed')));
    socket.on('error', (error) => this.failAll(error));
  }

  /** Connects, waits for QEMU's greeting and leaves capabilities negotiation done. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = createConnection(path);
    const client = new QmpClient(socket);
    const timer = setTimeout(
      () => socket.destroy(new Error(`no QMP greeting on ${path} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await new Promise((resolve, reject) => {
        client.greeted = { resolve, reject };
      });
      await client.execute('qmp_capabilities');
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const id = `lab-${++this.nextId}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (value) => resolve(value as T), reject });
      this.socket.write(
        `${JSON.stringify({ execute: command, id, ...(args ? { arguments: args } : {}) })}\n`,
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf('\n');
      const message = JSON.parse(line) as {
        QMP?: unknown;
        id?: string;
        return?: unknown;
        error?: { desc?: string };
      };
      if (message.QMP !== undefined) {
        this.greeted?.resolve(undefined);
        this.greeted = undefined;
        continue;
      }
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (waiter === undefined || message.id === undefined) continue;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`QMP error: ${message.error.desc ?? 'unknown'}`));
      else waiter.resolve(message.return);
    }
  }

  private failAll(error: Error): void {
    this.greeted?.reject(error);
    this.greeted = undefined;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** The VM's run state (`running`, `paused`, `inmigrate`, ...), on a connection opened and closed for it. */
export async function queryStatus(qmpSocket: string): Promise<string> {
  const client = await QmpClient.connect(qmpSocket);
  try {
    const { status } = await client.execute<{ status: string }>('query-status');
    return status;
  } finally {
    client.close();
  }
}
