/**
 * A refusal by the policy gate, in the shape that crosses the Lambda boundary. A thrown error reaches the
 * state machine as its name and message only (the runtime serializes nothing else), so the rule and the
 * instant to wait for travel in the message, in a fixed form that `parsePolicyRefusal` reads back.
 */
import { RejuvError } from '../domain/errors.js';
import type { PolicyRule } from './decide.js';

const POLICY_RULES: readonly PolicyRule[] = [
  'break-glass',
  'cooldown',
  'approval',
  'blackout',
  'window',
  'blocker',
];

/** What a policy refusal names: the rule, why, and the first instant the gate would allow, when known. */
export interface PolicyRefusalDetail {
  readonly rule: PolicyRule;
  readonly reason: string;
  readonly untilMs?: number | undefined;
}

function message(detail: PolicyRefusalDetail): string {
  const until = detail.untilMs === undefined ? '' : `, not before ${new Date(detail.untilMs).toISOString()}`;
  return `policy refused (rule ${detail.rule}${until}): ${detail.reason}`;
}

/** The gate said wait or deny: nothing is taken, and the execution ends Refused with this as its reason. */
export class PolicyRefusedError extends RejuvError {
  override readonly name = 'PolicyRefusedError';
  readonly retryable = false;
  readonly rule: PolicyRule;
  readonly reason: string;
  readonly untilMs: number | undefined;
  constructor(
    readonly hostId: string,
    detail: PolicyRefusalDetail,
  ) {
    super(message(detail));
    this.rule = detail.rule;
    this.reason = detail.reason;
    this.untilMs = detail.untilMs;
  }
}

const MESSAGE = /^policy refused \(rule ([a-z-]+)(?:, not before (\S+?))?\): ([\s\S]*)$/;

/** The detail of a PolicyRefusedError's message; undefined when the message is not one. */
export function parsePolicyRefusal(errorMessage: string): PolicyRefusalDetail | undefined {
  const match = MESSAGE.exec(errorMessage);
  if (match === null) return undefined;
  const rule = POLICY_RULES.find((r) => r === match[1]);
  if (rule === undefined) return undefined;
  const untilMs = match[2] === undefined ? undefined : Date.parse(match[2]);
  if (untilMs !== undefined && !Number.isFinite(untilMs)) return undefined;
  return { rule, reason: match[3] ?? '', ...(untilMs === undefined ? {} : { untilMs }) };
}
