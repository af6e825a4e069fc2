import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/domain/errors.js';
import { parseWith } from '../../../shared/domain/validation.js';
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
  ])('refuses an event from %s', (_what, override) => {
    expect(() => parse({ ...agingAlarmEvent('h-1', '2026-11-25T01:00:00.000+0000'), ...override })).toThrow(
      ValidationError,
    );
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
