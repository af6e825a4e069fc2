/** A policy refusal crosses the Lambda boundary as a message: what Refuse reads back must be what Admit meant. */
import { describe, expect, it } from 'vitest';
import { parsePolicyRefusal, PolicyRefusedError } from '../../../shared/policy/policy-errors.js';

describe('Class: PolicyRefusedError', () => {
  it('reads back the rule, the instant and a reason that itself holds colons and parentheses', () => {
    const detail = {
      rule: 'blackout' as const,
      reason:
        'pool web is blacked out from 2026-12-24T00:00:00.000Z to 2026-12-27T00:00:00.000Z (starts stop 30 min before): freeze',
      untilMs: Date.parse('2026-12-27T00:00:00.000Z'),
    };
    const error = new PolicyRefusedError('host-1', detail);
    expect(error.message).toBe(
      `policy refused (rule blackout, not before 2026-12-27T00:00:00.000Z): ${detail.reason}`,
    );
    expect(parsePolicyRefusal(error.message)).toEqual(detail);
  });

  it('reads back a deny, which names no instant', () => {
    const error = new PolicyRefusedError('host-1', { rule: 'blocker', reason: 'blocked by web-5xx' });
    expect(parsePolicyRefusal(error.message)).toEqual({ rule: 'blocker', reason: 'blocked by web-5xx' });
  });

  it('is not fooled by another message, an unknown rule or a bad instant', () => {
    expect(parsePolicyRefusal('pool web already has 1 host(s) in maintenance')).toBeUndefined();
    expect(parsePolicyRefusal('policy refused (rule moon): r')).toBeUndefined();
    expect(parsePolicyRefusal('policy refused (rule window, not before tomorrow): r')).toBeUndefined();
  });
});
