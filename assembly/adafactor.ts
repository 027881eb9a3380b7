/**
 * Adafactor kernels: factored (row/column) and unfactored second moments, and the preconditioned update
 * in two passes (Σ u² for update clipping, then p ← p + coeff·u). Matrices are row-major m×n.
 * Loop shape and flag specialisation as in `common.ts` / `elementwise.ts`.
 */
import { LERP_SMALL, Off, On, isOn, lerp, lerpV, off4, off8, sq, sqHi, sqLo } from './common';

/** Columns of the f64 accumulator processed per sweep over the rows of `adafactor_col_var_f32` (32 KiB). */
const COL_BLOCK: i32 = 4096;

// ---------------------------------------------------------------------------------------------------
// Row / column factors

function rowVarLoop<SMALL>(r: usize, g: usize, m: i32, n: i32, w: f32, omw: f32): void {
  const n4 = n & ~3;
  const n8 = n & ~7;
  const dn = <f64>n;
  const rowBytes = off4(n);
  let row = g;
  for (let i = 0; i < m; i++) {
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    let j = 0;
    for (; j < n8; j += 8) {
      const px = row + off4(j);
      const a = v128.load(px);
      const b = v128.load(px, 16);
      lo = f64x2.add(lo, sqLo(a));
      hi = f64x2.add(hi, sqHi(a));
      lo = f64x2.add(lo, sqLo(b));
      hi = f64x2.add(hi, sqHi(b));
    }
    if (j < n4) {
      const a = v128.load(row + off4(j));
      lo = f64x2.add(lo, sqLo(a));
      hi = f64x2.add(hi, sqHi(a));
      j += 4;
    }
    let s0 = f64x2.extract_lane(lo, 0);
    let s1 = f64x2.extract_lane(lo, 1);
    let s2 = f64x2.extract_lane(hi, 0);
    const s3 = f64x2.extract_lane(hi, 1);
    if (j < n) {
      s0 += sq(load<f32>(row + off4(j)));
      if (j + 1 < n) {
        s1 += sq(load<f32>(row + off4(j + 1)));
        if (j + 2 < n) s2 += sq(load<f32>(row + off4(j + 2)));
      }
    }
    // f64 sum ÷ n in f64, then one rounding to f32.
    const mean = <f32>(((s0 + s1) + (s2 + s3)) / dn);
    const pr = r + off4(i);
    store<f32>(pr, lerp<SMALL>(load<f32>(pr), mean, w, omw));
    row += rowBytes;
  }
}

/** r_i ← lerp(r_i, f32(Σ_j g_ij² / n), w), each row sum in lane order over j (lanes reset per row). */
export function adafactor_row_var_f32(r: usize, g: usize, m: i32, n: i32, w: f32, omw: f32, flags: i32): void {
  if ((flags & LERP_SMALL) != 0) rowVarLoop<On>(r, g, m, n, w, omw);
  else rowVarLoop<Off>(r, g, m, n, w, omw);
}

/** acc_j (j in [j0, j1)) ← g_0j² when FIRST_ is `On` (row 0: 0 + q = q exactly), else acc_j + g_ij². */
// @ts-ignore: decorator
@inline function colAccRow<FIRST_>(row: usize, acc: usize, j0: i32, j1: i32): void {
  const jv = j0 + ((j1 - j0) & ~3);
  let j = j0;
  for (; j < jv; j += 4) {
    const x = v128.load(row + off4(j));
    const pa = acc + off8(j);
    if (isOn<FIRST_>()) {
      v128.store(pa, sqLo(x));
      v128.store(pa, sqHi(x), 16);
    } else {
      v128.store(pa, f64x2.add(v128.load(pa), sqLo(x)));
      v128.store(pa, f64x2.add(v128.load(pa, 16), sqHi(x)), 16);
    }
  }
  for (; j < j1; j++) {
    const q = sq(load<f32>(row + off4(j)));
    const pa = acc + off8(j);
    if (isOn<FIRST_>()) store<f64>(pa, q);
    else store<f64>(pa, load<f64>(pa) + q);
  }
}

// @ts-ignore: decorator
@inline function colLerpStep<SMALL>(pc: usize, pa: usize, dmV: v128, wV: v128, omwV: v128): void {
  const lo = f32x4.demote_f64x2_zero(f64x2.div(v128.load(pa), dmV));
  const hi = f32x4.demote_f64x2_zero(f64x2.div(v128.load(pa, 16), dmV));
  const mean = v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
  v128.store(pc, lerpV<SMALL>(v128.load(pc), mean, wV, omwV));
}

function colLerpLoop<SMALL>(c: usize, acc: usize, m: i32, n: i32, w: f32, omw: f32): void {
  const dm = <f64>m;
  const dmV = f64x2.splat(dm);
  const wV = f32x4.splat(w);
  const omwV = f32x4.splat(omw);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let j = 0;
  for (; j < n8; j += 8) {
    colLerpStep<SMALL>(c + off4(j), acc + off8(j), dmV, wV, omwV);
    colLerpStep<SMALL>(c + off4(j) + 16, acc + off8(j) + 32, dmV, wV, omwV);
  }
  if (j < n4) {
    colLerpStep<SMALL>(c + off4(j), acc + off8(j), dmV, wV, omwV);
    j += 4;
  }
  for (; j < n; j++) {
    const mean = <f32>(load<f64>(acc + off8(j)) / dm);
    const pc = c + off4(j);
    store<f32>(pc, lerp<SMALL>(load<f32>(pc), mean, w, omw));
  }
}

/**
 * acc_j (f64 scratch, n values) ← Σ_i g_ij² over i = 0..m−1 in order; c_j ← lerp(c_j, f32(acc_j / m), w).
 * Vectorised across columns (2 f64 per f64x2); columns are swept in blocks of COL_BLOCK so the block of
 * `acc` stays in cache while the rows stream by. The order within each column is unchanged: rows 0..m−1.
 */
export function adafactor_col_var_f32(
  c: usize, g: usize, acc: usize, m: i32, n: i32, w: f32, omw: f32, flags: i32,
): void {
  if (n <= 0) return;
  const rowBytes = off4(n);
  if (m <= 0) {
    for (let j = 0; j < n; j++) store<f64>(acc + off8(j), 0);
  } else {
    for (let j0 = 0; j0 < n; j0 += COL_BLOCK) {
      const j1 = n - j0 > COL_BLOCK ? j0 + COL_BLOCK : n;
      let row = g;
      colAccRow<On>(row, acc, j0, j1);
      for (let i = 1; i < m; i++) {
        row += rowBytes;
        colAccRow<Off>(row, acc, j0, j1);
      }
    }
  }
  if ((flags & LERP_SMALL) != 0) colLerpLoop<On>(c, acc, m, n, w, omw);
  else colLerpLoop<Off>(c, acc, m, n, w, omw);
}

// @ts-ignore: decorator
@inline function accAdd(pa: usize, x: v128): void {
  v128.store(pa, f64x2.add(v128.load(pa), x));
}

/**
 * Both factors in one sweep over G (n ≤ COL_BLOCK): each square is formed once and added to its row's
 * lane sums and to its column's sum; the same operations in the same order as the two kernels apart.
 * acc starts at 0 (0 + q = q exactly, as row 0's store in `colAccRow<On>`).
 */
function factoredVarLoop<SMALL>(r: usize, c: usize, g: usize, acc: usize, m: i32, n: i32, w: f32, omw: f32): void {
  const n4 = n & ~3;
  const n8 = n & ~7;
  const dn = <f64>n;
  const rowBytes = off4(n);
  for (let j = 0; j < n; j++) store<f64>(acc + off8(j), 0);
  let row = g;
  for (let i = 0; i < m; i++) {
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    let j = 0;
    for (; j < n8; j += 8) {
      const px = row + off4(j);
      const a = v128.load(px);
      const b = v128.load(px, 16);
      const a0 = sqLo(a), a1 = sqHi(a), b0 = sqLo(b), b1 = sqHi(b);
      lo = f64x2.add(lo, a0);
      hi = f64x2.add(hi, a1);
      lo = f64x2.add(lo, b0);
      hi = f64x2.add(hi, b1);
      const pa = acc + off8(j);
      accAdd(pa, a0);
      accAdd(pa + 16, a1);
      accAdd(pa + 32, b0);
      accAdd(pa + 48, b1);
    }
    if (j < n4) {
      const a = v128.load(row + off4(j));
      const a0 = sqLo(a), a1 = sqHi(a);
      lo = f64x2.add(lo, a0);
      hi = f64x2.add(hi, a1);
      const pa = acc + off8(j);
      accAdd(pa, a0);
      accAdd(pa + 16, a1);
      j += 4;
    }
    let s0 = f64x2.extract_lane(lo, 0);
    let s1 = f64x2.extract_lane(lo, 1);
    let s2 = f64x2.extract_lane(hi, 0);
    const s3 = f64x2.extract_lane(hi, 1);
    if (j < n) {
      let q = sq(load<f32>(row + off4(j)));
      s0 += q;
      store<f64>(acc + off8(j), load<f64>(acc + off8(j)) + q);
      if (j + 1 < n) {
        q = sq(load<f32>(row + off4(j + 1)));
        s1 += q;
        store<f64>(acc + off8(j + 1), load<f64>(acc + off8(j + 1)) + q);
        if (j + 2 < n) {
          q = sq(load<f32>(row + off4(j + 2)));
          s2 += q;
          store<f64>(acc + off8(j + 2), load<f64>(acc + off8(j + 2)) + q);
        }
      }
    }
    const mean = <f32>(((s0 + s1) + (s2 + s3)) / dn);
    const pr = r + off4(i);
    store<f32>(pr, lerp<SMALL>(load<f32>(pr), mean, w, omw));
    row += rowBytes;
  }
  colLerpLoop<SMALL>(c, acc, m, n, w, omw);
}

/**
 * `adafactor_row_var_f32` and `adafactor_col_var_f32` in one call, bit for bit: one sweep over G when
 * n ≤ COL_BLOCK (the column sums fit in cache beside the row), else the two kernels.
 */
export function adafactor_factored_var_f32(
  r: usize, c: usize, g: usize, acc: usize, m: i32, n: i32, w: f32, omw: f32, flags: i32,
): void {
  if (m <= 0 || n <= 0 || n > COL_BLOCK) {
    adafactor_row_var_f32(r, g, m, n, w, omw, flags);
    adafactor_col_var_f32(c, g, acc, m, n, w, omw, flags);
  } else if ((flags & LERP_SMALL) != 0) factoredVarLoop<On>(r, c, g, acc, m, n, w, omw);
  else factoredVarLoop<Off>(r, c, g, acc, m, n, w, omw);
}

// ---------------------------------------------------------------------------------------------------
// Factored update u_ij = f32(f32(1 / f32(sqrt(max(f32(f32(r_i·c_j) / rMean), eps1Sq)))) · g_ij)

// @ts-ignore: decorator
@inline function factoredU(gij: f32, ri: f32, cj: f32, rMean: f32, eps1Sq: f32): f32 {
  const v = max<f32>((ri * cj) / rMean, eps1Sq);
  return (<f32>1 / sqrt<f32>(v)) * gij;
}

/** u for the four elements at byte offset `o` of row `row` (and of `c`). */
// @ts-ignore: decorator
@inline function factoredUV(row: usize, c: usize, o: usize, riV: v128, rMeanV: v128, epsV: v128): v128 {
  const v = f32x4.max(f32x4.div(f32x4.mul(riV, v128.load(c + o)), rMeanV), epsV);
  return f32x4.mul(f32x4.div(f32x4.splat(1), f32x4.sqrt(v)), v128.load(row + o));
}

/**
 * Σ u_ij²: rows in order, each row in lane order over j (lane = j mod 4), the four lane sums shared
 * across rows; returns (s_0 + s_1) + (s_2 + s_3).
 */
export function adafactor_factored_sumsq_f32(
  g: usize, r: usize, c: usize, m: i32, n: i32, rMean: f32, eps1Sq: f32,
): f64 {
  const rMeanV = f32x4.splat(rMean);
  const epsV = f32x4.splat(eps1Sq);
  const n4 = n & ~3;
  const n8 = n & ~7;
  const rowBytes = off4(n);
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let row = g;
  for (let i = 0; i < m; i++) {
    const ri = load<f32>(r + off4(i));
    const riV = f32x4.splat(ri);
    let j = 0;
    for (; j < n8; j += 8) {
      const o = off4(j);
      const a = factoredUV(row, c, o, riV, rMeanV, epsV);
      const b = factoredUV(row, c, o + 16, riV, rMeanV, epsV);
      lo = f64x2.add(lo, sqLo(a));
      hi = f64x2.add(hi, sqHi(a));
      lo = f64x2.add(lo, sqLo(b));
      hi = f64x2.add(hi, sqHi(b));
    }
    if (j < n4) {
      const a = factoredUV(row, c, off4(j), riV, rMeanV, epsV);
      lo = f64x2.add(lo, sqLo(a));
      hi = f64x2.add(hi, sqHi(a));
      j += 4;
    }
    if (j < n) {
      // Row tail: lanes 0, 1, 2 in order, added to the shared lane sums.
      let o = off4(j);
      lo = f64x2.replace_lane(lo, 0,
        f64x2.extract_lane(lo, 0) + sq(factoredU(load<f32>(row + o), ri, load<f32>(c + o), rMean, eps1Sq)));
      if (j + 1 < n) {
        o += 4;
        lo = f64x2.replace_lane(lo, 1,
          f64x2.extract_lane(lo, 1) + sq(factoredU(load<f32>(row + o), ri, load<f32>(c + o), rMean, eps1Sq)));
        if (j + 2 < n) {
          o += 4;
          hi = f64x2.replace_lane(hi, 0,
            f64x2.extract_lane(hi, 0) + sq(factoredU(load<f32>(row + o), ri, load<f32>(c + o), rMean, eps1Sq)));
        }
      }
    }
    row += rowBytes;
  }
  return (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1))
    + (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
}

// @ts-ignore: decorator
@inline function factoredApplyStep(
  rowP: usize, rowG: usize, c: usize, o: usize, riV: v128, rMeanV: v128, epsV: v128, kV: v128,
): void {
  const u = factoredUV(rowG, c, o, riV, rMeanV, epsV);
  v128.store(rowP + o, f32x4.add(v128.load(rowP + o), f32x4.mul(kV, u)));
}

/** p_ij ← f32(p_ij + f32(coeff·u_ij)). */
export function adafactor_factored_apply_f32(
  p: usize, g: usize, r: usize, c: usize, m: i32, n: i32, rMean: f32, eps1Sq: f32, coeff: f32,
): void {
  const rMeanV = f32x4.splat(rMean);
  const epsV = f32x4.splat(eps1Sq);
  const kV = f32x4.splat(coeff);
  const n4 = n & ~3;
  const n8 = n & ~7;
  const rowBytes = off4(n);
  let rowG = g;
  let rowP = p;
  for (let i = 0; i < m; i++) {
    const ri = load<f32>(r + off4(i));
    const riV = f32x4.splat(ri);
    let j = 0;
    for (; j < n8; j += 8) {
      const o = off4(j);
      factoredApplyStep(rowP, rowG, c, o, riV, rMeanV, epsV, kV);
      factoredApplyStep(rowP, rowG, c, o + 16, riV, rMeanV, epsV, kV);
    }
    if (j < n4) {
      factoredApplyStep(rowP, rowG, c, off4(j), riV, rMeanV, epsV, kV);
      j += 4;
    }
    for (; j < n; j++) {
      const o = off4(j);
      const u = factoredU(load<f32>(rowG + o), ri, load<f32>(c + o), rMean, eps1Sq);
      store<f32>(rowP + o, load<f32>(rowP + o) + coeff * u);
    }
    rowG += rowBytes;
    rowP += rowBytes;
  }
}

// ---------------------------------------------------------------------------------------------------
// Unfactored (vector) second moment and update u_i = f32(f32(1 / f32(sqrt(max(v_i, eps1Sq)))) · g_i)

// @ts-ignore: decorator
@inline function vecVarStep<SMALL>(v: usize, g: usize, o: usize, wV: v128, omwV: v128): void {
  const gv = v128.load(g + o);
  v128.store(v + o, lerpV<SMALL>(v128.load(v + o), f32x4.mul(gv, gv), wV, omwV));
}

function vecVarLoop<SMALL>(v: usize, g: usize, n: i32, w: f32, omw: f32): void {
  const wV = f32x4.splat(w);
  const omwV = f32x4.splat(omw);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    vecVarStep<SMALL>(v, g, o, wV, omwV);
    vecVarStep<SMALL>(v, g, o + 16, wV, omwV);
  }
  if (i < n4) {
    vecVarStep<SMALL>(v, g, off4(i), wV, omwV);
    i += 4;
  }
  for (; i < n; i++) {
    const o = off4(i);
    const gi = load<f32>(g + o);
    store<f32>(v + o, lerp<SMALL>(load<f32>(v + o), gi * gi, w, omw));
  }
}

/** v_i ← lerp(v_i, f32(g_i·g_i), w). */
export function adafactor_vec_var_f32(v: usize, g: usize, n: i32, w: f32, omw: f32, flags: i32): void {
  if ((flags & LERP_SMALL) != 0) vecVarLoop<On>(v, g, n, w, omw);
  else vecVarLoop<Off>(v, g, n, w, omw);
}

// @ts-ignore: decorator
@inline function vecU(gi: f32, vi: f32, eps1Sq: f32): f32 {
  return (<f32>1 / sqrt<f32>(max<f32>(vi, eps1Sq))) * gi;
}

/** u for the four elements at byte offset `o`. */
// @ts-ignore: decorator
@inline function vecUV(g: usize, v: usize, o: usize, epsV: v128): v128 {
  return f32x4.mul(f32x4.div(f32x4.splat(1), f32x4.sqrt(f32x4.max(v128.load(v + o), epsV))), v128.load(g + o));
}

/** Σ u_i² in lane order. */
export function adafactor_vec_sumsq_f32(g: usize, v: usize, n: i32, eps1Sq: f32): f64 {
  const epsV = f32x4.splat(eps1Sq);
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    const a = vecUV(g, v, o, epsV);
    const b = vecUV(g, v, o + 16, epsV);
    lo = f64x2.add(lo, sqLo(a));
    hi = f64x2.add(hi, sqHi(a));
    lo = f64x2.add(lo, sqLo(b));
    hi = f64x2.add(hi, sqHi(b));
  }
  if (i < n4) {
    const a = vecUV(g, v, off4(i), epsV);
    lo = f64x2.add(lo, sqLo(a));
    hi = f64x2.add(hi, sqHi(a));
    i += 4;
  }
  let s0 = f64x2.extract_lane(lo, 0);
  let s1 = f64x2.extract_lane(lo, 1);
  let s2 = f64x2.extract_lane(hi, 0);
  const s3 = f64x2.extract_lane(hi, 1);
  if (i < n) {
    let o = off4(i);
    s0 += sq(vecU(load<f32>(g + o), load<f32>(v + o), eps1Sq));
    if (i + 1 < n) {
      o += 4;
      s1 += sq(vecU(load<f32>(g + o), load<f32>(v + o), eps1Sq));
      if (i + 2 < n) {
        o += 4;
        s2 += sq(vecU(load<f32>(g + o), load<f32>(v + o), eps1Sq));
      }
    }
  }
  return (s0 + s1) + (s2 + s3);
}

// @ts-ignore: decorator
@inline function vecApplyStep(p: usize, g: usize, v: usize, o: usize, epsV: v128, kV: v128): void {
  v128.store(p + o, f32x4.add(v128.load(p + o), f32x4.mul(kV, vecUV(g, v, o, epsV))));
}

/** p_i ← f32(p_i + f32(coeff·u_i)). */
export function adafactor_vec_apply_f32(p: usize, g: usize, v: usize, n: i32, eps1Sq: f32, coeff: f32): void {
  const epsV = f32x4.splat(eps1Sq);
  const kV = f32x4.splat(coeff);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    vecApplyStep(p, g, v, o, epsV, kV);
    vecApplyStep(p, g, v, o + 16, epsV, kV);
  }
  if (i < n4) {
    vecApplyStep(p, g, v, off4(i), epsV, kV);
    i += 4;
  }
  for (; i < n; i++) {
    const o = off4(i);
    store<f32>(p + o, load<f32>(p + o) + coeff * vecU(load<f32>(g + o), load<f32>(v + o), eps1Sq));
  }
}
