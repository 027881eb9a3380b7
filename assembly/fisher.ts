/** fisher kernels: see src/kernels/fisher.ts for the contract; bit-identical to the ref. */
import { off4 } from './common';

// @ts-ignore: decorator
@inline function lo64(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

// @ts-ignore: decorator
@inline function hi64(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3));
}

// ---------------------------------------------------------------------------------------------------
// RACS fixed point in f32: one pass over G per iteration (src/kernels/fisher.ts has the exact contract)

/** acc_j ← acc_j + P_ij·qi over one row (P_ij = f32(g_ij·g_ij)), columns in any order (each is its own sum). */
// @ts-ignore: decorator
@inline function accumulateRow(acc: usize, row: usize, qi: f32, n: i32): void {
  const qv = f32x4.splat(qi);
  const n8 = n & ~7;
  const n4 = n & ~3;
  let j = 0;
  for (; j < n8; j += 8) {
    const o = off4(j);
    const a = v128.load(row + o);
    const b = v128.load(row + o, 16);
    v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(f32x4.mul(a, a), qv)));
    v128.store(acc + o, f32x4.add(v128.load(acc + o, 16), f32x4.mul(f32x4.mul(b, b), qv)), 16);
  }
  if (j < n4) {
    const o = off4(j);
    const a = v128.load(row + o);
    v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(f32x4.mul(a, a), qv)));
    j += 4;
  }
  for (; j < n; j++) {
    const x = load<f32>(row + off4(j));
    store<f32>(acc + off4(j), load<f32>(acc + off4(j)) + (x * x) * qi);
  }
}

/**
 * Σ_j f32(P_ij·w_j) in eight f32 lane sums (lane j mod 8, each in increasing j), combined as
 * c_l = s_l + s_{l+4}, then (c_0 + c_1) + (c_2 + c_3).
 */
// @ts-ignore: decorator
@inline function rowDot(row: usize, w: usize, n: i32): f32 {
  const n8 = n & ~7;
  let lo = f32x4.splat(0);
  let hi = f32x4.splat(0);
  let j = 0;
  for (; j < n8; j += 8) {
    const o = off4(j);
    const a = v128.load(row + o);
    const b = v128.load(row + o, 16);
    lo = f32x4.add(lo, f32x4.mul(f32x4.mul(a, a), v128.load(w + o)));
    hi = f32x4.add(hi, f32x4.mul(f32x4.mul(b, b), v128.load(w + o, 16)));
  }
  if (j + 4 <= n) {
    const o = off4(j);
    const a = v128.load(row + o);
    lo = f32x4.add(lo, f32x4.mul(f32x4.mul(a, a), v128.load(w + o)));
    j += 4;
  }
  if (j < n) {
    // Tail (at most 3 elements) into lanes (j mod 8): the low half when j ≡ 0 (mod 8), else the high half.
    let t = f32x4.splat(0);
    t = f32x4.replace_lane(t, 0, sqMul(row, w, j));
    if (j + 1 < n) t = f32x4.replace_lane(t, 1, sqMul(row, w, j + 1));
    if (j + 2 < n) t = f32x4.replace_lane(t, 2, sqMul(row, w, j + 2));
    // Adding +0 to a lane without a tail element leaves it unchanged: a lane sum that starts at +0 is
    // never −0 in round-to-nearest.
    if ((j & 7) == 0) lo = f32x4.add(lo, t);
    else hi = f32x4.add(hi, t);
  }
  const c = f32x4.add(lo, hi);
  return (f32x4.extract_lane(c, 0) + f32x4.extract_lane(c, 1)) + (f32x4.extract_lane(c, 2) + f32x4.extract_lane(c, 3));
}

// @ts-ignore: decorator
@inline function sqMul(row: usize, w: usize, j: i32): f32 {
  const x = load<f32>(row + off4(j));
  return (x * x) * load<f32>(w + off4(j));
}

/** acc_j ← acc_j + P_ij·qi for j in [j0, n) of one row. */
// @ts-ignore: decorator
@inline function accumulateRange(acc: usize, row: usize, qi: f32, j0: i32, n: i32): void {
  const qv = f32x4.splat(qi);
  let j = j0;
  for (; j + 4 <= n; j += 4) {
    const o = off4(j);
    const a = v128.load(row + o);
    v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(f32x4.mul(a, a), qv)));
  }
  for (; j < n; j++) {
    const x = load<f32>(row + off4(j));
    store<f32>(acc + off4(j), load<f32>(acc + off4(j)) + (x * x) * qi);
  }
}

/**
 * The row-dot terms of columns [j, n) (j ≡ 0 mod 8, n − j < 8) for the low (lanes j mod 8 < 4) or high
 * half, as one f32x4 to add to that half's lane sums (lanes without a term get +0, which changes nothing).
 */
// @ts-ignore: decorator
@inline function rowDotTail(row: usize, w: usize, j: i32, n: i32, low: bool): v128 {
  let t = f32x4.splat(0);
  const j0 = low ? j : j + 4;
  if (j0 < n) t = f32x4.replace_lane(t, 0, sqMul(row, w, j0));
  if (j0 + 1 < n) t = f32x4.replace_lane(t, 1, sqMul(row, w, j0 + 1));
  if (j0 + 2 < n) t = f32x4.replace_lane(t, 2, sqMul(row, w, j0 + 2));
  if (j0 + 3 < n) t = f32x4.replace_lane(t, 3, sqMul(row, w, j0 + 3));
  return t;
}

/** acc_j ← Σ_i f32(g_ij·g_ij), rows in order, in f32: (G⊙G)ᵀ·1. */
export function racs_col_sq_f32(acc: usize, g: usize, m: i32, n: i32): void {
  for (let j = 0; j < n; j++) store<f32>(acc + off4(j), 0);
  const rowBytes = off4(n);
  let row = g;
  for (let i = 0; i < m; i++) {
    accumulateRow(acc, row, 1, n);
    row += rowBytes;
  }
}

/** q ← f32(b·rowDot) from the lane sums lo (lanes 0..3) and hi (lanes 4..7) of one row. */
// @ts-ignore: decorator
@inline function combine(lo: v128, hi: v128): f32 {
  const c = f32x4.add(lo, hi);
  return (f32x4.extract_lane(c, 0) + f32x4.extract_lane(c, 1)) + (f32x4.extract_lane(c, 2) + f32x4.extract_lane(c, 3));
}

// @ts-ignore: decorator
@inline function sqW(x: v128, w: v128): v128 {
  return f32x4.mul(f32x4.mul(x, x), w);
}

/**
 * One fused fixed-point pass: for each row i in order, q_i ← f32(b·rowDot_i(w)), then acc_j ← acc_j +
 * f32(P_ij·q_i) while the row is in cache. Rows go in blocks of four: the dots of a block share each
 * load of w, then its accumulation shares each load and store of acc (adding the four rows in order),
 * which changes no operation. acc starts at 0.
 */
export function racs_fixed_pass_f32(q: usize, acc: usize, g: usize, w: usize, m: i32, n: i32, b: f32): void {
  for (let j = 0; j < n; j++) store<f32>(acc + off4(j), 0);
  const rowBytes = off4(n);
  const n8 = n & ~7;
  const n4 = n & ~3;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const r0 = g + off4(i * n);
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
      const wl = v128.load(w + o);
      const wh = v128.load(w + o, 16);
      l0 = f32x4.add(l0, sqW(v128.load(r0 + o), wl));
      h0 = f32x4.add(h0, sqW(v128.load(r0 + o, 16), wh));
      l1 = f32x4.add(l1, sqW(v128.load(r1 + o), wl));
      h1 = f32x4.add(h1, sqW(v128.load(r1 + o, 16), wh));
      l2 = f32x4.add(l2, sqW(v128.load(r2 + o), wl));
      h2 = f32x4.add(h2, sqW(v128.load(r2 + o, 16), wh));
      l3 = f32x4.add(l3, sqW(v128.load(r3 + o), wl));
      h3 = f32x4.add(h3, sqW(v128.load(r3 + o, 16), wh));
    }
    if (j < n) {
      l0 = f32x4.add(l0, rowDotTail(r0, w, j, n, true));
      h0 = f32x4.add(h0, rowDotTail(r0, w, j, n, false));
      l1 = f32x4.add(l1, rowDotTail(r1, w, j, n, true));
      h1 = f32x4.add(h1, rowDotTail(r1, w, j, n, false));
      l2 = f32x4.add(l2, rowDotTail(r2, w, j, n, true));
      h2 = f32x4.add(h2, rowDotTail(r2, w, j, n, false));
      l3 = f32x4.add(l3, rowDotTail(r3, w, j, n, true));
      h3 = f32x4.add(h3, rowDotTail(r3, w, j, n, false));
    }
    const q0 = b * combine(l0, h0);
    const q1 = b * combine(l1, h1);
    const q2 = b * combine(l2, h2);
    const q3 = b * combine(l3, h3);
    store<f32>(q + off4(i), q0);
    store<f32>(q + off4(i + 1), q1);
    store<f32>(q + off4(i + 2), q2);
    store<f32>(q + off4(i + 3), q3);
    const v0 = f32x4.splat(q0);
    const v1 = f32x4.splat(q1);
    const v2 = f32x4.splat(q2);
    const v3 = f32x4.splat(q3);
    for (j = 0; j < n4; j += 4) {
      const o = off4(j);
      let c = v128.load(acc + o);
      c = f32x4.add(c, sqW(v128.load(r0 + o), v0));
      c = f32x4.add(c, sqW(v128.load(r1 + o), v1));
      c = f32x4.add(c, sqW(v128.load(r2 + o), v2));
      c = f32x4.add(c, sqW(v128.load(r3 + o), v3));
      v128.store(acc + o, c);
    }
    if (j < n) {
      accumulateRange(acc, r0, q0, j, n);
      accumulateRange(acc, r1, q1, j, n);
      accumulateRange(acc, r2, q2, j, n);
      accumulateRange(acc, r3, q3, j, n);
    }
  }
  for (; i < m; i++) {
    const row = g + off4(i * n);
    const qi = b * rowDot(row, w, n);
    store<f32>(q + off4(i), qi);
    accumulateRow(acc, row, qi, n);
  }
}

/**
 * The last pass: q_i ← f32(b·rowDot_i(w)) and t_i ← rowDot_i(c⊙c) (the weights f32(c_j·c_j)) in the same
 * sweep over row i.
 */
export function racs_final_pass_f32(q: usize, t: usize, g: usize, w: usize, c: usize, m: i32, n: i32, b: f32): void {
  const n8 = n & ~7;
  const rowBytes = off4(n);
  let row = g;
  for (let i = 0; i < m; i++) {
    let lo = f32x4.splat(0);
    let hi = f32x4.splat(0);
    let tlo = f32x4.splat(0);
    let thi = f32x4.splat(0);
    let j = 0;
    for (; j < n8; j += 8) {
      const o = off4(j);
      const a = v128.load(row + o);
      const e = v128.load(row + o, 16);
      const pa = f32x4.mul(a, a);
      const pe = f32x4.mul(e, e);
      const ca = v128.load(c + o);
      const ce = v128.load(c + o, 16);
      lo = f32x4.add(lo, f32x4.mul(pa, v128.load(w + o)));
      hi = f32x4.add(hi, f32x4.mul(pe, v128.load(w + o, 16)));
      tlo = f32x4.add(tlo, f32x4.mul(pa, f32x4.mul(ca, ca)));
      thi = f32x4.add(thi, f32x4.mul(pe, f32x4.mul(ce, ce)));
    }
    if (j + 4 <= n) {
      const o = off4(j);
      const a = v128.load(row + o);
      const pa = f32x4.mul(a, a);
      const ca = v128.load(c + o);
      lo = f32x4.add(lo, f32x4.mul(pa, v128.load(w + o)));
      tlo = f32x4.add(tlo, f32x4.mul(pa, f32x4.mul(ca, ca)));
      j += 4;
    }
    if (j < n) {
      let d = f32x4.splat(0);
      let e = f32x4.splat(0);
      for (let l = 0; j + l < n; l++) {
        const x = load<f32>(row + off4(j + l));
        const px = x * x;
        const cj = load<f32>(c + off4(j + l));
        const dv = px * load<f32>(w + off4(j + l));
        const ev = px * (cj * cj);
        if (l == 0) { d = f32x4.replace_lane(d, 0, dv); e = f32x4.replace_lane(e, 0, ev); }
        else if (l == 1) { d = f32x4.replace_lane(d, 1, dv); e = f32x4.replace_lane(e, 1, ev); }
        else { d = f32x4.replace_lane(d, 2, dv); e = f32x4.replace_lane(e, 2, ev); }
      }
      if ((j & 7) == 0) { lo = f32x4.add(lo, d); tlo = f32x4.add(tlo, e); }
      else { hi = f32x4.add(hi, d); thi = f32x4.add(thi, e); }
    }
    const s = f32x4.add(lo, hi);
    const u = f32x4.add(tlo, thi);
    store<f32>(q + off4(i), b * ((f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))));
    store<f32>(t + off4(i), (f32x4.extract_lane(u, 0) + f32x4.extract_lane(u, 1)) + (f32x4.extract_lane(u, 2) + f32x4.extract_lane(u, 3)));
    row += rowBytes;
  }
}

/** Σ_i f32(r_i·r_i)·t_i in f64 (each term exact in f64), in order i = 0..m−1. */
export function racs_norm_sq_f32(r: usize, t: usize, m: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < m; i++) {
    const ri = load<f32>(r + off4(i));
    s += <f64>(ri * ri) * <f64>load<f32>(t + off4(i));
  }
  return s;
}

export function racs_rsqrt_f32(out: usize, x: usize, n: i32, floor: f32): void {
  const n4 = n & ~3;
  const fv = f32x4.splat(floor);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i < n4; i += 4) {
    v128.store(out + off4(i), f32x4.div(one, f32x4.sqrt(f32x4.max(v128.load(x + off4(i)), fv))));
  }
  for (; i < n; i++) store<f32>(out + off4(i), <f32>1 / sqrt<f32>(max<f32>(load<f32>(x + off4(i)), floor)));
}

export function racs_scaled_sumsq_f32(g: usize, r: usize, c: usize, m: i32, n: i32): f64 {
  const n4 = n & ~3;
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0;
  for (let i = 0; i < m; i++) {
    const row = g + off4(i * n);
    const ri = load<f32>(r + off4(i));
    const rv = f32x4.splat(ri);
    let j = 0;
    for (; j < n4; j += 4) {
      const u = f32x4.mul(f32x4.mul(rv, v128.load(row + off4(j))), v128.load(c + off4(j)));
      const ul = lo64(u), uh = hi64(u);
      lo = f64x2.add(lo, f64x2.mul(ul, ul));
      hi = f64x2.add(hi, f64x2.mul(uh, uh));
    }
    if (j < n) {
      // Tail lanes 0..2 of this row go after the vector part of the same row (lane sums are per lane,
      // each in increasing index order): fold them into the vector accumulators' lanes.
      let u = <f64>((ri * load<f32>(row + off4(j))) * load<f32>(c + off4(j)));
      s0 = f64x2.extract_lane(lo, 0) + u * u;
      s1 = f64x2.extract_lane(lo, 1);
      s2 = f64x2.extract_lane(hi, 0);
      if (j + 1 < n) {
        u = <f64>((ri * load<f32>(row + off4(j + 1))) * load<f32>(c + off4(j + 1)));
        s1 += u * u;
        if (j + 2 < n) {
          u = <f64>((ri * load<f32>(row + off4(j + 2))) * load<f32>(c + off4(j + 2)));
          s2 += u * u;
        }
      }
      lo = f64x2.replace_lane(f64x2.replace_lane(lo, 0, s0), 1, s1);
      hi = f64x2.replace_lane(hi, 0, s2);
    }
  }
  return (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1)) + (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
}

export function racs_scaled_apply_f32(p: usize, g: usize, r: usize, c: usize, m: i32, n: i32, coeff: f32): void {
  const n4 = n & ~3;
  const kv = f32x4.splat(coeff);
  for (let i = 0; i < m; i++) {
    const row = off4(i * n);
    const ri = load<f32>(r + off4(i));
    const rv = f32x4.splat(ri);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = row + off4(j);
      const u = f32x4.mul(f32x4.mul(rv, v128.load(g + o)), v128.load(c + off4(j)));
      v128.store(p + o, f32x4.add(v128.load(p + o), f32x4.mul(kv, u)));
    }
    for (; j < n; j++) {
      const o = row + off4(j);
      const u: f32 = (ri * load<f32>(g + o)) * load<f32>(c + off4(j));
      store<f32>(p + o, load<f32>(p + o) + coeff * u);
    }
  }
}
