import { describe, expect, it } from 'vitest';
import { AuditEventSchema } from '../../../shared/domain/audit-record.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import { HostRegistrationSchema, TransitionRequestSchema } from '../../../shared/domain/host.js';
import { alarmIdempotencyKey, IdempotencyKeySchema } from '../../../shared/domain/idempotency-key.js';
import { MAX_REASON_LENGTH, ReasonSchema } from '../../../shared/domain/identifiers.js';
import { parseWith } from '../../../shared/domain/validation.js';

const registration = {
  hostId: 'h-1',
  pool: 'web',
  availabilityZone: 'eu-west-1a',
  instanceId: 'mi-0123456789abcdef0',
};

describe('Schemas at the boundaries', () => {
  it('accepts a well-formed registration', () => {
    expect(HostRegistrationSchema.parse(registration)).toEqual({ ...registration, tags: {} });
  });

  it.each([
    ['an empty host id', { hostId: '' }, 'hostId'],
    ['a host id with a shell metacharacter', { hostId: 'h1;rm -rf /' }, 'hostId'],
    ['a path in the pool', { pool: '../etc' }, 'pool'],
    ['a malformed instance id', { instanceId: 'i-XYZ' }, 'instanceId'],
    ['a number for a string', { hostId: 17 }, 'hostId'],
    ['an unknown field', { colour: 'red' }, '(root)'],
  ])('refuses a registration with %s, naming the field', (_what, override, field) => {
    expect(() =>
      parseWith(HostRegistrationSchema, 'host registration', { ...registration, ...override }),
    ).toThrow(expect.objectContaining({ name: 'ValidationError', message: expect.stringContaining(field) }));
  });

  it('refuses an unknown state and a quarantine without a reason', () => {
    const base = { hostId: 'h-1', from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'x1' };
    expect(TransitionRequestSchema.safeParse(base).success).toBe(true);
    expect(() => parseWith(TransitionRequestSchema, 'transition', { ...base, to: 'REBOOTING' })).toThrow(
      ValidationError,
    );
    expect(() =>
      parseWith(TransitionRequestSchema, 'transition', { ...base, from: 'ADMITTED', to: 'QUARANTINED' }),
    ).toThrow(/a reason is required to quarantine a host/);
    expect(() => parseWith(TransitionRequestSchema, 'transition', { ...base, expectedVersion: -1 })).toThrow(
      /expectedVersion/,
    );
  });

  it('bounds reasons and refuses control characters', () => {
    expect(ReasonSchema.parse('  memory leak in qemu  ')).toBe('memory leak in qemu');
    expect(ReasonSchema.safeParse('x'.repeat(MAX_REASON_LENGTH + 1)).success).toBe(false);
    expect(ReasonSchema.safeParse('   ').success).toBe(false);
    expect(ReasonSchema.safeParse('line1\u0007bell').success).toBe(false);
    expect(ReasonSchema.safeParse('line1\nline2\ttabbed').success).toBe(true);
  });

  it('refuses audit events with unknown outcomes or foreign fields', () => {
    const event = {
      eventId: 'e1',
      at: '2026-01-01T00:00:00.000Z',
      principal: 'ops',
      trigger: 'alarm',
      step: 'Admit',
      outcome: 'succeeded',
    };
    expect(AuditEventSchema.safeParse(event).success).toBe(true);
    expect(AuditEventSchema.safeParse({ ...event, outcome: 'maybe' }).success).toBe(false);
    expect(AuditEventSchema.safeParse({ ...event, hash: 'f'.repeat(64) }).success).toBe(false);
    expect(AuditEventSchema.safeParse({ ...event, at: 'yesterday' }).success).toBe(false);
  });

  it('derives one idempotency key per alarm state change, whatever its name holds', () => {
    const key = alarmIdempotencyKey('host h1 / "aging" $(reboot)', '2026-11-25T01:00:00.000+0000');
    expect(IdempotencyKeySchema.safeParse(key).success).toBe(true);
    expect(key).toBe(alarmIdempotencyKey('host h1 / "aging" $(reboot)', '2026-11-25T01:00:00.000+0000'));
    expect(key).not.toBe(alarmIdempotencyKey('host h1 / "aging" $(reboot)', '2026-11-25T01:05:00.000+0000'));
  });
});
