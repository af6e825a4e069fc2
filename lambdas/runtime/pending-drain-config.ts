/** The pending drainer's own setting, written by the construct (`pendingRequests.maxAge`). */
import { z } from 'zod';

export const PENDING_MAX_AGE_ENV = 'REJUV_PENDING_MAX_AGE_SECONDS';

export const PendingDrainEnvSchema = z.object({
  [PENDING_MAX_AGE_ENV]: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 24 * 3600),
});
