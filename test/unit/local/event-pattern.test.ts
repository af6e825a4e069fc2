import { describe, expect, it } from 'vitest';
import { matchesEventPattern, UnsupportedEventPatternError } from '../../../local/event-pattern.js';

const alarmRule = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: { alarmName: [{ prefix: 'rejuv-aging-' }], state: { value: ['ALARM'] } },
};
const event = (alarmName: string, value: string) => ({
  source: 'aws.cloudwatch',
  'detail-type': 'CloudWatch Alarm State Change',
  resources: ['arn:aws:cloudwatch:local:000000000000:alarm:x'],
  detail: { alarmName, state: { value } },
});

describe('Local: matchesEventPattern', () => {
  it("matches the AlarmTrigger rule's prefix and state, and nothing outside them", () => {
    expect(matchesEventPattern(alarmRule, event('rejuv-aging-hv-1-memAvailable', 'ALARM'))).toBe(true);
    expect(matchesEventPattern(alarmRule, event('rejuv-aging-hv-1-memAvailable', 'OK'))).toBe(false);
    expect(matchesEventPattern(alarmRule, event('forged-rejuv-aging-hv-1', 'ALARM'))).toBe(false);
    expect(matchesEventPattern(alarmRule, { ...event('rejuv-aging-x', 'ALARM'), source: 'my.app' })).toBe(
      false,
    );
    // A field the pattern names but the event lacks never matches a value.
    expect(
      matchesEventPattern(alarmRule, {
        source: 'aws.cloudwatch',
        'detail-type': 'CloudWatch Alarm State Change',
      }),
    ).toBe(false);
  });

  it('matches arrays element-wise, and anything-but, suffix, exists', () => {
    expect(matchesEventPattern({ resources: [{ suffix: ':x' }] }, event('a', 'OK'))).toBe(true);
    expect(
      matchesEventPattern(
        { detail: { state: { value: [{ 'anything-but': ['OK', 'INSUFFICIENT_DATA'] }] } } },
        event('a', 'ALARM'),
      ),
    ).toBe(true);
    expect(
      matchesEventPattern(
        { detail: { state: { value: [{ 'anything-but': { prefix: 'AL' } }] } } },
        event('a', 'ALARM'),
      ),
    ).toBe(false);
    expect(matchesEventPattern({ detail: { previousState: [{ exists: false }] } }, event('a', 'ALARM'))).toBe(
      true,
    );
    expect(matchesEventPattern({ detail: { alarmName: [{ exists: true }] } }, event('a', 'ALARM'))).toBe(
      true,
    );
  });

  it('refuses operators it does not emulate rather than guessing', () => {
    expect(() =>
      matchesEventPattern({ detail: { n: [{ numeric: ['>', 1] }] } }, { detail: { n: 2 } }),
    ).toThrow(UnsupportedEventPatternError);
    expect(() => matchesEventPattern({ $or: [] }, {})).toThrow(UnsupportedEventPatternError);
  });
});
