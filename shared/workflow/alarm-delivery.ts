/**
 * Whether an alarm event is one the aging-alarm rule could have delivered, now: the rule matches only
 * `aws.cloudwatch` / `CloudWatch Alarm State Change` events of alarms named with the configured prefix
 * that entered ALARM (the schema holds the first two), and EventBridge and Lambda give up on an event
 * after a bounded time. Anything else reached the trigger some other way (a direct invoke, a forged
 * or replayed event) and is refused before anything is read or written.
 */
import type { Clock } from '../domain/clock.js';
import { ValidationError } from '../domain/errors.js';
import type { AlarmMapping, AlarmStateChangeEvent } from './alarm-event.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** How long EventBridge keeps retrying delivery to the trigger (the AgingAlarmRule target's maxEventAge). */
export const ALARM_RULE_MAX_EVENT_AGE_MS = 2 * HOUR_MS;

/**
 * How long Lambda keeps an accepted asynchronous invocation of the trigger queued and retried (the
 * function's async-invoke maxEventAge; Lambda's default would be 6 h). EventBridge invokes its Lambda
 * targets asynchronously, so an event can wait in both queues, one after the other.
 */
export const ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS = 1 * HOUR_MS;

/**
 * How late CloudWatch may publish a state change after its timestamp. AWS documents no bound; in
 * practice it is seconds (the documented example has both in the same second). A quarter of an hour is
 * generous to CloudWatch and still small next to the delivery window.
 */
export const ALARM_PUBLISH_LAG_MS = 15 * MINUTE_MS;

/**
 * Disagreement allowed between clocks: EventBridge's `time` is truncated to whole seconds while the
 * state timestamp has milliseconds (so the state change may look up to 1 s later than its event), and
 * the function's clock and AWS's may differ by a little. AWS hosts keep time to milliseconds; a minute
 * is generous and still refuses an event from the future.
 */
export const ALARM_CLOCK_SKEW_MS = MINUTE_MS;

/** The oldest state change the rule can still deliver: both queues, the publish lag, and skew. */
export const ALARM_MAX_AGE_MS =
  ALARM_PUBLISH_LAG_MS +
  ALARM_RULE_MAX_EVENT_AGE_MS +
  ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS +
  ALARM_CLOCK_SKEW_MS;

/** Refuses, with every reason at once, an event the aging-alarm rule would not deliver at `clock`'s now. */
export function refuseUndeliverableAlarm(
  event: AlarmStateChangeEvent,
  mapping: Pick<AlarmMapping, 'alarmNamePrefix'>,
  clock: Clock,
): void {
  const issues: string[] = [];
  const { alarmName, state } = event.detail;
  if (!alarmName.startsWith(mapping.alarmNamePrefix))
    issues.push(
      `detail.alarmName: ${JSON.stringify(alarmName)} does not start with ${JSON.stringify(mapping.alarmNamePrefix)}, the only alarms the rule delivers`,
    );
  if (state.value !== 'ALARM')
    issues.push(`detail.state.value: ${state.value}, but the rule delivers only changes into ALARM`);

  const nowMs = clock.nowMs();
  const eventMs = Date.parse(event.time);
  const changedMs = Date.parse(normalizeOffset(state.timestamp));
  if (Number.isNaN(eventMs) || Number.isNaN(changedMs))
    throw new ValidationError('alarm event', [...issues, `time or state timestamp unreadable as an instant`]);
  if (eventMs > nowMs + ALARM_CLOCK_SKEW_MS)
    issues.push(`time: ${event.time} is in the future (now ${new Date(nowMs).toISOString()})`);
  if (changedMs > eventMs + ALARM_CLOCK_SKEW_MS)
    issues.push(
      `detail.state.timestamp: ${state.timestamp} is after the event's own time ${event.time}; a state change is published after it happens`,
    );
  if (changedMs < nowMs - ALARM_MAX_AGE_MS)
    issues.push(
      `detail.state.timestamp: ${state.timestamp} is older than ${ALARM_MAX_AGE_MS / MINUTE_MS} minutes (now ${new Date(nowMs).toISOString()}), past the time EventBridge and Lambda still deliver an event`,
    );
  if (issues.length > 0) throw new ValidationError('alarm event', issues);
}

/** CloudWatch writes offsets as +0000; ECMAScript's date format has +00:00 (+0000 parses only by leniency). */
function normalizeOffset(timestamp: string): string {
  return timestamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
}
