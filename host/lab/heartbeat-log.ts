/**
 * Reading the test guest's serial log: how often it booted, its heartbeat counters in order, and any
 * page it found unmarked. This is how tests see from the guest's side that it never rebooted.
 */
import { readFile } from 'node:fs/promises';

export interface HeartbeatLog {
  /** `BOOT` lines: 1 for a guest that was never rebooted. */
  readonly boots: number;
  /** Every complete `HB n` line's counter, in log order. */
  readonly counters: readonly number[];
  /** The counters printed since the last `BOOT`. */
  readonly sinceLastBoot: readonly number[];
  /** `BAD <address>` lines: pages whose content did not survive. */
  readonly badPages: readonly string[];
}

export async function readHeartbeatLog(path: string): Promise<HeartbeatLog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { boots: 0, counters: [], sinceLastBoot: [], badPages: [] };
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
  const counters: number[] = [];
  const badPages: string[] = [];
  let boots = 0;
  let sinceLastBoot: number[] = [];
  for (const line of complete) {
    if (line === 'BOOT') {
      boots += 1;
      sinceLastBoot = [];
    }
    const heartbeat = /^HB ([0-9]+)$/.exec(line);
    if (heartbeat?.[1] !== undefined) {
      counters.push(Number(heartbeat[1]));
      sinceLastBoot.push(Number(heartbeat[1]));
    }
    const bad = /^BAD ([0-9]+)$/.exec(line);
    if (bad?.[1] !== undefined) badPages.push(bad[1]);
  }
  return { boots, counters, sinceLastBoot, badPages };
}

/** Places where the counter did not go up by exactly one; empty for a guest that ran without a break. */
export function counterBreaks(counters: readonly number[]): string[] {
  const breaks: string[] = [];
  counters.forEach((counter, index) => {
    const previous = index === 0 ? 0 : counters[index - 1];
    if (previous !== undefined && counter !== previous + 1) breaks.push(`${previous} -> ${counter}`);
  });
  return breaks;
}

/** Waits until the guest's log satisfies `done`; resolves with the log at that moment. */
export async function waitForLog(
  path: string,
  done: (log: HeartbeatLog) => boolean,
  timeoutMs = 30_000,
): Promise<HeartbeatLog> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await readHeartbeatLog(path);
    if (done(log)) return log;
    if (Date.now() > deadline)
      throw new Error(`guest log ${path} did not reach the expected state within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the guest has printed a counter above `above`; resolves with the latest counter. */
export async function waitForHeartbeat(path: string, above: number, timeoutMs = 30_000): Promise<number> {
  const log = await waitForLog(path, (l) => (l.counters.at(-1) ?? 0) > above, timeoutMs);
  return log.counters.at(-1) ?? 0;
}
