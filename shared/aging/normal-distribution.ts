/**
 * The standard normal distribution, which the Mann-Kendall statistic and the rank-based interval of Sen's
 * slope follow asymptotically. Written here rather than imported: the stack has no statistics library, and
 * these two functions are all the trigger needs.
 */

/**
 * The complementary error function by the Chebyshev fit of Numerical Recipes (2nd ed., §6.2, `erfcc`):
 * fractional error below 1.2e-7 everywhere, tails included, which is far finer than any p-value a trigger
 * compares with a significance level.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z ≤ z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** P(Z > z), computed directly so that small upper tails keep their precision. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * The quantile function Φ⁻¹(p), by P. J. Acklam's rational approximation (relative error below 1.15e-9).
 * No refinement step against `normalCdf`: its 1.2e-7 would make the result worse, not better.
 */
export function normalQuantile(p: number): number {
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  if (!(p > 0 && p < 1)) return Number.NaN;
  if (p < ACKLAM_LOW) return acklamTail(p);
  if (p > 1 - ACKLAM_LOW) return -acklamTail(1 - p);
  const [a0, a1, a2, a3, a4, a5] = ACKLAM_A;
  const [b0, b1, b2, b3, b4] = ACKLAM_B;
  const q = p - 0.5;
  const r = q * q;
  const numerator = (((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q;
  const denominator = ((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1;
  return numerator / denominator;
}

const ACKLAM_LOW = 0.02425;
const ACKLAM_A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
] as const;
const ACKLAM_B = [
  -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
] as const;
const ACKLAM_C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
] as const;
const ACKLAM_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

/** Φ⁻¹(p) for p in the lower tail (p < 0.02425). */
function acklamTail(p: number): number {
  const [c0, c1, c2, c3, c4, c5] = ACKLAM_C;
  const [d0, d1, d2, d3] = ACKLAM_D;
  const q = Math.sqrt(-2 * Math.log(p));
  return (
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  );
}
