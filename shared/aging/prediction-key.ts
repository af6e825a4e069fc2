/**
 * The dedupe key of a predictive rejuvenation: one per host per window, whatever resource fired and
 * however often the scheduled evaluation runs inside the window, so a host is not started twice for one
 * prediction. Deterministic in (host, time, window) alone: two evaluations racing compute the same key.
 */

export function predictionDedupeKey(hostId: string, evaluatedAt: number, dedupeWindowMs: number): string {
  if (!(Number.isInteger(dedupeWindowMs) && dedupeWindowMs > 0))
    throw new RangeError(`dedupe window must be a positive whole number of ms, got ${dedupeWindowMs}`);
  const windowStart = Math.floor(evaluatedAt / dedupeWindowMs) * dedupeWindowMs;
  return `prediction#${hostId}#${new Date(windowStart).toISOString()}`;
}
