/** Reductions and scalings: see src/kernels/reduce.ts for the contract; bit-identical to the ref. */
import { isOn, Off, off4, off8, On } from './common';

// Term markers for `lanes`: which f64 value each element contributes.
type SQ = u8; // x²
type PLAIN = u16; // x
type DEV = u32; // (x − μ)²
type DOT = u64; // x·y

// @ts-ignore: decorator
@inline function term<T>(x: f64, y: f64, mu: f64): f64 {
  if (sizeof<T>() == 1) return x * x;
  if (sizeof<T>() == 2) return x;
  if (sizeof<T>() == 4) return (x - mu) * (x - mu);
  return x * y;
}

// @ts-ignore: decorator
@inline function termV<T>(x: v128, y: v128, mu: v128): v128 {
  if (sizeof<T>() == 1) return f64x2.mul(x, x);
  if (sizeof<T>() == 2) return x;
  if (sizeof<T>() == 4) {
    const d = f64x2.sub(x, mu);
    return f64x2.mul(d, d);
  }
  return f64x2.mul(x, y);
}

// @ts-ignore: decorator
@inline function promoteHi(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3));
}

/**
 * Σ term(x_i[, y_i]) in lane order: four f64 sums s_l over i ≡ l (mod 4) in increasing i (lanes 0,1 in
 * `lo`, 2,3 in `hi`), tail elements into lanes 0..2, returned as (s0 + s1) + (s2 + s3).
 */
// @ts-ignore: decorator
@inline export function lanes<T>(x: usize, y: usize, n: i32, mu: f64): f64 {
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  const muV = f64x2.splat(mu);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const a = v128.load(x + off4(i));
    const b = sizeof<T>() == 8 ? v128.load(y + off4(i)) : a;
    lo = f64x2.add(lo, termV<T>(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b), muV));
    hi = f64x2.add(hi, termV<T>(promoteHi(a), promoteHi(b), muV));
  }
  let s0 = f64x2.extract_lane(lo, 0);
  let s1 = f64x2.extract_lane(lo, 1);
  let s2 = f64x2.extract_lane(hi, 0);
  const s3 = f64x2.extract_lane(hi, 1);
  if (i < n) {
    s0 += term<T>(<f64>load<f32>(x + off4(i)), sizeof<T>() == 8 ? <f64>load<f32>(y + off4(i)) : 0, mu);
    if (i + 1 < n) {
      s1 += term<T>(<f64>load<f32>(x + off4(i + 1)), sizeof<T>() == 8 ? <f64>load<f32>(y + off4(i + 1)) : 0, mu);
      if (i + 2 < n) s2 += term<T>(<f64>load<f32>(x + off4(i + 2)), sizeof<T>() == 8 ? <f64>load<f32>(y + off4(i + 2)) : 0, mu);
    }
  }
  return (s0 + s1) + (s2 + s3);
}

export function row_sumsq_f32(out: usize, a: usize, m: i32, n: i32, lda: i32): void {
  for (let i = 0; i < m; i++) store<f32>(out + off4(i), <f32>lanes<SQ>(a + off4(i * lda), 0, n, 0));
}

export function col_sumsq_f32(out: usize, acc: usize, a: usize, m: i32, n: i32, lda: i32): void {
  const n2 = n & ~1;
  for (let j = 0; j < n; j++) store<f64>(acc + off8(j), 0);
  for (let i = 0; i < m; i++) {
    const row = a + off4(i * lda);
    let j = 0;
    for (; j < n2; j += 2) {
      const x = f64x2.promote_low_f32x4(v128.load64_zero(row + off4(j)));
      const pa = acc + off8(j);
      v128.store(pa, f64x2.add(v128.load(pa), f64x2.mul(x, x)));
    }
    if (j < n) {
      const x = <f64>load<f32>(row + off4(j));
      store<f64>(acc + off8(j), load<f64>(acc + off8(j)) + x * x);
    }
  }
  for (let j = 0; j < n; j++) store<f32>(out + off4(j), <f32>load<f64>(acc + off8(j)));
}

export function row_mean_std_f32(mean: usize, std: usize, a: usize, m: i32, n: i32, lda: i32, ddof: i32): void {
  for (let i = 0; i < m; i++) {
    const row = a + off4(i * lda);
    const mu = lanes<PLAIN>(row, 0, n, 0) / <f64>n;
    const ss = lanes<DEV>(row, 0, n, mu);
    store<f32>(mean + off4(i), <f32>mu);
    store<f32>(std + off4(i), <f32>Math.sqrt(ss / <f64>(n - ddof)));
  }
}

// @ts-ignore: decorator
@inline function scaleRow<R, C>(po: usize, pa: usize, c: usize, ri: f32, n: i32): void {
  const rv = f32x4.splat(ri);
  const n4 = n & ~3;
  let j = 0;
  for (; j < n4; j += 4) {
    let x = v128.load(pa + off4(j));
    if (isOn<R>()) x = f32x4.mul(rv, x);
    if (isOn<C>()) x = f32x4.mul(x, v128.load(c + off4(j)));
    v128.store(po + off4(j), x);
  }
  for (; j < n; j++) {
    let x = load<f32>(pa + off4(j));
    if (isOn<R>()) x = ri * x;
    if (isOn<C>()) x = x * load<f32>(c + off4(j));
    store<f32>(po + off4(j), x);
  }
}

function scaleLoop<R, C>(out: usize, ldo: i32, a: usize, lda: i32, r: usize, c: usize, m: i32, n: i32): void {
  for (let i = 0; i < m; i++) {
    scaleRow<R, C>(out + off4(i * ldo), a + off4(i * lda), c, isOn<R>() ? load<f32>(r + off4(i)) : 0, n);
  }
}

export function scale_rows_cols_f32(out: usize, ldo: i32, a: usize, lda: i32, r: usize, c: usize, m: i32, n: i32): void {
  if (r != 0 && c != 0) scaleLoop<On, On>(out, ldo, a, lda, r, c, m, n);
  else if (r != 0) scaleLoop<On, Off>(out, ldo, a, lda, r, c, m, n);
  else if (c != 0) scaleLoop<Off, On>(out, ldo, a, lda, r, c, m, n);
  else scaleLoop<Off, Off>(out, ldo, a, lda, r, c, m, n);
}

export function max_abs_f32(x: usize, n: i32): f64 {
  // Four independent accumulators: f32x4.max has a long latency on x86 (NaN and ±0 fix-ups), and max is
  // order-independent (NaN wins, |x| ≥ +0), so the result is the same as one running maximum.
  let b0 = f32x4.splat(0);
  let b1 = b0;
  let b2 = b0;
  let b3 = b0;
  const n16 = n & ~15;
  const n4 = n & ~3;
  let i = 0;
  for (; i < n16; i += 16) {
    const p = x + off4(i);
    b0 = f32x4.max(b0, f32x4.abs(v128.load(p)));
    b1 = f32x4.max(b1, f32x4.abs(v128.load(p, 16)));
    b2 = f32x4.max(b2, f32x4.abs(v128.load(p, 32)));
    b3 = f32x4.max(b3, f32x4.abs(v128.load(p, 48)));
  }
  for (; i < n4; i += 4) b0 = f32x4.max(b0, f32x4.abs(v128.load(x + off4(i))));
  const best = f32x4.max(f32x4.max(b0, b1), f32x4.max(b2, b3));
  let m = f32x4.extract_lane(best, 0);
  m = max<f32>(m, f32x4.extract_lane(best, 1));
  m = max<f32>(m, f32x4.extract_lane(best, 2));
  m = max<f32>(m, f32x4.extract_lane(best, 3));
  for (; i < n; i++) m = max<f32>(m, abs<f32>(load<f32>(x + off4(i))));
  return <f64>m;
}

export function dot_f32(x: usize, y: usize, n: i32): f64 {
  return lanes<DOT>(x, y, n, 0);
}

/** Σ x_i² in lane order (see src/kernels/elementwise.ts). */
export function sumsq_f32(x: usize, n: i32): f64 {
  return lanes<SQ>(x, 0, n, 0);
}
