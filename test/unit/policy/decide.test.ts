/** The policy gate: windows across daylight-saving changes, blackouts, cooldown, approval, blockers, break-glass. */
import { describe, expect, it } from 'vitest';
import { decide, type PolicyFacts } from '../../../shared/policy/decide.js';
import { parsePolicyConfig, policyForPool } from '../../../shared/policy/policy-config.js';

const at = (iso: string) => Date.parse(iso);
const host = { hostId: 'h-1', pool: 'web' };
const noFacts: PolicyFacts = { alarmsInAlarm: [], approved: false };
const ONCALL = 'arn:aws:iam::123456789012:role/OnCall';

function pool(policy: Record<string, unknown>, breakGlassPrincipals: string[] = []) {
  return policyForPool(parsePolicyConfig({ pools: { web: policy }, breakGlassPrincipals }), 'web');
}

const sundayNightBerlin = {
  windows: [{ days: ['sun'], start: '01:00', end: '05:00', timeZone: 'Europe/Berlin' }],
};

describe('Function: decide', () => {
  describe('windows across daylight-saving changes (Europe/Berlin, 2026)', () => {
    it('spring forward (29 March): the 01:00-05:00 window is 3 real hours, 00:00Z to 03:00Z', () => {
      const web = pool(sundayNightBerlin);
      expect(decide(host, web, at('2026-03-28T23:59:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        rule: 'window',
        untilMs: at('2026-03-29T00:00:00Z'),
      });
      expect(decide(host, web, at('2026-03-29T00:00:00Z'), noFacts).verdict).toBe('allow');
      expect(decide(host, web, at('2026-03-29T02:59:00Z'), noFacts).verdict).toBe('allow');
      // 05:00 CEST: closed; the next opening is 01:00 CEST a week later.
      expect(decide(host, web, at('2026-03-29T03:00:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        rule: 'window',
        untilMs: at('2026-04-04T23:00:00Z'),
      });
    });

    it('fall back (25 October): the same window is 5 real hours, 23:00Z to 04:00Z', () => {
      const web = pool(sundayNightBerlin);
      expect(decide(host, web, at('2026-10-24T22:59:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        untilMs: at('2026-10-24T23:00:00Z'),
      });
      // 04:30 CET: inside; in summer time the same instant would be 05:30, outside.
      expect(decide(host, web, at('2026-10-25T03:30:00Z'), noFacts).verdict).toBe('allow');
      expect(decide(host, web, at('2026-10-25T04:00:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        untilMs: at('2026-11-01T00:00:00Z'),
      });
    });

    it('a window starting in the skipped hour opens when the clocks reach it (02:30 becomes 03:30 CEST)', () => {
      const web = pool({
        windows: [{ days: ['sun'], start: '02:30', end: '04:00', timeZone: 'Europe/Berlin' }],
      });
      expect(decide(host, web, at('2026-03-29T01:00:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        untilMs: at('2026-03-29T01:30:00Z'),
      });
      expect(decide(host, web, at('2026-03-29T01:45:00Z'), noFacts).verdict).toBe('allow');
    });

    it('a window across midnight on the US spring-forward night (New York, 8 March) lasts 7 real hours', () => {
      const web = pool({
        windows: [{ days: ['sat'], start: '22:00', end: '06:00', timeZone: 'America/New_York' }],
      });
      expect(decide(host, web, at('2026-03-08T02:59:00Z'), noFacts).verdict).toBe('wait-until');
      expect(decide(host, web, at('2026-03-08T03:00:00Z'), noFacts).verdict).toBe('allow'); // 22:00 EST
      expect(decide(host, web, at('2026-03-08T09:59:00Z'), noFacts).verdict).toBe('allow'); // 05:59 EDT
      expect(decide(host, web, at('2026-03-08T10:00:00Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        untilMs: at('2026-03-15T02:00:00Z'), // 22:00 EDT next Saturday
      });
    });

    it('leaves the start margin: no start with less than 15 minutes of the window left', () => {
      const web = pool({ ...sundayNightBerlin, startMarginMinutes: 15 });
      expect(decide(host, web, at('2026-10-25T03:45:00Z'), noFacts).verdict).toBe('allow');
      expect(decide(host, web, at('2026-10-25T03:45:01Z'), noFacts)).toMatchObject({
        verdict: 'wait-until',
        rule: 'window',
      });
    });
  });

  it('waits out a blackout inside a window, and a margin before it', () => {
    const web = pool({
      windows: [{ days: ['mon'], start: '00:00', end: '12:00', timeZone: 'UTC' }],
      blackouts: [{ start: '2026-06-01T04:00:00Z', end: '2026-06-01T06:00:00Z', reason: 'launch' }],
      startMarginMinutes: 10,
    });
    expect(decide(host, web, at('2026-06-01T03:49:00Z'), noFacts).verdict).toBe('allow');
    const refused = decide(host, web, at('2026-06-01T03:51:00Z'), noFacts);
    expect(refused).toMatchObject({
      verdict: 'wait-until',
      rule: 'blackout',
      untilMs: at('2026-06-01T06:00:00Z'),
    });
    expect(refused.verdict === 'wait-until' && refused.reason).toContain('launch');
  });

  it('waits for the cooldown, then for the next window after it', () => {
    const web = pool({ ...sundayNightBerlin, cooldownMinutes: 24 * 60 });
    const recent = { ...host, lastRejuvenatedAtMs: at('2026-10-24T12:00:00Z') };
    expect(decide(recent, web, at('2026-10-25T00:00:00Z'), noFacts)).toMatchObject({
      verdict: 'wait-until',
      rule: 'cooldown',
      untilMs: at('2026-11-01T00:00:00Z'),
    });
  });

  it('denies a pool that requires approval until one is recorded', () => {
    const web = pool({ requiresApproval: true });
    expect(decide(host, web, 0, noFacts)).toMatchObject({ verdict: 'deny', rule: 'approval' });
    expect(decide(host, web, 0, { ...noFacts, approved: true }).verdict).toBe('allow');
  });

  it('denies while a blocker alarm matching the pool is in ALARM, naming it', () => {
    const web = pool({ blockerAlarmPatterns: ['web-*-5xx', 'region-?-down'] });
    const decision = decide(host, web, 0, { ...noFacts, alarmsInAlarm: ['db-latency', 'web-eu-5xx'] });
    expect(decision).toMatchObject({ verdict: 'deny', rule: 'blocker' });
    expect(decision.verdict === 'deny' && decision.reason).toContain('web-eu-5xx');
    expect(decide(host, web, 0, { ...noFacts, alarmsInAlarm: ['web-eu-latency'] }).verdict).toBe('allow');
  });

  describe('break-glass', () => {
    const outside = at('2026-10-21T12:00:00Z'); // a Wednesday: outside the Sunday window
    const guarded = {
      ...sundayNightBerlin,
      blockerAlarmPatterns: ['web-*'],
      cooldownMinutes: 60,
      blackouts: [{ start: '2026-12-24T00:00:00Z', end: '2026-12-27T00:00:00Z' }],
    };
    const facts = { ...noFacts, alarmsInAlarm: ['web-5xx'] };

    it('lets a named principal with a reason bypass the window and the blockers, and says so', () => {
      const web = pool(guarded, [ONCALL]);
      expect(
        decide(host, web, outside, {
          ...facts,
          breakGlass: { principal: ONCALL, reason: 'INC-7: kernel leak' },
        }),
      ).toEqual({
        hostId: 'h-1',
        pool: 'web',
        atMs: outside,
        verdict: 'allow',
        breakGlass: { principal: ONCALL, reason: 'INC-7: kernel leak', bypassed: ['window', 'blocker'] },
      });
    });

    it('does not bypass the cooldown or a blackout', () => {
      const web = pool(guarded, [ONCALL]);
      const breakGlass = { principal: ONCALL, reason: 'INC-7' };
      const recent = { ...host, lastRejuvenatedAtMs: outside - 10 * 60_000 };
      expect(decide(recent, web, outside, { ...facts, breakGlass })).toMatchObject({
        verdict: 'wait-until',
        rule: 'cooldown',
        untilMs: outside + 50 * 60_000,
      });
      expect(decide(host, web, at('2026-12-25T00:00:00Z'), { ...facts, breakGlass })).toMatchObject({
        verdict: 'wait-until',
        rule: 'blackout',
        untilMs: at('2026-12-27T00:00:00Z'),
      });
    });

    it('refuses a principal the policy does not name, naming the rule', () => {
      const web = pool(guarded, [ONCALL]);
      const other = 'arn:aws:iam::123456789012:user/mallory';
      const decision = decide(host, web, outside, {
        ...facts,
        breakGlass: { principal: other, reason: 'urgent' },
      });
      expect(decision).toMatchObject({ verdict: 'deny', rule: 'break-glass' });
      expect(decision.verdict === 'deny' && decision.reason).toContain(other);
    });

    it('refuses break-glass without a reason', () => {
      const web = pool(guarded, [ONCALL]);
      expect(
        decide(host, web, outside, { ...facts, breakGlass: { principal: ONCALL, reason: '  ' } }),
      ).toMatchObject({
        verdict: 'deny',
        rule: 'break-glass',
        reason: 'break-glass requires a reason',
      });
    });
  });
});

describe('Function: parsePolicyConfig', () => {
  it('names every bad field', () => {
    expect(() =>
      parsePolicyConfig({
        pools: {
          web: { windows: [{ days: ['sun'], start: '25:00', end: '05:00', timeZone: 'Mars/Olympus' }] },
        },
        breakGlassPrincipals: ['alice'],
      }),
    ).toThrow(/pools\.web\.windows\.0\.start.*pools\.web\.windows\.0\.timeZone.*breakGlassPrincipals\.0/s);
  });

  it('refuses a blackout that ends before it starts', () => {
    expect(() =>
      parsePolicyConfig({
        pools: { web: { blackouts: [{ start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }] } },
      }),
    ).toThrow(/pools\.web\.blackouts\.0\.end: end must be after start/);
  });
});
