/**
 * GEMM kernels: gemm (C ← α·op(A)·op(B) + β·C through strides) and syrk (lower-triangle Gram product,
 * mirrored). Semantics and tolerance: `src/kernels/gemm.ts`; oracle: `src/backends/ref/gemm.ts`.
 *
 * Structure (the classic packed-panel GEMM):
 * - Blocking: for each column block of C (NC columns), for each depth block (KC), op(B)'s KC×NC block
 *   is packed into scratch as NR-wide panels (k-major: 8 consecutive floats per k; 512 KiB, held in
 *   L2); then for each row block (MC rows) op(A)'s MC×KC block is packed as MR-tall panels (k-major:
 *   per k the MR values, each splatted to an f32x4, 64 bytes), and the micro-kernel sweeps the block:
 *   MR-panels outer (one 16 KiB A panel stays in L1), NR-panels inner (B panels stream from L2, C is walked along its rows, which the hardware
 *   prefetcher follows). The opposite inner order (B panel in L1, A streaming) measured 5–8% slower
 *   at 1024³ on the development machine (probably because C tiles then walk down columns, four new rows per tile).
 * - Micro-kernel: MR×NR = 4×8 of C held in 8 f32x4 accumulators; per k, two B vectors and four
 *   pre-splatted A vectors (six loads, no shuffles), 8 `f32x4.mul` + 8 `f32x4.add` (no FMA). 11 live
 *   v128 values, under the 15 allocatable xmm registers V8 has on x64.
 * - Edges: partial panels are zero-padded when packed, so the micro-kernel always computes a full tile;
 *   a tile that sticks out of C goes through a 4×8 scratch tile and is written back with the same f32
 *   operations, element by element. Every element of C therefore sees the same operations in the same
 *   order wherever its tile starts: the result does not depend on how rows are split between calls.
 * - Write-back: on the first depth block c ← f32(α·acc) (+ f32(β·c) when β ≠ 0, else C is not read),
 *   on later ones c ← f32(α·acc) + c.
 *
 * Stateless: no globals (besides the exported constant below), no allocation; all working memory is the
 * caller's `scratch` (GEMM_SCRATCH_BYTES, laid out as [A panels 4·MC×KC][B panels KC×NC][tile MR×NR]).
 */
import { Off, On, isOn } from './common';

// Blocking, in elements, tuned by measurement on the development machine (Skylake-SP class, 32 KiB L1d,
// 1 MiB L2): KC 256–512 × MC 64–192 × NC 256–512 were all within noise at 1024³ and on the tall-skinny
// shapes, except NC = 256, which lost ~5% on Uᵀ·G; this is the smallest scratch among the best. The A
// panels are 4× larger since they hold splats, so MC went from 128 to 32: the same scratch size, and
// MC 32–128 were within noise on an AMD Zen 5 (48 KiB L1d, 1 MiB L2) at 1024³ and on the r = 128 shapes.
// Keep GEMM_SCRATCH_BYTES in sync with src/kernels/gemm.ts (the tests compare the two).
// @ts-ignore: decorator
@inline const MR: i32 = 4;
// @ts-ignore: decorator
@inline const NR: i32 = 8;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const MC: i32 = 32;
// @ts-ignore: decorator
@inline const NC: i32 = 512;

/** Scratch bytes a gemm / syrk call needs (an immutable exported global, read by the tests). */
export const GEMM_SCRATCH_BYTES: i32 = 4 * (4 * MC * KC + KC * NC + MR * NR);

// ---------------------------------------------------------------------------------------------------
// Micro-kernel

/**
 * One 4×8 tile of C from packed panels `pa` (kb×4 splatted: per k, four f32x4 each holding one
 * value of A in every lane) and `pb` (kb×8, k-major): acc = Σ_p a_p ⊗ b_p
 * (in increasing p), then c ← f32(α·acc) + f32(β·c) (β = 0: c ← f32(α·acc), C not read). `rows`×`cols`
 * is the part of the tile inside C; anything smaller than 4×8 goes through `tile` (32 f32 of scratch).
 */
function micro4x8(
  pa: usize, pb: usize, kb: i32, c: usize, ldcB: usize, alpha: f32, beta: f32, rows: i32, cols: i32, tile: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // One k step per iteration, on purpose: Binaryen merges the steps of a source-unrolled loop into one
  // expression tree per accumulator, which hoists all B loads to the top and spills (−10 to −25%); V8
  // does not unroll this body itself. A's four values come already splatted by the packing (four
  // plain loads, no shuffle): one load plus four lane shuffles ran ~20% slower on Zen 5, where the
  // shuffles compete with the mul/add pipes, and `v128.load32_splat` with an offset costs V8 a `lea`
  // per splat, which made the loop front-end bound.
  let b0: v128, b1: v128, a: v128;
  for (let p = 0; p < kb; p++) {
    b0 = v128.load(pb, 0);
    b1 = v128.load(pb, 16);
    a = v128.load(pa); c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load(pa, 16); c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load(pa, 32); c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load(pa, 48); c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += 64;
    pb += 32;
  }

  const alphaV = f32x4.splat(alpha);
  if (rows == MR && cols == NR) {
    if (beta == 0) {
      v128.store(c, f32x4.mul(alphaV, c00), 0); v128.store(c, f32x4.mul(alphaV, c01), 16); c += ldcB;
      v128.store(c, f32x4.mul(alphaV, c10), 0); v128.store(c, f32x4.mul(alphaV, c11), 16); c += ldcB;
      v128.store(c, f32x4.mul(alphaV, c20), 0); v128.store(c, f32x4.mul(alphaV, c21), 16); c += ldcB;
      v128.store(c, f32x4.mul(alphaV, c30), 0); v128.store(c, f32x4.mul(alphaV, c31), 16);
    } else {
      const betaV = f32x4.splat(beta);
      storeAB(c, c00, c01, alphaV, betaV); c += ldcB;
      storeAB(c, c10, c11, alphaV, betaV); c += ldcB;
      storeAB(c, c20, c21, alphaV, betaV); c += ldcB;
      storeAB(c, c30, c31, alphaV, betaV);
    }
    return;
  }
  // Edge tile: α·acc into the scratch tile, then element by element (same f32 operations as above).
  v128.store(tile, f32x4.mul(alphaV, c00), 0); v128.store(tile, f32x4.mul(alphaV, c01), 16);
  v128.store(tile, f32x4.mul(alphaV, c10), 32); v128.store(tile, f32x4.mul(alphaV, c11), 48);
  v128.store(tile, f32x4.mul(alphaV, c20), 64); v128.store(tile, f32x4.mul(alphaV, c21), 80);
  v128.store(tile, f32x4.mul(alphaV, c30), 96); v128.store(tile, f32x4.mul(alphaV, c31), 112);
  for (let i = 0; i < rows; i++) {
    const t = tile + (<usize>i << 5);
    if (beta == 0) {
      for (let j = 0; j < cols; j++) store<f32>(c + (<usize>j << 2), load<f32>(t + (<usize>j << 2)));
    } else {
      for (let j = 0; j < cols; j++) {
        const pc = c + (<usize>j << 2);
        store<f32>(pc, load<f32>(t + (<usize>j << 2)) + beta * load<f32>(pc));
      }
    }
    c += ldcB;
  }
}

/** c[0..8) ← f32(α·acc) + f32(β·c). */
// @ts-ignore: decorator
@inline function storeAB(c: usize, x0: v128, x1: v128, alphaV: v128, betaV: v128): void {
  v128.store(c, f32x4.add(f32x4.mul(alphaV, x0), f32x4.mul(betaV, v128.load(c, 0))), 0);
  v128.store(c, f32x4.add(f32x4.mul(alphaV, x1), f32x4.mul(betaV, v128.load(c, 16))), 16);
}

// ---------------------------------------------------------------------------------------------------
// Packing

/** 4×4 transpose: column q of the rows r0..r3 (lanes r0[q], r1[q], r2[q], r3[q]) goes to dst + q·stride. */
// @ts-ignore: decorator
@inline function transpose4Store(dst: usize, stride: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Generic (edge) packing of one panel: dst[p·w + r] ← r < valid ? x(r, p) : 0 for p < kb, r < w, where
 * x(r, p) is the f32 at src + r·sr + p·sp (byte strides).
 */
function packEdge(dst: usize, src: usize, sr: usize, sp: usize, valid: i32, w: i32, kb: i32): void {
  for (let p = 0; p < kb; p++) {
    const s = src + <usize>p * sp;
    const d = dst + (<usize>(p * w) << 2);
    for (let r = 0; r < w; r++) store<f32>(d + (<usize>r << 2), r < valid ? load<f32>(s + <usize>r * sr) : 0);
  }
}

/** Stores the four lanes of v as four splats at dst, dst + 16, dst + 32, dst + 48 (one k step of an A panel). */
// @ts-ignore: decorator
@inline function storeSplats(dst: usize, v: v128): void {
  v128.store(dst, v128.shuffle<f32>(v, v, 0, 0, 0, 0));
  v128.store(dst, v128.shuffle<f32>(v, v, 1, 1, 1, 1), 16);
  v128.store(dst, v128.shuffle<f32>(v, v, 2, 2, 2, 2), 32);
  v128.store(dst, v128.shuffle<f32>(v, v, 3, 3, 3, 3), 48);
}

/**
 * Pack op(A)[i0 .. i0+mb) × [p0 .. p0+kb) into MR-row panels at dst (panel s at dst + s·kb·16 bytes;
 * per k, MR f32x4 splats of the rows' values, 64 bytes), zero-padding the last panel.
 */
function packA(dst: usize, a: usize, lda: i32, transA: i32, i0: i32, p0: i32, mb: i32, kb: i32): void {
  const ldaB = <usize>lda << 2;
  for (let s = 0; s < mb; s += MR) {
    const valid = min<i32>(MR, mb - s);
    const d = dst + (<usize>(s * kb) << 4);
    const i = i0 + s;
    // op(A)_ip at a + i·sr + p·sp (byte strides).
    const sr = transA == 0 ? ldaB : 4, sp = transA == 0 ? <usize>4 : ldaB;
    const src = a + <usize>i * sr + <usize>p0 * sp;
    let p = 0;
    if (valid == MR) {
      if (transA == 0) {
        // Rows contiguous in p: 4×4 blocks, transposed (column q = the four rows at p + q).
        for (; p + 4 <= kb; p += 4) {
          const r = src + (<usize>p << 2);
          const r0 = v128.load(r), r1 = v128.load(r + ldaB), r2 = v128.load(r + 2 * ldaB), r3 = v128.load(r + 3 * ldaB);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const o = d + (<usize>p << 6);
          storeSplats(o, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          storeSplats(o + 64, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          storeSplats(o + 128, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          storeSplats(o + 192, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
      } else {
        // Four consecutive rows per p.
        for (; p < kb; p++) storeSplats(d + (<usize>p << 6), v128.load(src + <usize>p * ldaB));
      }
    }
    for (; p < kb; p++) {
      const sp0 = src + <usize>p * sp;
      const o = d + (<usize>p << 6);
      for (let r = 0; r < MR; r++) v128.store(o + (<usize>r << 4), f32x4.splat(r < valid ? load<f32>(sp0 + <usize>r * sr) : 0));
    }
  }
}

/**
 * Pack op(B)[p0 .. p0+kb) × [j0 .. j0+nb) into NR-column panels at dst (panel t at dst + t·kb·32
 * bytes, k-major), zero-padding the last panel.
 */
function packB(dst: usize, b: usize, ldb: i32, transB: i32, p0: i32, j0: i32, kb: i32, nb: i32): void {
  const ldbB = <usize>ldb << 2;
  for (let t = 0; t < nb; t += NR) {
    const valid = min<i32>(NR, nb - t);
    const d = dst + (<usize>(t * kb) << 2);
    const j = j0 + t;
    if (transB == 0) {
      // op(B)_pj = b[p·ldb + j]: 8 consecutive j per p.
      const src = b + <usize>p0 * ldbB + (<usize>j << 2);
      if (valid < NR) {
        packEdge(d, src, 4, ldbB, valid, NR, kb);
        continue;
      }
      for (let p = 0; p < kb; p++) {
        const s = src + <usize>p * ldbB;
        const o = d + (<usize>p << 5);
        v128.store(o, v128.load(s));
        v128.store(o, v128.load(s, 16), 16);
      }
    } else {
      // op(B)_pj = b[j·ldb + p]: rows j contiguous in p.
      const src = b + <usize>j * ldbB + (<usize>p0 << 2);
      if (valid < NR) {
        packEdge(d, src, ldbB, 4, valid, NR, kb);
        continue;
      }
      const kb4 = kb & ~3;
      let p = 0;
      for (; p < kb4; p += 4) {
        const r = src + (<usize>p << 2);
        const o = d + (<usize>p << 5);
        transpose4Store(o, 32,
          v128.load(r), v128.load(r + ldbB), v128.load(r + 2 * ldbB), v128.load(r + 3 * ldbB));
        const r4 = r + 4 * ldbB;
        transpose4Store(o + 16, 32,
          v128.load(r4), v128.load(r4 + ldbB), v128.load(r4 + 2 * ldbB), v128.load(r4 + 3 * ldbB));
      }
      if (p < kb) packEdge(d + (<usize>p << 5), src + (<usize>p << 2), ldbB, 4, NR, NR, kb - p);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Drivers

/**
 * The blocked product. LOWER (`On` for syrk, m = n): only tiles that reach the lower triangle
 * (some i ≥ j) are computed; tiles crossing the diagonal are computed whole (their upper part is
 * overwritten by the mirror afterwards).
 */
function gemmBlocked<LOWER>(
  c: usize, ldc: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  m: i32, n: i32, k: i32, alpha: f32, beta: f32, scratch: usize,
): void {
  const packedA = scratch;
  const packedB = scratch + (<usize>(MC * KC) << 4);
  const tile = packedB + (<usize>(KC * NC) << 2);
  const ldcB = <usize>ldc << 2;
  for (let jc = 0; jc < n; jc += NC) {
    const nb = min<i32>(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kb = min<i32>(KC, k - pc);
      packB(packedB, b, ldb, transB, pc, jc, kb, nb);
      const be: f32 = pc == 0 ? beta : 1;
      // LOWER: rows above jc have every tile of this column block above the diagonal.
      for (let ic = isOn<LOWER>() ? jc : 0; ic < m; ic += MC) {
        const mb = min<i32>(MC, m - ic);
        packA(packedA, a, lda, transA, ic, pc, mb, kb);
        for (let ir = 0; ir < mb; ir += MR) {
          const rows = min<i32>(MR, mb - ir);
          const i0 = ic + ir;
          // LOWER: only column panels with j0 ≤ i0 + MR − 1 reach the lower triangle.
          const jrEnd = isOn<LOWER>() ? min<i32>(nb, i0 + MR - jc) : nb;
          const pa = packedA + (<usize>(ir * kb) << 4);
          const cRow = c + <usize>i0 * ldcB + (<usize>jc << 2);
          for (let jr = 0; jr < jrEnd; jr += NR) {
            micro4x8(
              pa, packedB + (<usize>(jr * kb) << 2), kb,
              cRow + (<usize>jr << 2), ldcB, alpha, be, rows, min<i32>(NR, nb - jr), tile,
            );
          }
        }
      }
    }
  }
}

/** C ← β·C over m×n (C ← 0 when β = 0, C not read). */
function scaleC(c: usize, ldc: i32, m: i32, n: i32, beta: f32): void {
  const bV = f32x4.splat(beta);
  const n4 = n & ~3;
  for (let i = 0; i < m; i++) {
    const row = c + (<usize>i * <usize>ldc << 2);
    let j = 0;
    if (beta == 0) {
      for (; j < n4; j += 4) v128.store(row + (<usize>j << 2), f32x4.splat(0));
      for (; j < n; j++) store<f32>(row + (<usize>j << 2), 0);
    } else {
      for (; j < n4; j += 4) {
        const p = row + (<usize>j << 2);
        v128.store(p, f32x4.mul(bV, v128.load(p)));
      }
      for (; j < n; j++) {
        const p = row + (<usize>j << 2);
        store<f32>(p, beta * load<f32>(p));
      }
    }
  }
}

/** c_ji ← c_ij for i > j (n×n), in 32×32 blocks. */
function mirrorLower(c: usize, ldc: i32, n: i32): void {
  const ldcB = <usize>ldc << 2;
  for (let jb = 0; jb < n; jb += 32) {
    const je = min<i32>(jb + 32, n);
    for (let ib = jb; ib < n; ib += 32) {
      const ie = min<i32>(ib + 32, n);
      for (let i = ib; i < ie; i++) {
        const rowI = c + <usize>i * ldcB;
        const jEnd = min<i32>(je, i);
        for (let j = jb; j < jEnd; j++) {
          store<f32>(c + <usize>j * ldcB + (<usize>i << 2), load<f32>(rowI + (<usize>j << 2)));
        }
      }
    }
  }
}

/** C (m×n) ← α·op(A)·op(B) + β·C; see src/kernels/gemm.ts. */
export function gemm_f32(
  c: usize, ldc: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  m: i32, n: i32, k: i32, alpha: f32, beta: f32, scratch: usize,
): void {
  if (m <= 0 || n <= 0) return;
  if (alpha == 0 || k <= 0) {
    scaleC(c, ldc, m, n, beta);
    return;
  }
  gemmBlocked<Off>(c, ldc, a, lda, transA != 0 ? 1 : 0, b, ldb, transB != 0 ? 1 : 0, m, n, k, alpha, beta, scratch);
}

/** C (n×n) ← α·op(A)·op(A)ᵀ + β·C, lower triangle computed and mirrored; see src/kernels/gemm.ts. */
export function syrk_f32(
  c: usize, ldc: i32, a: usize, lda: i32, trans: i32, n: i32, k: i32, alpha: f32, beta: f32, scratch: usize,
): void {
  if (n <= 0) return;
  if (alpha == 0 || k <= 0) {
    scaleC(c, ldc, n, n, beta);
  } else {
    // op(B) = op(A)ᵀ: the same storage read with the other transpose flag.
    const t = trans != 0 ? 1 : 0;
    gemmBlocked<On>(c, ldc, a, lda, t, a, lda, 1 - t, n, n, k, alpha, beta, scratch);
  }
  mirrorLower(c, ldc, n);
}

// ---------------------------------------------------------------------------------------------------
// Benchmark helper (not a kernel)

/**
 * Single-core f32x4 multiply-add peak: 12 independent register-resident chains x ← x·m + d, each step
 * one `f32x4.mul` and one `f32x4.add` (the micro-kernel's instruction mix, no loads), two steps per
 * iteration: 12·2·4·2 = 192 flops per iteration. Returns a lane sum so the work cannot be dropped.
 */
export function bench_peak_f32(iters: i32, m: f32, d: f32): f32 {
  const mV = f32x4.splat(m);
  const dV = f32x4.splat(d);
  let x0 = f32x4.splat(1.0), x1 = f32x4.splat(1.5), x2 = f32x4.splat(2.0), x3 = f32x4.splat(2.5);
  let x4 = f32x4.splat(3.0), x5 = f32x4.splat(3.5), x6 = f32x4.splat(4.0), x7 = f32x4.splat(4.5);
  let x8 = f32x4.splat(5.0), x9 = f32x4.splat(5.5), x10 = f32x4.splat(6.0), x11 = f32x4.splat(6.5);
  for (let i = 0; i < iters; i++) {
    x0 = f32x4.add(f32x4.mul(x0, mV), dV); x1 = f32x4.add(f32x4.mul(x1, mV), dV);
    x2 = f32x4.add(f32x4.mul(x2, mV), dV); x3 = f32x4.add(f32x4.mul(x3, mV), dV);
    x4 = f32x4.add(f32x4.mul(x4, mV), dV); x5 = f32x4.add(f32x4.mul(x5, mV), dV);
    x6 = f32x4.add(f32x4.mul(x6, mV), dV); x7 = f32x4.add(f32x4.mul(x7, mV), dV);
    x8 = f32x4.add(f32x4.mul(x8, mV), dV); x9 = f32x4.add(f32x4.mul(x9, mV), dV);
    x10 = f32x4.add(f32x4.mul(x10, mV), dV); x11 = f32x4.add(f32x4.mul(x11, mV), dV);
    x0 = f32x4.add(f32x4.mul(x0, mV), dV); x1 = f32x4.add(f32x4.mul(x1, mV), dV);
    x2 = f32x4.add(f32x4.mul(x2, mV), dV); x3 = f32x4.add(f32x4.mul(x3, mV), dV);
    x4 = f32x4.add(f32x4.mul(x4, mV), dV); x5 = f32x4.add(f32x4.mul(x5, mV), dV);
    x6 = f32x4.add(f32x4.mul(x6, mV), dV); x7 = f32x4.add(f32x4.mul(x7, mV), dV);
    x8 = f32x4.add(f32x4.mul(x8, mV), dV); x9 = f32x4.add(f32x4.mul(x9, mV), dV);
    x10 = f32x4.add(f32x4.mul(x10, mV), dV); x11 = f32x4.add(f32x4.mul(x11, mV), dV);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(x6, x7))),
    f32x4.add(f32x4.add(x8, x9), f32x4.add(x10, x11)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
