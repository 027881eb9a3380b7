/** Plain reductions. */
import { off4, sq, sqHi, sqLo } from './common';

/**
 * Σ x_i² over n f32 values in lane order: four f64 sums s_l over i ≡ l (mod 4), each added in increasing
 * i, returned as (s_0 + s_1) + (s_2 + s_3). Lanes 0,1 live in `lo`, lanes 2,3 in `hi`. Each lane is one
 * sequential chain of f64 adds by definition, so this runs at one f64 add latency per 4 elements.
 */
export function sumsq_f32(x: usize, n: i32): f64 {
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const px = x + off4(i);
    const a = v128.load(px);
    const b = v128.load(px, 16);
    lo = f64x2.add(lo, sqLo(a));
    hi = f64x2.add(hi, sqHi(a));
    lo = f64x2.add(lo, sqLo(b));
    hi = f64x2.add(hi, sqHi(b));
  }
  if (i < n4) {
    const a = v128.load(x + off4(i));
    lo = f64x2.add(lo, sqLo(a));
    hi = f64x2.add(hi, sqHi(a));
    i += 4;
  }
  let s0 = f64x2.extract_lane(lo, 0);
  let s1 = f64x2.extract_lane(lo, 1);
  let s2 = f64x2.extract_lane(hi, 0);
  const s3 = f64x2.extract_lane(hi, 1);
  // Tail: at most three elements, in lanes 0, 1, 2.
  if (i < n) {
    s0 += sq(load<f32>(x + off4(i)));
    if (i + 1 < n) {
      s1 += sq(load<f32>(x + off4(i + 1)));
      if (i + 2 < n) s2 += sq(load<f32>(x + off4(i + 2)));
    }
  }
  return (s0 + s1) + (s2 + s3);
}
