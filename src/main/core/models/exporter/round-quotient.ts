/**
 * Math.round(numerator / denominator) for float32 operands, several times faster in V8's optimised loops.
 *
 * floor(x + 0.5) equals Math.round(x) (halves toward +∞) whenever x + 0.5 is exact, that is for |x| ≥ 0.5 up to
 * 2^52, and for |x| < 0.5 unless x lies within 2^-54 below 0.5 (0.49999999999999994 would round up). A quotient of
 * two float32 values is either exactly 0.5 or at least about 2^-25 away from it, so the forms never differ: the
 * quantizers stay bit-exact.
 */
export function roundQuotient(numerator: number, denominator: number): number {
  return Math.floor(numerator / denominator + 0.5)
}
