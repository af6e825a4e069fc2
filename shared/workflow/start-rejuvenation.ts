/**
 * The two ways a rejuvenation starts. Both validate everything before anything is written, and both
 * name the execution deterministically so that a repeated trigger can never start a second one.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import { alarmIdempotencyKey } from '../domain/idempotency-key.js';
import { parseWith } from '../domain/validation.js';
import type { ExecutionStarter } from '../ports/execution-starter.js';
import type { HostRepository } from '../ports/host-repository.js';
import type { IdempotencyStore } from '../ports/idempotency-store.js';
import { refuseUndeliverableAlarm } from './alarm-delivery.js';
import { AlarmStateChangeEventSchema, hostIdOfAlarm, type AlarmMapping } from './alarm-event.js';
import {
  RejuvenationRequestSchema,
  RELOAD_LEVELS,
  requestDigest,
  type RejuvenationRequest,
  type ReloadLevel,
} from './rejuvenation-request.js';

export interface TriggerDeps {
  readonly hosts: Pick<HostRepository, 'get'>;
  readonly idempotency: IdempotencyStore;
  readonly executions: ExecutionStarter;
  readonly dedupeTtlSeconds: number;
  /** Judges whether an alarm event is still one EventBridge would deliver. */
  readonly clock: Clock;
}

export type TriggerResult =
  | {
      readonly status: 'started';
      readonly executionName: string;
      readonly executionArn: string;
      readonly hostId: string;
    }
  | { readonly status: 'duplicate'; readonly executionName: string; readonly hostId: string };

/** Step Functions execution names: at most 80 of [A-Za-z0-9_-]. */
function executionName(kind: string, hostId: string, discriminator: string): string {
  const digest = createHash('sha256').update(discriminator).digest('hex').slice(0, 16);
  return `${kind}-${hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

export async function startFromAlarm(
  deps: TriggerDeps,
  mapping: AlarmMapping & { readonly level: ReloadLevel },
  event: unknown,
): Promise<TriggerResult> {
  const alarm = parseWith(AlarmStateChangeEventSchema, 'alarm event', event);
  refuseUndeliverableAlarm(alarm, mapping, deps.clock);
  const hostId = hostIdOfAlarm(alarm, mapping);
  await deps.hosts.get(hostId);
  const name = executionName(
    'alarm',
    hostId,
    alarmIdempotencyKey(alarm.detail.alarmName, alarm.detail.state.timestamp),
  );
  // Checked like any request, so nothing an alarm carries can make an execution fail at its first step.
  const request: RejuvenationRequest = parseWith(RejuvenationRequestSchema, 'rejuvenation request', {
    hostId,
    trigger: 'alarm',
    principal: `cloudwatch-alarm:${alarm.account}`,
    reason: `alarm ${alarm.detail.alarmName} entered ALARM at ${alarm.detail.state.timestamp}`.slice(0, 1024),
    level: mapping.level,
    dryRun: false,
    // Only a person may decide that a host whose guest is already dead goes ahead anyway.
    allowSilentGuests: false,
  });
  return claimAndStart(deps, name, request);
}

/** A host the predictive trigger found heading for exhaustion within its horizon. */
export interface PredictedExhaustion {
  readonly hostId: string;
  /** `prediction#<host>#<window start>` (prediction-key.ts): one execution per host per window. */
  readonly dedupeKey: string;
  /** The evidence, as the request's reason (and so the audit's): at most 1,024 characters. */
  readonly reason: string;
}

export const PREDICTIVE_PRINCIPAL = 'rejuv:aging-predictor';

/**
 * Starts the predicted host's rejuvenation, once per dedupe window. Unlike an alarm, two evaluations in one
 * window carry different evidence (the series moved on), so their requests differ: the second finds the
 * first's claim and starts nothing, where re-sending the start would ask Step Functions for a second
 * execution of one name with another input. The cost: a first evaluation that crashed between its claim and
 * its start loses that window's start, and the next window's evaluation makes it.
 */
export async function startFromPrediction(
  deps: TriggerDeps,
  prediction: PredictedExhaustion,
  level: ReloadLevel,
): Promise<TriggerResult> {
  const name = executionName('predict', prediction.hostId, prediction.dedupeKey);
  const request: RejuvenationRequest = parseWith(RejuvenationRequestSchema, 'rejuvenation request', {
    hostId: prediction.hostId,
    trigger: 'predictive',
    principal: PREDICTIVE_PRINCIPAL,
    reason: prediction.reason.slice(0, 1024),
    level,
    dryRun: false,
    allowSilentGuests: false,
  });
  const digest = requestDigest(request);
  const claim = await deps.idempotency.claim(
    { executionName: name, requestDigest: digest },
    deps.dedupeTtlSeconds,
  );
  if (!claim.claimed && claim.existing.requestDigest !== digest)
    return { status: 'duplicate', executionName: name, hostId: request.hostId };
  const started = await deps.executions.start(name, request);
  return claim.claimed && started.started
    ? { status: 'started', executionName: name, executionArn: started.executionArn, hostId: request.hostId }
    : { status: 'duplicate', executionName: name, hostId: request.hostId };
}

/**
 * Claims the execution (its name, derived from what the trigger deduplicates, and the digest of its
 * request: Admit admits nothing else), then starts it. An execution already claimed is a duplicate, but
 * its start is still sent: if the first delivery crashed between its claim and its start, this delivery
 * starts the execution instead of losing it; if the execution exists, Step Functions starts nothing
 * (same name, same input).
 */
async function claimAndStart(
  deps: TriggerDeps,
  name: string,
  request: RejuvenationRequest,
): Promise<TriggerResult> {
  const claim = await deps.idempotency.claim(
    { executionName: name, requestDigest: requestDigest(request) },
    deps.dedupeTtlSeconds,
  );
  const started = await deps.executions.start(name, request);
  return claim.claimed && started.started
    ? { status: 'started', executionName: name, executionArn: started.executionArn, hostId: request.hostId }
    : { status: 'duplicate', executionName: name, hostId: request.hostId };
}

export const OperatorRequestSchema = z
  .object({
    hostId: RejuvenationRequestSchema.shape.hostId,
    reason: RejuvenationRequestSchema.shape.reason,
    principal: RejuvenationRequestSchema.shape.principal,
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    dryRun: z.boolean().default(false),
    allowSilentGuests: RejuvenationRequestSchema.shape.allowSilentGuests,
    /** Makes a retried request idempotent; a fresh one gets a fresh execution. */
    requestId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'request id: 1-64 chars of A-Z a-z 0-9 _ -'),
    /** Break glass, for `principal` (the authenticated caller), with this reason (policy-gate.ts). */
    breakGlassReason: RejuvenationRequestSchema.shape.breakGlassReason,
  })
  .strict();

export async function startFromOperator(deps: TriggerDeps, input: unknown): Promise<TriggerResult> {
  const op = parseWith(OperatorRequestSchema, 'operator request', input);
  await deps.hosts.get(op.hostId);
  const name = executionName(op.dryRun ? 'dryrun' : 'op', op.hostId, op.requestId);
  const request: RejuvenationRequest = {
    hostId: op.hostId,
    trigger: 'operator',
    principal: op.principal,
    reason: op.reason,
    level: op.level,
    dryRun: op.dryRun,
    allowSilentGuests: op.allowSilentGuests,
    ...(op.breakGlassReason === undefined ? {} : { breakGlassReason: op.breakGlassReason }),
  };
  return claimAndStart(deps, name, request);
}
