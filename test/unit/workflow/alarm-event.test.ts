import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/domain/errors.js';
import { parseWith } from '../../../shared/domain/validation.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  ALARM_CLOCK_SKEW_MS,
  ALARM_MAX_AGE_MS,
  refuseUndeliverableAlarm,
} from '../../../shared/workflow/alarm-delivery.js';
import { AlarmStateChangeEventSchema, hostIdOfAlarm } from '../../../shared/workflow/alarm-event.js';
import { OperatorRequestSchema } from '../../../shared/workflow/start-rejuvenation.js';
import { agingAlarmEvent } from '../../e2e/support/local-fleet.js';

const mapping = { hostIdDimension: 'HostId', alarmNamePrefix: 'rejuv-aging-' };
const parse = (event: unknown) => parseWith(AlarmStateChangeEventSchema, 'alarm event', event);

describe('Alarm events', () => {
  it('names the host by the metric dimension', () => {
    expect(hostIdOfAlarm(parse(agingAlarmEvent('h-7', '2026-11-25T01:00:00.000+0000')), mapping)).toBe('h-7');
  });

  it('falls back to the alarm name suffix when no metric carries the dimension', () => {
    const event = agingAlarmEvent('h-8', '2026-11-25T01:00:00.000+0000');
    event.detail.configuration.metrics = [];
    expect(hostIdOfAlarm(parse(event), mapping)).toBe('h-8');
  });

  it('refuses an alarm that names no host, and a host id that could not be one', () => {
    const event = agingAlarmEvent('h-9', '2026-11-25T01:00:00.000+0000');
    event.detail.configuration.metrics = [];
    event.detail.alarmName = 'cpu-high';
    event.resources = ['arn:aws:cloudwatch:local:000000000000:alarm:cpu-high'];
    expect(() => hostIdOfAlarm(parse(event), mapping)).toThrow(/names no host/);
    const hostile = agingAlarmEvent('h-9', '2026-11-25T01:00:00.000+0000');
    (hostile.detail.configuration.metrics[0]?.metricStat.metric.dimensions as Record<string, string>)[
      'HostId'
    ] = 'h;reboot';
    expect(() => hostIdOfAlarm(parse(hostile), mapping)).toThrow(ValidationError);
  });

  it.each([
    ['another source', { source: 'aws.ec2' }],
    ['another detail type', { 'detail-type': 'EC2 Instance State-change Notification' }],
    ['no detail', { detail: undefined }],
    ['a bad account', { account: 'me' }],
    ['no resources', { resources: undefined }],
    ['no resource', { resources: [] }],
    ['two resources', { resources: [ARN, ARN] }],
    ['a resource of another service', { resources: [ARN.replace(':cloudwatch:', ':ec2:')] }],
    ['a resource naming another alarm', { resources: [`${ARN}-other`] }],
    ['a resource in another region', { resources: [ARN.replace(':local:', ':eu-west-1:')] }],
    ['a resource of another account', { resources: [ARN.replace(':000000000000:', ':111111111111:')] }],
    ['a resource outside AWS partitions', { resources: [ARN.replace('arn:aws:', 'arn:evil:')] }],
  ])('refuses an event from %s', (_what, override) => {
    expect(() => parse({ ...agingAlarmEvent('h-1', '2026-11-25T01:00:00.000+0000'), ...override })).toThrow(
      ValidationError,
    );
  });

  it('accepts the resource ARN in any AWS partition, and an alarm name with colons', () => {
    const event = agingAlarmEvent('h-1', '2026-11-25T01:00:00.000+0000');
    event.resources = [ARN.replace('arn:aws:', 'arn:aws-us-gov:')];
    expect(parse(event).resources).toHaveLength(1);
    event.detail.alarmName = 'rejuv-aging-h-1:rss';
    event.resources = [`${ARN}:rss`];
    expect(parse(event).detail.alarmName).toBe('rejuv-aging-h-1:rss');
  });
});

const ARN = 'arn:aws:cloudwatch:local:000000000000:alarm:rejuv-aging-h-1';

describe('Alarm delivery: only what the aging-alarm rule would deliver, now', () => {
  const CHANGED_AT = Date.parse('2026-11-25T10:00:00.985Z');
  /** The state changed at CHANGED_AT; EventBridge's time is that second, truncated, as in AWS's own example. */
  const event = (changedAtMs = CHANGED_AT) =>
    parse(agingAlarmEvent('h-1', new Date(changedAtMs).toISOString().replace('Z', '+0000')));
  const at = (nowMs: number) => new ManualClock(nowMs);
  const refusal = (e: ReturnType<typeof event>, nowMs: number, prefix = 'rejuv-aging-') => {
    try {
      refuseUndeliverableAlarm(e, { alarmNamePrefix: prefix }, at(nowMs));
    } catch (error) {
      if (error instanceof ValidationError) return error.message;
      throw error;
    }
    return undefined;
  };

  it('lets through a state change delivered at once, and one delivered as late as the rule still delivers', () => {
    expect(refusal(event(), CHANGED_AT + 1_000)).toBeUndefined();
    expect(refusal(event(), CHANGED_AT + ALARM_MAX_AGE_MS)).toBeUndefined();
    // The function's clock a little behind EventBridge's.
    expect(refusal(event(), CHANGED_AT - ALARM_CLOCK_SKEW_MS / 2)).toBeUndefined();
  });

  it('refuses an alarm whose name lacks the configured prefix, even when a dimension names the host', () => {
    expect(refusal(event(), CHANGED_AT, 'rejuv-other-')).toMatch(
      /detail\.alarmName: "rejuv-aging-h-1" does not start with "rejuv-other-"/,
    );
  });

  it.each(['OK', 'INSUFFICIENT_DATA'] as const)(
    'refuses a change into %s: the rule delivers only ALARM',
    (value) => {
      const e = event();
      e.detail.state.value = value;
      expect(refusal(e, CHANGED_AT)).toMatch(
        new RegExp(`detail\\.state\\.value: ${value}, but the rule delivers only changes into ALARM`),
      );
    },
  );

  it('refuses a state change older than EventBridge and Lambda still deliver', () => {
    expect(refusal(event(), CHANGED_AT + ALARM_MAX_AGE_MS + 1_000)).toMatch(
      new RegExp(`detail\\.state\\.timestamp: .* is older than ${ALARM_MAX_AGE_MS / 60_000} minutes`),
    );
  });

  it('refuses an event from the future', () => {
    expect(refusal(event(), CHANGED_AT - ALARM_CLOCK_SKEW_MS - 2_000)).toMatch(/time: .* is in the future/);
  });

  it("refuses a state change stamped after the event that announces it (beyond the event time's truncation and skew)", () => {
    const e = event();
    e.detail.state.timestamp = new Date(CHANGED_AT + ALARM_CLOCK_SKEW_MS + 1_000)
      .toISOString()
      .replace('Z', '+0000');
    expect(refusal(e, CHANGED_AT + ALARM_CLOCK_SKEW_MS + 1_000)).toMatch(
      /detail\.state\.timestamp: .* is after the event's own time/,
    );
  });

  it('reads offsets other than +0000 as the instants they are', () => {
    const e = event();
    e.detail.state.timestamp = '2026-11-25T11:00:00.500+0100';
    expect(refusal(e, CHANGED_AT)).toBeUndefined();
    e.detail.state.timestamp = '2026-11-25T10:00:00.500+0100'; // 09:00 UTC: an hour before its event, fine
    expect(refusal(e, CHANGED_AT)).toBeUndefined();
    e.detail.state.timestamp = '2026-11-25T10:00:00.500-0100'; // 11:00 UTC: an hour after its event
    expect(refusal(e, CHANGED_AT)).toMatch(/after the event's own time/);
  });

  it('names every reason at once', () => {
    const e = event();
    e.detail.state.value = 'OK';
    expect(refusal(e, CHANGED_AT + ALARM_MAX_AGE_MS + 1_000, 'x-')?.split('; ')).toHaveLength(3);
  });
});

describe('Operator requests', () => {
  const ok = { hostId: 'h-1', reason: 'patch window', principal: 'alice@example.com', requestId: 'r-1' };

  it('defaults the level and dry run', () => {
    expect(OperatorRequestSchema.parse(ok)).toEqual({
      ...ok,
      level: 'vmm-process',
      dryRun: false,
      allowSilentGuests: false,
    });
  });

  it.each([
    ['a shell metacharacter in the host', { hostId: 'h-1$(reboot)' }],
    ['an unknown level', { level: 'bios' }],
    ['a newline-only reason', { reason: '\n' }],
    ['a request id with a path', { requestId: '../x' }],
    ['a string dry run', { dryRun: 'yes' }],
    ['an extra field', { force: true }],
  ])('refuses %s', (_what, override) => {
    expect(OperatorRequestSchema.safeParse({ ...ok, ...override }).success).toBe(false);
  });
});
