/**
 * One scheduled run of the fleet-wide aging collection. A run does two things, in this order:
 *
 * 1. It finishes the previous round: reads every invocation's output, judges each against the host the
 *    registry names for that instance (collector-output.ts), publishes the hosts it accepted and counts
 *    the refusals by reason. Publication is claimed first by one conditional write, so a retried or
 *    duplicated run publishes nothing twice; a run that dies between the claim and the publication loses
 *    that round (a gap in the series, which the predictor tolerates), never doubles it.
 * 2. It starts the next round: one SendCommand of CollectAging to every instance tagged as managed, under
 *    SSM's MaxConcurrency and MaxErrors. The round is taken by a conditional write before anything is
 *    sent, so two runs for the same scheduled time start one round; a retry after a crash between the
 *    write and the send finds the command by its comment before sending again.
 *
 * The round's key is the scheduled time EventBridge gives every delivery of the same tick, so a retried
 * delivery is recognised as the same run.
 */
import type { Clock } from '../domain/clock.js';
import type { AgingMetrics, PublishOutcome, RefusalCounts } from '../ports/aging-metrics.js';
import type { CollectionRounds } from '../ports/collection-rounds.js';
import type { FleetCommands, FleetInvocation } from '../ports/fleet-commands.js';
import type { HostRepository } from '../ports/host-repository.js';
import {
  judgeCollection,
  type CollectorRefusalCode,
  type CollectorTarget,
  type CollectorVerdict,
} from './collector-output.js';

export interface CollectionSettings {
  /** The deployed CollectAging document's name. */
  readonly documentName: string;
  /** The instances a round goes to: those with this tag value. */
  readonly managedTag: { readonly key: string; readonly value: string };
  /** SSM rate controls: a number or a percentage of the targets. */
  readonly maxConcurrency: string;
  readonly maxErrors: string;
  /** How long an invocation may wait for its agent: less than the interval, so a round has ended by the next. */
  readonly deliveryTimeoutSeconds: number;
}

export interface CollectRoundDeps {
  readonly fleet: FleetCommands;
  readonly hosts: HostRepository;
  readonly metrics: AgingMetrics;
  readonly rounds: CollectionRounds;
  readonly clock: Clock;
  readonly settings: CollectionSettings;
}

export interface HostRefusal {
  readonly instanceId: string;
  readonly hostId: string | undefined;
  readonly code: CollectorRefusalCode;
  readonly reason: string;
}

export interface FinishedRound {
  readonly roundKey: string;
  readonly commandId: string;
  readonly published: readonly { hostId: string; datapoints: number }[];
  readonly refused: readonly HostRefusal[];
  /** Hosts accepted but not published: CloudWatch refused their batch. */
  readonly publishFailed: readonly { hostId: string; error: string }[];
}

export interface CollectRoundResult {
  /** The previous round, when this run published it; undefined when there was none or another run did. */
  readonly finished: FinishedRound | undefined;
  /** The round this run started, or found started by an earlier delivery of the same tick. */
  readonly started:
    { readonly roundKey: string; readonly commandId: string; readonly resumed: boolean } | undefined;
}

/** The comment a round's command carries: how a retry finds a command already sent. */
export function roundSendKey(roundKey: string): string {
  return `rejuv-aging:${roundKey.replace(/[^A-Za-z0-9:._-]/g, '-')}`;
}

export async function collectRound(deps: CollectRoundDeps, roundKey: string): Promise<CollectRoundResult> {
  let latest = await deps.rounds.latest();
  let finished: FinishedRound | undefined;
  if (latest !== undefined && latest.roundKey < roundKey && latest.publishedAt === undefined) {
    if (latest.commandId !== undefined && (await deps.rounds.claimPublication(latest.roundKey, now(deps)))) {
      finished = await publishRound(deps, latest.roundKey, latest.commandId);
    }
    latest = await deps.rounds.latest();
  }
  return { finished, started: await startRound(deps, roundKey, latest?.roundKey, latest?.commandId) };
}

async function startRound(
  deps: CollectRoundDeps,
  roundKey: string,
  latestKey: string | undefined,
  latestCommand: string | undefined,
): Promise<CollectRoundResult['started']> {
  const { settings } = deps;
  const sendKey = roundSendKey(roundKey);
  if (latestKey !== undefined && latestKey > roundKey) return undefined; // a later tick already ran
  if (latestKey === roundKey) {
    // An earlier delivery of this tick took the round: it sent, or died before or just after sending.
    if (latestCommand !== undefined) return { roundKey, commandId: latestCommand, resumed: true };
    const found = await deps.fleet.findSent(settings.documentName, sendKey);
    const commandId = found ?? (await send(deps, sendKey)).commandId;
    await deps.rounds.recordCommand(roundKey, commandId);
    return { roundKey, commandId, resumed: true };
  }
  if (!(await deps.rounds.begin(roundKey, latestKey, now(deps)))) return undefined; // another run took it
  const { commandId } = await send(deps, sendKey);
  await deps.rounds.recordCommand(roundKey, commandId);
  return { roundKey, commandId, resumed: false };
}

function send(deps: CollectRoundDeps, sendKey: string): Promise<{ commandId: string }> {
  const { settings } = deps;
  return deps.fleet.send({
    documentName: settings.documentName,
    // `-`: the agent names the instance it runs on, which the registry maps to the host.
    parameters: { hostId: '-' },
    tag: settings.managedTag,
    maxConcurrency: settings.maxConcurrency,
    maxErrors: settings.maxErrors,
    deliveryTimeoutSeconds: settings.deliveryTimeoutSeconds,
    sendKey,
  });
}

async function publishRound(
  deps: CollectRoundDeps,
  roundKey: string,
  commandId: string,
): Promise<FinishedRound> {
  const [invocations, registry] = await Promise.all([deps.fleet.invocations(commandId), deps.hosts.list()]);
  const byInstance = new Map(registry.map((host) => [host.instanceId, host]));
  const at = now(deps);
  const refused: HostRefusal[] = [];
  const replies: { target: CollectorTarget; stdout: string; invocation: FleetInvocation }[] = [];
  for (const invocation of invocations) {
    const host = byInstance.get(invocation.instanceId);
    if (host === undefined) {
      refused.push({
        instanceId: invocation.instanceId,
        hostId: undefined,
        code: 'unattributable',
        reason: `instance ${invocation.instanceId} is tagged as managed but no registered host runs on it`,
      });
      continue;
    }
    replies.push({
      target: { hostId: host.hostId, instanceId: host.instanceId },
      stdout: invocation.stdout,
      invocation,
    });
  }
  const verdicts = judgeCollection(replies, at);
  const accepted: { verdict: Extract<CollectorVerdict, { outcome: 'accepted' }>; pool: string }[] = [];
  verdicts.forEach((verdict, i) => {
    const reply = replies[i];
    if (reply === undefined) return;
    if (verdict.outcome === 'accepted') {
      accepted.push({ verdict, pool: byInstance.get(reply.invocation.instanceId)?.pool ?? '' });
      return;
    }
    const { invocation } = reply;
    // An invocation that never ran has no line: say why SSM did not run it.
    const why =
      verdict.code === 'no-result' && invocation.status !== 'Success'
        ? `${verdict.reason} (invocation ${invocation.status}, ${invocation.statusDetails || 'no details'})`
        : verdict.reason;
    refused.push({
      instanceId: invocation.instanceId,
      hostId: verdict.hostId,
      code: verdict.code,
      reason: why,
    });
  });
  const outcomes: PublishOutcome[] =
    accepted.length === 0
      ? []
      : await deps.metrics.publish(
          accepted.map(({ verdict, pool }) => ({ measurement: verdict.measurement, pool })),
        );
  const counts: Partial<Record<CollectorRefusalCode, number>> = {};
  for (const refusal of refused) counts[refusal.code] = (counts[refusal.code] ?? 0) + 1;
  await deps.metrics.publishRefusals(counts satisfies RefusalCounts, at);
  return {
    roundKey,
    commandId,
    published: outcomes.flatMap((o) => (o.published ? [{ hostId: o.hostId, datapoints: o.datapoints }] : [])),
    refused,
    publishFailed: outcomes.flatMap((o) =>
      o.published ? [] : [{ hostId: o.hostId, error: o.error.message }],
    ),
  };
}

function now(deps: CollectRoundDeps): Date {
  return new Date(deps.clock.nowMs());
}
