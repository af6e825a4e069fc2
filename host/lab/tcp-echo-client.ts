/**
 * A TCP client that keeps one connection to an echo service open and busy: a numbered line every
 * `intervalMs`, each expected back in order. Run inside a field host's network namespace by
 * host/lab/netns-probes.ts (`ip netns exec <ns> node --import tsx tcp-echo-client.ts HOST PORT MS`).
 * It prints `E <n>` as the n-th line comes back; on SIGTERM it stops sending, waits for what is still
 * in flight, prints one JSON line (EchoReport) and exits.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface EchoReport {
  readonly connected: boolean;
  readonly sent: number;
  readonly echoed: number;
  /** Replies that were not the next line sent. */
  readonly outOfOrder: number;
  /** The connection ended or failed before the client stopped it. */
  readonly closedEarly: boolean;
  readonly error?: string;
  /** The longest time a line waited for its echo. */
  readonly longestWaitMs: number;
}

const DRAIN_MS = 3000;

function main(): void {
  const [host = '', port = '', interval = '10'] = process.argv.slice(2);
  const sentAt: number[] = [];
  const report = {
    connected: false,
    sent: 0,
    echoed: 0,
    outOfOrder: 0,
    closedEarly: false,
    error: undefined as string | undefined,
    longestWaitMs: 0,
  };
  let stopping = false;
  let buffered = '';
  const socket = connect({ host, port: Number(port) });
  socket.setNoDelay(true);
  const finish = () => {
    clearInterval(sender);
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  };
  const sender = setInterval(() => {
    if (!report.connected || stopping) return;
    sentAt.push(performance.now());
    socket.write(`${++report.sent}\n`);
  }, Number(interval));
  socket.on('connect', () => (report.connected = true));
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const expected = report.echoed + 1;
      report.echoed += 1;
      if (line !== String(expected)) report.outOfOrder += 1;
      const at = sentAt[expected - 1];
      if (at !== undefined) report.longestWaitMs = Math.max(report.longestWaitMs, performance.now() - at);
      process.stdout.write(`E ${report.echoed}\n`);
    }
    if (stopping && report.echoed >= report.sent) finish();
  });
  socket.on('error', (error) => (report.error = error.message));
  socket.on('close', () => {
    if (!stopping) report.closedEarly = true;
    finish();
  });
  process.once('SIGTERM', () => {
    stopping = true;
    if (report.echoed >= report.sent) finish();
    setTimeout(finish, DRAIN_MS).unref();
  });
}

main();
