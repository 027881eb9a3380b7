/**
 * Blocked Householder machinery (compact WY, as LAPACK's `geqrt`/`larft`/`larfb`/`orgqr`) on row-major
 * f64 matrices in scratch. Conventions and the reflector definition: `src/kernels/linalg.ts`.
 *
 * A panel of nb ≤ NB reflectors is held as Vr (nb rows of length L, row jj = v_jj with zeros before
 * component jj and 1 at jj), T (NB×NB upper triangular, H_0·…·H_{nb−1} = I − V·T·Vᵀ with V = Vrᵀ) and
 * the panel's τ. Applying the panel to an L×p block C is two matrix products with the f64 micro-kernel
 * (W = Vr·C, W ← T·W or Tᵀ·W, C −= Vrᵀ·W), in chunks of NC columns.
 */
import { at8, axpy64, dot64, gemm64, gemmPackElems, identity64, scale64 } from './linalg-blas';

// Keep in sync with LINALG_NB / LINALG_NC / blockWorkBytes in src/kernels/linalg.ts.
// @ts-ignore: decorator
@inline export const NB: i32 = 32;
// @ts-ignore: decorator
@inline export const NC: i32 = 256;

// @ts-ignore: decorator
@inline export function al16(bytes: usize): usize {
  return (bytes + 15) & ~(<usize>15);
}

/**
 * Row stride of the f64 working matrices for rows of n values (`paddedLd` in src/kernels/linalg.ts):
 * n rounded up to even, plus 8 when that is a multiple of 32, so that consecutive rows do not pile up
 * in a few cache sets.
 */
// @ts-ignore: decorator
@inline export function ldPad(n: i32): i32 {
  let ld = (n + 1) & ~1;
  if ((ld & 31) == 0) ld += 8;
  return ld;
}

/** Bytes of the block work for vectors of length up to L (`blockWorkBytes`). */
// @ts-ignore: decorator
@inline export function blockWorkBytes(L: i32): usize {
  return al16(<usize>(NB * (max(L, 1) + 10)) << 3) + al16(<usize>(NB * NB) << 3) + al16(<usize>(NB * ldPad(NC)) << 3) + al16(<usize>NB << 3)
    + al16(<usize>gemmPackElems(max(L, NC)) << 3);
}

// Block work regions: [Vr NB·(L+10) (rows of any length ≤ L at stride ldPad(length) ≤ L + 9)][T NB·NB]
// [W NB·ldPad(NC)][τ NB][GEMM packing gemmPackElems(max(L, NC))].
// @ts-ignore: decorator
@inline function workT(work: usize, L: i32): usize {
  return work + al16(<usize>(NB * (max(L, 1) + 10)) << 3);
}
// @ts-ignore: decorator
@inline function workW(work: usize, L: i32): usize {
  return workT(work, L) + al16(<usize>(NB * NB) << 3);
}
// @ts-ignore: decorator
@inline function workTau(work: usize, L: i32): usize {
  return workW(work, L) + al16(<usize>(NB * ldPad(NC)) << 3);
}
// @ts-ignore: decorator
@inline export function workPack(work: usize, L: i32): usize {
  return workTau(work, L) + al16(<usize>NB << 3);
}

/** The largest power of two ≤ x for normal x > 0 (the smallest normal below that): an exact scale. */
// @ts-ignore: decorator
@inline export function pow2Below(x: f64): f64 {
  const bits = reinterpret<u64>(x) & 0x7ff0000000000000;
  return bits == 0 ? 2.2250738585072014e-308 : reinterpret<f64>(bits);
}

/**
 * β of the reflector for x = (α, x₂), ‖x₂‖² = sq > 0, x₂ the `len` f64 at `x`: −sign(α)·‖x‖ (sign(0)
 * = +). When α² + sq < 2⁻⁹⁰⁰ (entries decayed to ~1e-150 and less, as in the reduction of exactly
 * low-rank matrices) ‖x‖ is recomputed with the entries scaled by an exact power of two near max|x|,
 * so that no digits are lost to subnormals (the oracle's `house`).
 */
export function houseBeta(alpha: f64, sq: f64, x: usize, len: i32): f64 {
  let norm = Math.sqrt(alpha * alpha + sq);
  if (alpha * alpha + sq < 1.1830521861667747e-271) { // 2⁻⁹⁰⁰
    let amax = Math.abs(alpha);
    for (let i = 0; i < len; i++) amax = max(amax, Math.abs(load<f64>(at8(x, i))));
    const sc = pow2Below(amax);
    let ss = (alpha / sc) * (alpha / sc);
    for (let i = 0; i < len; i++) {
      const y = load<f64>(at8(x, i)) / sc;
      ss += y * y;
    }
    norm = Math.sqrt(ss) * sc;
  }
  return alpha >= 0 ? -norm : norm;
}

/** T (upper triangular, stride NB) of the panel Vr (nb rows of length L, stride ldv) with τ at `taus`. */
function buildT(vr: usize, L: i32, ldv: i32, nb: i32, taus: usize, t: usize): void {
  for (let i = 0; i < nb; i++) {
    const ti = load<f64>(at8(taus, i));
    const vi = at8(vr, i * ldv);
    // t_p = −τ_i·(v_p·v_i) for p < i (v_i is zero before component i).
    for (let p = 0; p < i; p++) store<f64>(at8(t, p * NB + i), -ti * dot64(at8(vr, p * ldv + i), at8(vi, i), L - i));
    // T[0:i, i] ← T[0:i, 0:i]·t (upper triangular: ascending p reads only entries not yet replaced).
    for (let p = 0; p < i; p++) {
      let s: f64 = 0;
      for (let q = p; q < i; q++) s += load<f64>(at8(t, p * NB + q)) * load<f64>(at8(t, q * NB + i));
      store<f64>(at8(t, p * NB + i), s);
    }
    store<f64>(at8(t, i * NB + i), ti);
  }
}

/** W (nb×nc, stride ldw) ← T·W (trans = false) or Tᵀ·W (trans = true). */
function triMul(t: usize, nb: i32, w: usize, nc: i32, ldw: i32, trans: bool): void {
  if (!trans) {
    for (let i = 0; i < nb; i++) {
      const wi = at8(w, i * ldw);
      scale64(wi, nc, load<f64>(at8(t, i * NB + i)));
      for (let p = i + 1; p < nb; p++) axpy64(wi, at8(w, p * ldw), nc, load<f64>(at8(t, i * NB + p)));
    }
  } else {
    for (let i = nb - 1; i >= 0; i--) {
      const wi = at8(w, i * ldw);
      scale64(wi, nc, load<f64>(at8(t, i * NB + i)));
      for (let p = 0; p < i; p++) axpy64(wi, at8(w, p * ldw), nc, load<f64>(at8(t, p * NB + i)));
    }
  }
}

/**
 * C (L×ncols, stride ldc) ← (I − V·T·Vᵀ)·C, or with Tᵀ when `trans` (the panel's Qᵀ), using the panel
 * Vr/T of the block work `work` (vector length bound Lmax).
 */
function applyBlock(work: usize, Lmax: i32, L: i32, nb: i32, c: usize, ldc: i32, ncols: i32, trans: bool): void {
  const vr = work, t = workT(work, Lmax), w = workW(work, Lmax), pk = workPack(work, Lmax);
  const ldv = ldPad(L);
  for (let c0 = 0; c0 < ncols; c0 += NC) {
    const nc = min(NC, ncols - c0);
    const ldw = ldPad(nc);
    const cc = at8(c, c0);
    gemm64(nb, nc, L, 1.0, vr, ldv, 1, cc, ldc, w, ldw, false, pk);
    triMul(t, nb, w, nc, ldw, trans);
    gemm64(L, nc, nb, -1.0, vr, 1, ldv, w, ldw, cc, ldc, true, pk);
  }
}

/**
 * Unblocked Householder QR of the panel held transposed in Vr (nb rows = columns, length L): row jj
 * ends as (R_0jj..R_jjjj, v below), τ_jj at taus[jj].
 */
function panelFactor(vr: usize, L: i32, ldv: i32, nb: i32, taus: usize): void {
  for (let jj = 0; jj < nb; jj++) {
    const vj = at8(vr, jj * ldv);
    const len = L - jj - 1;
    const alpha = load<f64>(at8(vj, jj));
    const sq = len > 0 ? dot64(at8(vj, jj + 1), at8(vj, jj + 1), len) : 0;
    if (sq == 0) {
      store<f64>(at8(taus, jj), 0);
      continue;
    }
    const beta = houseBeta(alpha, sq, at8(vj, jj + 1), len);
    const t = (beta - alpha) / beta;
    store<f64>(at8(taus, jj), t);
    scale64(at8(vj, jj + 1), len, 1 / (alpha - beta));
    store<f64>(at8(vj, jj), beta);
    for (let rr = jj + 1; rr < nb; rr++) {
      const row = at8(vr, rr * ldv);
      const s = (load<f64>(at8(row, jj)) + dot64(at8(vj, jj + 1), at8(row, jj + 1), len)) * t;
      store<f64>(at8(row, jj), load<f64>(at8(row, jj)) - s);
      axpy64(at8(row, jj + 1), at8(vj, jj + 1), len, -s);
    }
  }
}

/**
 * Blocked Householder QR of the m×n f64 matrix at `af` (stride ld), in place: R in the upper triangle,
 * v_j below the diagonal, τ_j (f64) at tau64[j]. `work`: blockWorkBytes(m).
 */
export function qrFactorCore(af: usize, ld: i32, m: i32, n: i32, tau64: usize, work: usize): void {
  const k = min(m, n);
  const vr = work, tb = workT(work, m), tw = workTau(work, m);
  for (let j0 = 0; j0 < k; j0 += NB) {
    const nb = min(NB, k - j0), L = m - j0, ldv = ldPad(L);
    // Panel columns j0..j0+nb−1, rows j0..m−1, transposed into Vr.
    for (let q = 0; q < L; q++) {
      const row = at8(af, (j0 + q) * ld + j0);
      for (let jj = 0; jj < nb; jj++) store<f64>(at8(vr, jj * ldv + q), load<f64>(at8(row, jj)));
    }
    panelFactor(vr, L, ldv, nb, tw);
    for (let jj = 0; jj < nb; jj++) store<f64>(at8(tau64, j0 + jj), load<f64>(at8(tw, jj)));
    for (let q = 0; q < L; q++) {
      const row = at8(af, (j0 + q) * ld + j0);
      for (let jj = 0; jj < nb; jj++) store<f64>(at8(row, jj), load<f64>(at8(vr, jj * ldv + q)));
    }
    if (j0 + nb < n) {
      for (let jj = 0; jj < nb; jj++) {
        const vj = at8(vr, jj * ldv);
        for (let q = 0; q < jj; q++) store<f64>(at8(vj, q), 0);
        store<f64>(at8(vj, jj), 1);
      }
      buildT(vr, L, ldv, nb, tw, tb);
      applyBlock(work, m, L, nb, at8(af, j0 * ld + j0 + nb), ld, n - j0 - nb, true);
    }
  }
}

/**
 * Loads the panel of reflectors j0..j0+nb−1 into Vr (length L = m − j0): element i (> j) of reflector
 * j is at vbase[j·sr + i·sc] (type T: f32 or f64); τ_j = 2/‖v_j‖² in f64, or 0 where the stored τ is 0.
 */
function gatherPanel<T>(work: usize, Lmax: i32, vbase: usize, sr: i32, sc: i32, j0: i32, nb: i32, m: i32, taus: usize): void {
  const vr = work, tw = workTau(work, Lmax), L = m - j0, ldv = ldPad(L);
  for (let jj = 0; jj < nb; jj++) {
    const j = j0 + jj;
    const row = at8(vr, jj * ldv);
    for (let q = 0; q < jj; q++) store<f64>(at8(row, q), 0);
    store<f64>(at8(row, jj), 1);
    let sq: f64 = 0;
    for (let i = j + 1; i < m; i++) {
      const x = <f64>load<T>(vbase + (<usize>(j * sr + i * sc) << alignof<T>()));
      store<f64>(at8(row, i - j0), x);
      sq += x * x;
    }
    const stored = <f64>load<T>(taus + (<usize>j << alignof<T>()));
    store<f64>(at8(tw, jj), stored == 0 ? 0 : 2 / (1 + sq));
  }
}

/**
 * The first `cols` columns of Q = H_0·…·H_{k−1} (vectors of length m, reflector storage as in
 * `gatherPanel`) into the m×cols f64 matrix at qf (stride ldq), by backward accumulation.
 */
export function formQCore<T>(qf: usize, ldq: i32, vbase: usize, sr: i32, sc: i32, m: i32, k: i32, cols: i32, taus: usize, work: usize): void {
  identity64(qf, ldq, m, cols);
  if (k <= 0) return;
  const tb = workT(work, m), tw = workTau(work, m);
  for (let j0 = ((k - 1) / NB) * NB; j0 >= 0; j0 -= NB) {
    if (j0 >= cols) continue; // these reflectors leave the first `cols` columns alone
    const nb = min(NB, k - j0), L = m - j0;
    gatherPanel<T>(work, m, vbase, sr, sc, j0, nb, m, taus);
    buildT(work, L, ldPad(L), nb, tw, tb);
    applyBlock(work, m, L, nb, at8(qf, j0 * ldq + j0), ldq, cols - j0, false);
  }
}

/**
 * C (m×p f64, stride ldc) ← Q·C (trans = false) or Qᵀ·C (trans = true), Q = H_0·…·H_{k−1} (reflector
 * storage as in `gatherPanel`).
 */
export function applyQCore<T>(cf: usize, ldc: i32, vbase: usize, sr: i32, sc: i32, m: i32, k: i32, taus: usize, p: i32, trans: bool, work: usize): void {
  if (k <= 0 || p <= 0) return;
  const tb = workT(work, m), tw = workTau(work, m);
  const last = ((k - 1) / NB) * NB;
  for (let s = 0; s <= last; s += NB) {
    const j0 = trans ? s : last - s;
    const nb = min(NB, k - j0), L = m - j0;
    gatherPanel<T>(work, m, vbase, sr, sc, j0, nb, m, taus);
    buildT(work, L, ldPad(L), nb, tw, tb);
    applyBlock(work, m, L, nb, at8(cf, j0 * ldc), ldc, p, trans);
  }
}
