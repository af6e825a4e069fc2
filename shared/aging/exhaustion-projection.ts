/**
 * When a resource runs out if it keeps trending as it has: the straight-line projection of its level to
 * its limit. The trigger projects with the conservative bound of the slope (the steeper end of its
 * confidence interval), so uncertainty brings the predicted exhaustion earlier, never later.
 */
import type { ResourceTraits } from './aging-resources.js';

export interface ProjectionInput {
  readonly exhaustsWhen: ResourceTraits['exhaustsWhen'];
  readonly limit: number;
  /** The resource's level at `at` (the fitted line's value, not a noisy last point). */
  readonly level: number;
  /** Units per millisecond. */
  readonly slope: number;
  /** Epoch ms. */
  readonly at: number;
}

/** Epoch ms of the projected exhaustion; `at` if already past the limit; undefined if it moves away. */
export function projectExhaustion(input: ProjectionInput): number | undefined {
  const { exhaustsWhen, limit, level, slope, at } = input;
  const headroom = exhaustsWhen === 'falling' ? level - limit : limit - level;
  if (headroom <= 0) return at;
  const towardLimit = exhaustsWhen === 'falling' ? -slope : slope;
  if (!(towardLimit > 0)) return undefined;
  return at + headroom / towardLimit;
}
