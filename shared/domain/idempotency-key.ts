/**
 * Deterministic keys for deduplicating triggers. CloudWatch may deliver one alarm state change several
 * times; the alarm's name and the time of the change identify it, whatever the delivery.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9:._#-]{1,255}$/, 'idempotency key: 1-255 chars of A-Z a-z 0-9 : . _ # -');

/** Alarm names may hold almost any character, so the key carries a digest of them, never the raw text. */
export function alarmIdempotencyKey(alarmName: string, stateChangeTime: string): string {
  const digest = createHash('sha256').update(`${alarmName}\u0000${stateChangeTime}`).digest('hex');
  return `alarm#${digest.slice(0, 40)}`;
}

/**
 * A trigger claims the name of the execution it starts: the name is derived from what the trigger
 * deduplicates (an alarm's state change, an operator's request id), and Admit, which knows only its own
 * execution's name, finds the claim by it.
 */
export function executionClaimKey(executionName: string): string {
  return `execution#${executionName}`;
}
