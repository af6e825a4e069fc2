/**
 * Schemas for the identifiers and free-text fields that cross every boundary. Patterns are deliberately
 * narrow: these values end up in DynamoDB keys, Step Functions execution names and SSM parameters.
 */
import { z } from 'zod';

export const HostIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    'host id: 1-63 chars of A-Z a-z 0-9 . _ -, starting alphanumeric',
  );

export const PoolIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    'pool id: 1-63 chars of A-Z a-z 0-9 . _ -, starting alphanumeric',
  );

export const AvailabilityZoneSchema = z
  .string()
  .regex(/^[a-z0-9-]{1,32}$/, 'availability zone: 1-32 chars of a-z 0-9 -');

/** SSM managed instance ids: EC2 (i-…) or hybrid/on-premises (mi-…). */
export const InstanceIdSchema = z
  .string()
  .regex(/^(i|mi)-[0-9a-f]{8,17}$/, 'instance id: i-… or mi-… followed by 8-17 hex digits');

/** Step Functions execution names are at most 80 characters of this alphabet. */
export const ExecutionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/, 'execution id: 1-80 chars of A-Z a-z 0-9 _ -');

/** Who holds a lease: an execution id, or a CLI/operator session. */
export const LeaseOwnerSchema = z
  .string()
  .regex(/^[A-Za-z0-9:._@/-]{1,128}$/, 'lease owner: 1-128 chars of A-Z a-z 0-9 : . _ @ / -');

export const MAX_PRINCIPAL_LENGTH = 256;

/** An IAM principal ARN, a local user, or a service name. */
export const PrincipalSchema = z
  .string()
  .regex(/^[A-Za-z0-9:._@/+=,-]{1,256}$/, 'principal: 1-256 chars of A-Z a-z 0-9 : . _ @ / + = , -');

export const MAX_REASON_LENGTH = 1024;

/** Free text from a person; printable, bounded, never empty. */
export const ReasonSchema = z
  .string()
  .trim()
  .min(1, 'reason must not be empty')
  .max(MAX_REASON_LENGTH, `reason must be at most ${MAX_REASON_LENGTH} characters`)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), 'reason must not contain control characters');

export const TagsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9:._/=+@-]{1,128}$/, 'tag key: 1-128 chars of A-Z a-z 0-9 : . _ / = + @ -'),
    z.string().max(256, 'tag value: at most 256 characters'),
  )
  .refine((tags) => Object.keys(tags).length <= 50, 'at most 50 tags');
