/**
 * GEMM family: C ← α·op(A)·op(B) + β·C through strides, and the symmetric Gram product (syrk), which is
 * also the Gram-EMA update. Conventions as in `./elementwise.ts`; in addition:
 *
 * - Matrices are row-major f32 with a row stride in elements (`lda`, `ldb`, `ldc` ≥ the stored width),
 *   so a submatrix view is a pointer plus the parent's stride. A transpose flag (0 or 1) says how an
 *   operand is stored: `trans = 0` stores op(X) itself, `trans = 1` stores its transpose (op(X) = Xᵀ
 *   read through the strides, nothing is copied by the caller).
 * - Not bit-exact across backends: these kernels sum products in blocks and in an order of their own.
 *   `ref` accumulates every dot product in f64 and rounds once; other backends must stay within
 *     |c − c_ref| ≤ 2·(k + 4)·2⁻²⁴ · (|α|·Σ_p |op(A)_ip|·|op(B)_pj| + |β·c_ij|) + (k + 4)·2⁻¹⁴⁹
 *   (the worst-case bound of a length-k f32 sum of f32 products plus the α, β and depth-block
 *   roundings, with a factor 2 of slack; the last term covers underflow into subnormals). The sign of
 *   an exactly zero result is not specified.
 *   The `wasm` backend's result does not depend on how the rows of C are split into calls (see below),
 *   so it is deterministic for a given shape and k.
 * - Special values: NaN and ±Inf in A or B propagate as in any sum of products. When β = 0, C is
 *   write-only (NaN or garbage already in C never reaches the result). When α = 0 or k = 0, A and B are
 *   not read and C ← β·C (C ← 0 when β = 0), as the reference BLAS does.
 * - `scratch` is caller-provided working memory for packed panels: 16-byte aligned, at least
 *   `GEMM_SCRATCH_BYTES` bytes (a fixed size, independent of the shape), not shared with A, B, C or
 *   another thread's call; its contents on entry and exit mean nothing. A, B and C must not overlap
 *   (except A and B, which are only read).
 * - Row splits: a gemm over rows [r0, r1) of C is the same call with c + 4·r0·ldc, A offset by
 *   4·r0·lda (transA = 0) or 4·r0 (transA = 1), and m = r1 − r0; B is shared. Calls over disjoint row
 *   ranges, each with its own scratch, touch disjoint parts of C and give bit-for-bit the same C as one
 *   call over all rows, so a thread pool can split gemm by rows of C.
 * - Tall-skinny products with r ≪ m, e.g. Uᵀ·G (U m×r, G m×n: gemm with transA = 1, m → r, k = m) and
 *   U·X (U m×r, X r×n: k = r), are ordinary gemm calls.
 */
import type { Ptr } from './ptr.js';

/**
 * Bytes of scratch a gemm or syrk call needs (655,488: 640 KiB + 128 B): packed panels of A
 * (MC×KC = 32×256 values, each splatted to 4 f32) and of B (KC×NC = 256×512 f32) plus one 4×8 f32
 * edge tile. The wasm
 * backend's blocking (`assembly/gemm.ts`, exported there as the global `GEMM_SCRATCH_BYTES`; the
 * tests compare the two) is sized to exactly this; `ref` does not use scratch.
 */
export const GEMM_SCRATCH_BYTES = 4 * (4 * 32 * 256 + 256 * 512 + 32);

export interface GemmKernels {
  /**
   * General matrix product, row-major: C (m×n, row stride ldc) ← α·op(A)·op(B) + β·C, where op(A) is
   * m×k and op(B) is k×n:
   *   transA = 0: A stored m×k, op(A)_ip = a[i·lda + p];   transA = 1: A stored k×m, op(A)_ip = a[p·lda + i];
   *   transB = 0: B stored k×n, op(B)_pj = b[p·ldb + j];   transB = 1: B stored n×k, op(B)_pj = b[j·ldb + p].
   * Any m, n, k ≥ 0. `ref`: c_ij ← f32(α·Σ_p op(A)_ip·op(B)_pj + β·c_ij) in f64 (the β term left out
   * when β = 0; the product term left out when α = 0 or k = 0). `alpha`, `beta` are f32.
   */
  gemm(
    c: Ptr, ldc: number, a: Ptr, lda: number, transA: number, b: Ptr, ldb: number, transB: number,
    m: number, n: number, k: number, alpha: number, beta: number, scratch: Ptr,
  ): void;

  /**
   * Symmetric Gram product: C (n×n, row stride ldc) ← α·op(A)·op(A)ᵀ + β·C with op(A) n×k:
   *   trans = 0: A stored n×k (row stride lda), C ← α·A·Aᵀ + β·C   (Gram of the rows);
   *   trans = 1: A stored k×n (row stride lda), C ← α·Aᵀ·A + β·C   (Gram of the columns).
   * Only the lower triangle (i ≥ j) is computed (half the flops of gemm) and read (when β ≠ 0); the
   * strict upper triangle is then overwritten with its mirror, so C comes out exactly symmetric
   * (c_ij and c_ji bit for bit equal) whatever the upper triangle held. Per element as `gemm` with
   * op(B) = op(A)ᵀ, within the same tolerance.
   *
   * Gram-EMA S ← β·S + (1 − β)·A·Aᵀ (Shampoo/SOAP-style preconditioner statistics) is
   * `syrk(S, lds, A, lda, 0, n, k, 1 − β, β, scratch)`: pass alpha = f32(1 − β), beta = β.
   */
  syrk(
    c: Ptr, ldc: number, a: Ptr, lda: number, trans: number,
    n: number, k: number, alpha: number, beta: number, scratch: Ptr,
  ): void;
}

export const GEMM_KERNELS = ['gemm', 'syrk'] as const satisfies readonly (keyof GemmKernels)[];
