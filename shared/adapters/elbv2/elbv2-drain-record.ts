/**
 * The record of where a drained host was registered, kept as a tag on each target group it was taken out
 * of: key `rejuv:drained:<target id>`, value the ports it was registered on (`80 8443`). Once a
 * deregistration finishes the load balancer forgets the target, so without a record undrain could not tell
 * "was here before the drain" from "never was". The tag lives with the target group, so any Lambda
 * container, hours later, reads the same answer; operators see it in the console; undrain removes it.
 *
 * Limits: 50 tags per target group, so at most 50 hosts (fewer if the group has tags of its own) can be
 * drained out of one group at once; AddTags beyond that fails with TooManyTags before anything is
 * deregistered.
 */
import { z } from 'zod';
import { CorruptItemError } from '../../domain/errors.js';
import { describeIssues } from '../../domain/validation.js';

export const DRAIN_RECORD_TAG_PREFIX = 'rejuv:drained:';

/** A port a target is registered on, or `default` for a registration that named none (the group's port). */
export type RegisteredPort = number | 'default';

/**
 * What a target id may be here: it must fit a tag key (128 characters with the prefix) in ELB's tag
 * alphabet. Instance ids and IPv4/IPv6 addresses do.
 */
export const TargetIdSchema = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9._:-]{1,${128 - DRAIN_RECORD_TAG_PREFIX.length}}$`),
    `target id: 1-${128 - DRAIN_RECORD_TAG_PREFIX.length} of A-Z a-z 0-9 . _ : -`,
  );

const PortsValueSchema = z
  .string()
  .regex(/^(\d{1,5}|default)( (\d{1,5}|default))*$/, 'space-separated ports')
  .transform((value) => value.split(' ').map((token) => (token === 'default' ? 'default' : Number(token))))
  .refine((ports) => ports.every((p) => p === 'default' || (p >= 1 && p <= 65535)), 'ports are 1-65535');

export function drainRecordTagKey(targetId: string): string {
  return `${DRAIN_RECORD_TAG_PREFIX}${targetId}`;
}

export function encodePorts(ports: Iterable<RegisteredPort>): string {
  return sortedUnique(ports).map(String).join(' ');
}

/** @throws CorruptItemError when the tag was edited into something that is not a list of ports */
export function decodePorts(targetGroupArn: string, targetId: string, value: string): RegisteredPort[] {
  const result = PortsValueSchema.safeParse(value);
  if (!result.success) {
    throw new CorruptItemError(targetGroupArn, drainRecordTagKey(targetId), describeIssues(result.error));
  }
  return result.data;
}

export function sortedUnique(ports: Iterable<RegisteredPort>): RegisteredPort[] {
  const order = (p: RegisteredPort): number => (p === 'default' ? 0 : p);
  return [...new Set(ports)].sort((a, b) => order(a) - order(b));
}
