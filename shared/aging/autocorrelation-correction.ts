/**
 * The correction of the Mann-Kendall variance for autocorrelation, by Hamed & Rao's effective sample size:
 * K. H. Hamed and A. R. Rao (1998), "A modified Mann-Kendall trend test for autocorrelated data",
 * Journal of Hydrology 204(1–4), 182–196.
 *
 * Why this and not pre-whitening (von Storch 1995) or trend-free pre-whitening (S. Yue, P. Pilon,
 * B. Phinney and G. Cavadias (2002), "The influence of autocorrelation on the ability to detect trend in
 * hydrological series", Hydrological Processes 16(9), 1807–1829): both remove a lag-1 AR(1) component
 * and assume that is all the dependence there is. A host's aging metrics have more: a daily cycle
 * (backups, log rotation, tenants' working hours) correlates points a day apart, and a VM starting or
 * stopping shifts the level for the rest of the window, which looks like correlation at every lag. Hamed
 * and Rao's correction uses every lag whose autocorrelation is significant, so the daily cycle and the
 * steps widen the variance instead of passing for a trend. It also leaves the series and so Sen's slope
 * alone, where pre-whitening changes the slope being estimated.
 */
import { normalQuantile } from './normal-distribution.js';

/**
 * n/n*: the factor by which autocorrelation inflates Var(S). The series is detrended with the slope
 * given (Sen's, on the same times), its residuals are ranked, and
 * n/n* = 1 + 2/(n(n−1)(n−2)) · Σ_k (n−k)(n−k−1)(n−k−2) ρ_k over the lags k whose rank autocorrelation
 * ρ_k lies outside ±z_{1−lagAlpha/2}/√n (Hamed & Rao, eq. 18; the lag filter as in their §3).
 *
 * Clamped at 1: negative autocorrelation would shrink the variance and make the trigger more eager than
 * the plain test, and in aging metrics it is sampling noise more often than physics. The series' points
 * are taken as evenly spaced; a gap makes the lags approximate, which the minimum point count bounds.
 */
export function hamedRaoInflation(
  times: readonly number[],
  values: readonly number[],
  slope: number,
  lagAlpha = 0.05,
): number {
  const n = values.length;
  if (n < 3) return 1;
  const residuals = values.map((v, i) => v - slope * (times[i] as number));
  const ranks = averageRanks(residuals);
  const mean = (n + 1) / 2;
  const centred = ranks.map((r) => r - mean);
  let denominator = 0;
  for (const c of centred) denominator += c * c;
  if (denominator === 0) return 1;
  const bound = normalQuantile(1 - lagAlpha / 2) / Math.sqrt(n);
  let sum = 0;
  for (let k = 1; k < n - 2; k++) {
    let numerator = 0;
    for (let i = 0; i < n - k; i++) numerator += (centred[i] as number) * (centred[i + k] as number);
    const rho = numerator / denominator;
    if (Math.abs(rho) > bound) sum += (n - k) * (n - k - 1) * (n - k - 2) * rho;
  }
  return Math.max(1, 1 + (2 / (n * (n - 1) * (n - 2))) * sum);
}

/** Ranks 1..n, ties given the mean of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]?.v === order[start]?.v) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[(order[k] as { i: number }).i] = rank;
    start = end + 1;
  }
  return ranks;
}
