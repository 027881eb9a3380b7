/** Reductions and scalings: see src/kernels/reduce.ts for the contract; bit-identical to the ref. */
import { isOn, normScaleOf, Off, off4, off8, On } from './common';

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

// @ts-ignore: decorator
@inline function sq2(x: v128, y: v128): v128 {
  const t = f64x2.mul(x, y);
  return f64x2.mul(t, t);
}

export function sinkhorn_round_f32(a: usize, b: usize, acc: usize, g: usize, m: i32, n: i32, lda: i32, rowTarget: f64, colTarget: f64): void {
  const n4 = n & ~3;
  const n2 = n & ~1;
  for (let j = 0; j < n; j++) store<f64>(acc + off8(j), 0);
  for (let i = 0; i < m; i++) {
    const row = g + off4(i * lda);
    // r_i = Σ_j (g_ij·b_j)² in lane order
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const x = v128.load(row + off4(j));
      const y = v128.load(b + off4(j));
      lo = f64x2.add(lo, sq2(f64x2.promote_low_f32x4(x), f64x2.promote_low_f32x4(y)));
      hi = f64x2.add(hi, sq2(promoteHi(x), promoteHi(y)));
    }
    let s0 = f64x2.extract_lane(lo, 0);
    let s1 = f64x2.extract_lane(lo, 1);
    let s2 = f64x2.extract_lane(hi, 0);
    const s3 = f64x2.extract_lane(hi, 1);
    if (j < n) {
      let t = <f64>load<f32>(row + off4(j)) * <f64>load<f32>(b + off4(j));
      s0 += t * t;
      if (j + 1 < n) {
        t = <f64>load<f32>(row + off4(j + 1)) * <f64>load<f32>(b + off4(j + 1));
        s1 += t * t;
        if (j + 2 < n) {
          t = <f64>load<f32>(row + off4(j + 2)) * <f64>load<f32>(b + off4(j + 2));
          s2 += t * t;
        }
      }
    }
    const ai = normScaleOf((s0 + s1) + (s2 + s3), rowTarget);
    store<f32>(a + off4(i), ai);
    // acc_j += (g_ij·a_i)², the row still in cache
    const ad = <f64>ai;
    const av = f64x2.splat(ad);
    j = 0;
    for (; j < n2; j += 2) {
      const x = f64x2.promote_low_f32x4(v128.load64_zero(row + off4(j)));
      const pa = acc + off8(j);
      v128.store(pa, f64x2.add(v128.load(pa), sq2(x, av)));
    }
    if (j < n) {
      const t = <f64>load<f32>(row + off4(j)) * ad;
      store<f64>(acc + off8(j), load<f64>(acc + off8(j)) + t * t);
    }
  }
  for (let j = 0; j < n; j++) store<f32>(b + off4(j), normScaleOf(load<f64>(acc + off8(j)), colTarget));
}

export function row_standardize_f32(out: usize, ldo: i32, a: usize, lda: i32, mean: usize, std: usize, m: i32, n: i32, eps: f32): void {
  const n4 = n & ~3;
  for (let i = 0; i < m; i++) {
    const po = out + off4(i * ldo);
    const pa = a + off4(i * lda);
    const mu = load<f32>(mean + off4(i));
    const r: f32 = <f32>1 / max<f32>(load<f32>(std + off4(i)), eps);
    const muV = f32x4.splat(mu);
    const rV = f32x4.splat(r);
    let j = 0;
    for (; j < n4; j += 4) v128.store(po + off4(j), f32x4.mul(f32x4.sub(v128.load(pa + off4(j)), muV), rV));
    for (; j < n; j++) store<f32>(po + off4(j), (load<f32>(pa + off4(j)) - mu) * r);
  }
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
