/**
 * Watching a field VM's network from its host's namespace while something happens to the VM: a ping
 * every 10 ms, and a TCP connection kept busy (host/lab/tcp-echo-client.ts). Both run inside the
 * namespace (so they reach only addresses there) and are stopped with a report; a host teardown kills
 * whatever is left of them with every other process in the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-paths.js';
import type { EchoReport } from './tcp-echo-client.js';

export type { EchoReport } from './tcp-echo-client.js';

export interface PingReport {
  readonly transmitted: number;
  readonly received: number;
  /** Echo requests with no reply, among those sent before the last reply came (the rest are in flight). */
  readonly lost: number;
  readonly longestRoundTripMs: number;
}

export interface Probe<R> {
  /** Resolves once the probe has seen the VM answer at least `answers` times. */
  waitForAnswers(answers: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<R>;
}

function collectOutput(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => (text += chunk));
  return () => text;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function waitFor(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function pingReport(output: string): PingReport {
  const replies = [...output.matchAll(/icmp_seq=([0-9]+) .*time=([0-9.]+) ms/g)];
  const seqs = new Set(replies.map((match) => Number(match[1])));
  const last = Math.max(0, ...seqs);
  let lost = 0;
  for (let seq = 1; seq <= last; seq++) if (!seqs.has(seq)) lost += 1;
  const transmitted = Number(/([0-9]+) packets transmitted/.exec(output)?.[1] ?? Number.NaN);
  return {
    transmitted,
    received: seqs.size,
    lost,
    longestRoundTripMs: Math.max(0, ...replies.map((match) => Number(match[2]))),
  };
}

/** Pings `address` from inside the namespace every `intervalMs` (10 by default; root may go that low). */
export function startPing(
  commandPrefix: readonly string[],
  address: string,
  intervalMs = 10,
): Probe<PingReport> {
  const [command = 'ping', ...args] = [
    ...commandPrefix,
    'ping',
    '-n',
    '-i',
    String(intervalMs / 1000),
    address,
  ];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const output = collectOutput(child);
  return {
    waitForAnswers: (answers, timeoutMs = 60_000) =>
      waitFor(
        () => pingReport(output()).received >= answers,
        `${address} did not answer ${answers} pings`,
        timeoutMs,
      ),
    async stop() {
      child.kill('SIGINT');
      await exited(child);
      return pingReport(output());
    },
  };
}

/** Keeps a TCP connection to the echo service at `address:port` busy from inside the namespace. */
export function startTcpEcho(
  commandPrefix: readonly string[],
  address: string,
  port: number,
  intervalMs = 10,
): Probe<EchoReport> {
  const client = join(REPO_ROOT, 'host', 'lab', 'tcp-echo-client.ts');
  const [command = process.execPath, ...args] = [
    ...commandPrefix,
    process.execPath,
    '--import',
    'tsx',
    client,
    address,
    String(port),
    String(intervalMs),
  ];
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  const output = collectOutput(child);
  let echoes = 0;
  // Progress only (a line cut between two chunks is counted with the next one).
  child.stdout?.on('data', (chunk: string) => {
    for (const match of chunk.matchAll(/E ([0-9]+)\n/g)) echoes = Number(match[1]);
  });
  return {
    waitForAnswers: (answers, timeoutMs = 60_000) =>
      waitFor(() => echoes >= answers, `${address}:${port} did not echo ${answers} lines`, timeoutMs),
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      const line = output().trim().split('\n').at(-1) ?? '';
      try {
        return JSON.parse(line) as EchoReport;
      } catch {
        throw new Error(`the TCP echo client printed no report (exit ${child.exitCode}): ${line}`);
      }
    },
  };
}
