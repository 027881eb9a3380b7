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

// ---------------------------------------------------------------------------------------------------
// SinkGD's round in f32 (src/kernels/reduce.ts, `sinkgdRound`): rows in blocks of four share each load of
// β and of acc; every row keeps its own four lane sums, every column adds its rows in order, so the
// blocking changes no operation.

/** f32(s·x), or 0 when that is +∞. */
// @ts-ignore: decorator
@inline function scaledBy(s: f32, x: f32): f32 {
  const y = s * x;
  return y == Infinity ? 0 : y;
}

/** The lane-l terms (t = f32(g_j·v_j), t²) of the tail columns j ≥ j0 (at most 3) as one f32x4; +0 elsewhere. */
// @ts-ignore: decorator
@inline function sqTail(row: usize, v: usize, j0: i32, n: i32): v128 {
  let t = f32x4.splat(0);
  if (j0 < n) {
    let x = load<f32>(row + off4(j0)) * load<f32>(v + off4(j0));
    t = f32x4.replace_lane(t, 0, x * x);
    if (j0 + 1 < n) {
      x = load<f32>(row + off4(j0 + 1)) * load<f32>(v + off4(j0 + 1));
      t = f32x4.replace_lane(t, 1, x * x);
      if (j0 + 2 < n) {
        x = load<f32>(row + off4(j0 + 2)) * load<f32>(v + off4(j0 + 2));
        t = f32x4.replace_lane(t, 2, x * x);
      }
    }
  }
  return t;
}

/**
 * α_i ← scaledBy(s, normScale(r_i, t)) with r_i from the eight lane sums (lo: lanes 0..3, hi: 4..7):
 * c_l = lo_l + hi_l, then (c_0 + c_1) + (c_2 + c_3).
 */
// @ts-ignore: decorator
@inline function rowScale(lo: v128, hi: v128, t: f64, s: f32): f32 {
  const c = f32x4.add(lo, hi);
  const r = (f32x4.extract_lane(c, 0) + f32x4.extract_lane(c, 1)) + (f32x4.extract_lane(c, 2) + f32x4.extract_lane(c, 3));
  return scaledBy(s, normScaleOf(<f64>r, t));
}

/** acc_j ← f32(acc_j + f32(f32(g_ij·a)²)) over the tail columns j ≥ j0 of one row. */
// @ts-ignore: decorator
@inline function accTail(acc: usize, row: usize, a: f32, j0: i32, n: i32): void {
  for (let j = j0; j < n; j++) {
    const x = load<f32>(row + off4(j)) * a;
    store<f32>(acc + off4(j), load<f32>(acc + off4(j)) + x * x);
  }
}

/**
 * The magnitude bits of x shifted left by one (sign dropped): as unsigned integers they order like |x|,
 * with every NaN above +∞.
 */
// @ts-ignore: decorator
@inline function mag2(x: v128): v128 {
  return i32x4.shl(x, 1);
}

/** t² with t = f32(x·v). */
// @ts-ignore: decorator
@inline function sq(x: v128, v: v128): v128 {
  const t = f32x4.mul(x, v);
  return f32x4.mul(t, t);
}

/** Largest magnitude bits of g over columns [j0, n) of one row, at least `m`. */
// @ts-ignore: decorator
@inline function maxMagTail(m: i32, row: usize, j0: i32, n: i32): i32 {
  for (let j = j0; j < n; j++) m = max<i32>(m, load<i32>(row + off4(j)) & 0x7fffffff);
  return m;
}

/** acc_j ← acc_j + f32(f32(g_ij·a)²) over one row (a splat in `v`, its scalar `a`). */
// @ts-ignore: decorator
@inline function accRow(acc: usize, row: usize, v: v128, a: f32, n8: i32, n4: i32, n: i32): void {
  let j = 0;
  for (; j < n8; j += 8) {
    const o = off4(j);
    const pa = acc + o;
    v128.store(pa, f32x4.add(v128.load(pa), sq(v128.load(row + o), v)));
    v128.store(pa, f32x4.add(v128.load(pa, 16), sq(v128.load(row + o, 16), v)), 16);
  }
  if (j < n4) {
    const o = off4(j);
    v128.store(acc + o, f32x4.add(v128.load(acc + o), sq(v128.load(row + o), v)));
  }
  accTail(acc, row, a, n4, n);
}

function sinkgdRound<MAX>(alpha: usize, beta: usize, acc: usize, g: usize, m: i32, n: i32, lda: i32, rowTarget: f64, colTarget: f64, s: f32): f64 {
  const n8 = n & ~7;
  const n4 = n & ~3;
  const rowBytes = off4(lda);
  let mx = i32x4.splat(0);
  let mt: i32 = 0;
  for (let j = 0; j < n; j++) store<f32>(acc + off4(j), 0);
  let i = 0;
  // Without MAX rows go in blocks of four (their dots share each load of β, their accumulation each
  // load and store of acc). With MAX (the first round, whose reads of G come from memory) rows go one
  // at a time, as one sequential stream, which memory delivers faster than four rows' streams at once.
  for (; !isOn<MAX>() && i + 4 <= m; i += 4) {
    const r0 = g + off4(i * lda);
    const r1 = r0 + rowBytes;
    const r2 = r1 + rowBytes;
    const r3 = r2 + rowBytes;
    let l0 = f32x4.splat(0);
    let h0 = l0;
    let l1 = l0;
    let h1 = l0;
    let l2 = l0;
    let h2 = l0;
    let l3 = l0;
    let h3 = l0;
    let j = 0;
    for (; j < n8; j += 8) {
      const o = off4(j);
      const bl = v128.load(beta + o);
      const bh = v128.load(beta + o, 16);
      l0 = f32x4.add(l0, sq(v128.load(r0 + o), bl));
      h0 = f32x4.add(h0, sq(v128.load(r0 + o, 16), bh));
      l1 = f32x4.add(l1, sq(v128.load(r1 + o), bl));
      h1 = f32x4.add(h1, sq(v128.load(r1 + o, 16), bh));
      l2 = f32x4.add(l2, sq(v128.load(r2 + o), bl));
      h2 = f32x4.add(h2, sq(v128.load(r2 + o, 16), bh));
      l3 = f32x4.add(l3, sq(v128.load(r3 + o), bl));
      h3 = f32x4.add(h3, sq(v128.load(r3 + o, 16), bh));
    }
    if (j < n) {
      // Columns j.. (j ≡ 0 mod 8, fewer than 8): four into the low lanes, the rest (at most 3) into the
      // high lanes; or, with fewer than four, all into the low lanes. Adding +0 to a lane without a term
      // changes nothing (a lane sum from +0 is never −0).
      if (j < n4) {
        const o = off4(j);
        const bl = v128.load(beta + o);
        l0 = f32x4.add(l0, sq(v128.load(r0 + o), bl));
        l1 = f32x4.add(l1, sq(v128.load(r1 + o), bl));
        l2 = f32x4.add(l2, sq(v128.load(r2 + o), bl));
        l3 = f32x4.add(l3, sq(v128.load(r3 + o), bl));
        h0 = f32x4.add(h0, sqTail(r0, beta, n4, n));
        h1 = f32x4.add(h1, sqTail(r1, beta, n4, n));
        h2 = f32x4.add(h2, sqTail(r2, beta, n4, n));
        h3 = f32x4.add(h3, sqTail(r3, beta, n4, n));
      } else {
        l0 = f32x4.add(l0, sqTail(r0, beta, j, n));
        l1 = f32x4.add(l1, sqTail(r1, beta, j, n));
        l2 = f32x4.add(l2, sqTail(r2, beta, j, n));
        l3 = f32x4.add(l3, sqTail(r3, beta, j, n));
      }
    }
    const a0 = rowScale(l0, h0, rowTarget, s);
    const a1 = rowScale(l1, h1, rowTarget, s);
    const a2 = rowScale(l2, h2, rowTarget, s);
    const a3 = rowScale(l3, h3, rowTarget, s);
    store<f32>(alpha + off4(i), a0);
    store<f32>(alpha + off4(i + 1), a1);
    store<f32>(alpha + off4(i + 2), a2);
    store<f32>(alpha + off4(i + 3), a3);
    const v0 = f32x4.splat(a0);
    const v1 = f32x4.splat(a1);
    const v2 = f32x4.splat(a2);
    const v3 = f32x4.splat(a3);
    for (j = 0; j < n8; j += 8) {
      const o = off4(j);
      const pa = acc + o;
      let c = v128.load(pa);
      let d = v128.load(pa, 16);
      c = f32x4.add(c, sq(v128.load(r0 + o), v0));
      d = f32x4.add(d, sq(v128.load(r0 + o, 16), v0));
      c = f32x4.add(c, sq(v128.load(r1 + o), v1));
      d = f32x4.add(d, sq(v128.load(r1 + o, 16), v1));
      c = f32x4.add(c, sq(v128.load(r2 + o), v2));
      d = f32x4.add(d, sq(v128.load(r2 + o, 16), v2));
      c = f32x4.add(c, sq(v128.load(r3 + o), v3));
      d = f32x4.add(d, sq(v128.load(r3 + o, 16), v3));
      v128.store(pa, c);
      v128.store(pa, d, 16);
    }
    if (j < n4) {
      const o = off4(j);
      let c = v128.load(acc + o);
      c = f32x4.add(c, sq(v128.load(r0 + o), v0));
      c = f32x4.add(c, sq(v128.load(r1 + o), v1));
      c = f32x4.add(c, sq(v128.load(r2 + o), v2));
      c = f32x4.add(c, sq(v128.load(r3 + o), v3));
      v128.store(acc + o, c);
    }
    accTail(acc, r0, a0, n4, n);
    accTail(acc, r1, a1, n4, n);
    accTail(acc, r2, a2, n4, n);
    accTail(acc, r3, a3, n4, n);
  }
  for (; i < m; i++) {
    const r0 = g + off4(i * lda);
    let l0 = f32x4.splat(0);
    let h0 = l0;
    let j = 0;
    for (; j < n8; j += 8) {
      const o = off4(j);
      const x = v128.load(r0 + o);
      const y = v128.load(r0 + o, 16);
      if (isOn<MAX>()) mx = i32x4.max_u(mx, i32x4.max_u(mag2(x), mag2(y)));
      l0 = f32x4.add(l0, sq(x, v128.load(beta + o)));
      h0 = f32x4.add(h0, sq(y, v128.load(beta + o, 16)));
    }
    if (j < n) {
      if (j < n4) {
        const x = v128.load(r0 + off4(j));
        if (isOn<MAX>()) mx = i32x4.max_u(mx, mag2(x));
        l0 = f32x4.add(l0, sq(x, v128.load(beta + off4(j))));
        h0 = f32x4.add(h0, sqTail(r0, beta, n4, n));
      } else {
        l0 = f32x4.add(l0, sqTail(r0, beta, j, n));
      }
      if (isOn<MAX>()) mt = maxMagTail(mt, r0, n4, n);
    }
    const a0 = rowScale(l0, h0, rowTarget, s);
    store<f32>(alpha + off4(i), a0);
    accRow(acc, r0, f32x4.splat(a0), a0, n8, n4, n);
  }
  for (let j = 0; j < n; j++) store<f32>(beta + off4(j), scaledBy(s, normScaleOf(<f64>load<f32>(acc + off4(j)), colTarget)));
  if (!isOn<MAX>()) return 0;
  const v = max<u32>(max<u32>(i32x4.extract_lane(mx, 0), i32x4.extract_lane(mx, 1)), max<u32>(i32x4.extract_lane(mx, 2), i32x4.extract_lane(mx, 3)));
  return <f64>reinterpret<f32>(max<u32>(<u32>mt, v >> 1));
}

export function sinkgd_round_f32(alpha: usize, beta: usize, acc: usize, g: usize, m: i32, n: i32, lda: i32, rowTarget: f64, colTarget: f64, s: f32, withMax: i32): f64 {
  return withMax != 0
    ? sinkgdRound<On>(alpha, beta, acc, g, m, n, lda, rowTarget, colTarget, s)
    : sinkgdRound<Off>(alpha, beta, acc, g, m, n, lda, rowTarget, colTarget, s);
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
  // Integer maximum of the magnitude bits (sign cleared): for non-negative floats the bit patterns are
  // ordered like the values, +0 is the smallest, and every NaN pattern lies above +∞, so the largest
  // pattern is the f32 maximum of |x_i| (a NaN when any x_i is NaN). Four independent accumulators.
  const mask = i32x4.splat(0x7fffffff);
  let b0 = i32x4.splat(0);
  let b1 = b0;
  let b2 = b0;
  let b3 = b0;
  const n16 = n & ~15;
  const n4 = n & ~3;
  let i = 0;
  for (; i < n16; i += 16) {
    const p = x + off4(i);
    b0 = i32x4.max_s(b0, v128.and(v128.load(p), mask));
    b1 = i32x4.max_s(b1, v128.and(v128.load(p, 16), mask));
    b2 = i32x4.max_s(b2, v128.and(v128.load(p, 32), mask));
    b3 = i32x4.max_s(b3, v128.and(v128.load(p, 48), mask));
  }
  for (; i < n4; i += 4) b0 = i32x4.max_s(b0, v128.and(v128.load(x + off4(i)), mask));
  const best = i32x4.max_s(i32x4.max_s(b0, b1), i32x4.max_s(b2, b3));
  let m = max<i32>(max<i32>(i32x4.extract_lane(best, 0), i32x4.extract_lane(best, 1)), max<i32>(i32x4.extract_lane(best, 2), i32x4.extract_lane(best, 3)));
  for (; i < n; i++) m = max<i32>(m, load<i32>(x + off4(i)) & 0x7fffffff);
  return <f64>reinterpret<f32>(m);
}

export function dot_f32(x: usize, y: usize, n: i32): f64 {
  return lanes<DOT>(x, y, n, 0);
}

/** Σ x_i² in lane order (see src/kernels/elementwise.ts). */
export function sumsq_f32(x: usize, n: i32): f64 {
  return lanes<SQ>(x, 0, n, 0);
}
