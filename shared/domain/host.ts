/** The host record: the source of truth for where a host stands in its lifecycle. */
import { z } from 'zod';
import { HOST_STATES } from './host-state.js';
import {
  AvailabilityZoneSchema,
  ExecutionIdSchema,
  HostIdSchema,
  InstanceIdSchema,
  PoolIdSchema,
  ReasonSchema,
  TagsSchema,
} from './identifiers.js';

export const HostStateSchema = z.enum(HOST_STATES);

export const HostRegistrationSchema = z
  .object({
    hostId: HostIdSchema,
    pool: PoolIdSchema,
    availabilityZone: AvailabilityZoneSchema,
    instanceId: InstanceIdSchema,
    hypervisorVersion: z.string().max(128).optional(),
    tags: TagsSchema.default({}),
  })
  .strict();

export type HostRegistration = z.input<typeof HostRegistrationSchema>;

const IsoTimestampSchema = z.iso.datetime();

/**
 * Set by the host sync (host-sync-plan.ts) when SSM reports the host's instance offline or no longer
 * tagged as managed: the registry keeps the host, marked. Cleared when it is back.
 */
export const HostUnavailabilitySchema = z
  .object({ reason: z.enum(['offline', 'not-managed']), since: IsoTimestampSchema })
  .strict();

export type HostUnavailability = z.output<typeof HostUnavailabilitySchema>;

export const HostSchema = z
  .object({
    hostId: HostIdSchema,
    pool: PoolIdSchema,
    availabilityZone: AvailabilityZoneSchema,
    instanceId: InstanceIdSchema,
    state: HostStateSchema,
    stateVersion: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    executionId: ExecutionIdSchema.optional(),
    /** True while no new placement may land on the host (set by drain, cleared by undrain). */
    cordoned: z.boolean(),
    hypervisorVersion: z.string().max(128).optional(),
    bootId: z.string().max(128).optional(),
    quarantineReason: ReasonSchema.optional(),
    unavailable: HostUnavailabilitySchema.optional(),
    tags: TagsSchema,
    lastTransition: z
      .object({
        from: HostStateSchema,
        to: HostStateSchema,
        executionId: ExecutionIdSchema,
        at: IsoTimestampSchema,
      })
      .strict()
      .optional(),
    /**
     * When its last rejuvenation ended (its move back to IN_SERVICE): the policy gate's cooldown counts
     * from here. Set by Release; absent for a host never rejuvenated.
     */
    lastRejuvenatedAt: IsoTimestampSchema.optional(),
    createdAt: IsoTimestampSchema,
    updatedAt: IsoTimestampSchema,
  })
  .strict();

export type Host = z.output<typeof HostSchema>;

export const TransitionRequestSchema = z
  .object({
    hostId: HostIdSchema,
    from: HostStateSchema,
    to: HostStateSchema,
    expectedVersion: z.number().int().nonnegative(),
    executionId: ExecutionIdSchema,
    /** Required when entering QUARANTINED: a person must be told why. */
    reason: ReasonSchema.optional(),
  })
  .strict()
  .refine((r) => r.to !== 'QUARANTINED' || r.reason !== undefined, {
    message: 'a reason is required to quarantine a host',
    path: ['reason'],
  });

export type TransitionRequest = z.input<typeof TransitionRequestSchema>;
