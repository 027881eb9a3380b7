/**
 * The kernel set, linear algebra: Householder QR, symmetric eigendecomposition, SVD.
 *
 * Conventions as in `./elementwise.ts`, plus:
 * - Matrices are f32, row-major, with a row stride (`lda`, `ldq`, …, in elements, ≥ the row length).
 *   f32 pointers must be 4-byte aligned, `scratch` 8-byte aligned (the arena gives 16).
 * - Everything is computed in f64 (f32 inputs are exact in f64); outputs are rounded to f32 once, at
 *   the end. Internal f64 work arrays live in the caller's `scratch` (sizes: the `*ScratchBytes`
 *   helpers below; contents undefined on return). Kernels allocate nothing and keep no state.
 * - Every kernel returns a status (`LinalgStatus`): 0 success; 1 the input holds NaN or ±Infinity
 *   (checked first: nothing is written); 2 an iteration did not converge (outputs undefined; never
 *   seen in testing, the iteration count is bounded so a kernel cannot hang); 3 a bad argument
 *   (negative size, stride shorter than a row, unknown mode, misaligned pointer, one of `u`/`vt`
 *   null: nothing is written). `checkLinalgStatus` turns a non-zero status into a `FisheroptError`.
 * - Inputs are read completely before any output is written, so an output may share memory with the
 *   input matrix when shapes and strides agree (LAPACK style: `q` over `a`, `v` over `a`, `u` over `a`).
 *   Outputs must not overlap each other or `scratch`.
 * - `ref` and `wasm` implement the same algorithms (same reflector and sign conventions, same
 *   iteration), `ref` unblocked in scalar f64, `wasm` blocked with f64x2 SIMD. They differ only by f64
 *   rounding order, i.e. an f32 ulp or so after the final rounding; see "Tolerances" below.
 *
 * Algorithms
 * - Householder reflectors (LAPACK `larfg` conventions): for x = (α, x₂), β = −sign(α)·‖x‖
 *   (sign(0) = +), τ = (β − α)/β, v = (1, x₂/(α − β)), so (I − τ·v·vᵀ)·x = β·e₁; when x₂ = 0, τ = 0
 *   (H = I) and β = α.
 * - QR (`qrFactor`): Householder QR. `wasm` is blocked (compact WY, LAPACK `geqrt`/`larft`/`larfb`):
 *   panels of LINALG_NB = 32 columns are factored unblocked, T (32×32 upper triangular, Q_panel =
 *   I − V·T·Vᵀ) is built, and the trailing columns are updated with two f64 matrix products
 *   (W = Vᵀ·C, C −= V·(Tᵀ·W)) in chunks of LINALG_NC = 256 columns. The products use linalg's own
 *   packed f64x2 micro-kernel (2×8 tile, A pre-splatted; 26–29 GFLOP/s on an AMD Zen 5, about the
 *   speed of a register-resident f64x2 mul+add loop there). f64 working matrices have padded row strides (`paddedLd`).
 * - Q (`qrFormQ`) by backward accumulation (LAPACK `orgqr`), `qrApply` by the same block reflectors.
 *   Both recompute each τⱼ ≠ 0 as 2/‖vⱼ‖² in f64 from the stored f32 vⱼ: the reflectors applied are
 *   then orthogonal to f64 precision although vⱼ was rounded to f32 (the stored τⱼ only matters when
 *   it is 0, meaning H = I).
 * - `eigh`: (A + Aᵀ)/2 is reduced to tridiagonal T = Qᵀ·A·Q by Householder reflectors (LAPACK `sytd2`;
 *   `wasm` keeps only the lower triangle after the first step and fuses each step's rank-2 update with
 *   the next step's matrix-vector product: one pass over half the trailing matrix per step).
 *   Eigenvalues only (v = 0): the implicit QL iteration with Wilkinson shifts (EISPACK `tql2`),
 *   deflating where |e_m| ≤ ε₆₄·(|d_m| + |d_m+1|) (or |e_m| ≤ 1e-300), at most 30·n sweeps.
 *   With eigenvectors: divide and conquer on T (Cuppen; LAPACK `stedc`/`laed0`–`laed4`), then
 *   V = Q·Z by the blocked reflectors (as `qrApply`). A block larger than 32 is torn in two at its
 *   middle (the coupling |β| subtracted from the two diagonal entries it joins), both halves solved,
 *   and merged: with D the halves' eigenvalues and z (‖z‖ = 1) from the last row of the left half's
 *   eigenvectors and the first row of the right half's (the latter times sign β), the merged block is
 *   D + ρ·z·zᵀ, ρ = 2|β|. Deflation (tol = 8·ε₆₄·max(|D|, ρ)): entries with ρ·|z_j| ≤ tol keep their
 *   (d_j, vector); neighbours in sorted order with |(d_j − d_p)·c·s| ≤ tol after the Givens rotation
 *   (c, s) that zeroes z_p are rotated and the first deflated. The k remaining eigenvalues are the
 *   roots of the secular equation 1 + ρ·Σ z_j²/(d_j − λ) = 0, one in each (d_i, d_{i+1}) and the last
 *   in (d_k, d_k + ρ‖z‖²], each held as τ = λ − d_o from its nearer pole d_o (so the distances
 *   d_j − λ keep full relative accuracy), found by a two-pole rational model (matching f and f' at the
 *   current point, solved exactly) inside a bisection bracket, stopped at rounding level (at most 120
 *   steps). The problem is scaled by an exact power of two first, so that blocks of tiny entries (the
 *   reduction of exactly low-rank matrices decays to ~1e-160) neither underflow nor overflow. The
 *   eigenvectors use Gu–Eisenstat's ẑ, recomputed from the computed eigenvalues
 *   (ẑ_j² = Π_i (λ_i − d_j) / (ρ·Π_{i≠j} (d_i − d_j))), so they are orthogonal to working precision
 *   however close the eigenvalues: u_i ∝ (ẑ_j/(d_j − λ_i))_j. The block's eigenvectors become
 *   Z_block·U, computed with f64 matrix products on the non-zero parts only (the halves' vectors are
 *   zero outside their rows unless a deflating rotation mixed them: LAPACK's column grouping). Leaves
 *   (≤ 32) are solved by QL with the rotations applied to their vectors. Reflector norms are
 *   recomputed with an exact power-of-two scaling when α² + ‖x‖² < 2⁻⁹⁰⁰ (everywhere a reflector is
 *   made: QR and tridiagonalization, both backends).
 *   Eigenvalues are sorted descending (ties by position), each eigenvector's largest-magnitude
 *   component (the first of equals) is made positive, so the output is deterministic.
 * - `svd`: with X = A (m ≥ n) or Aᵀ (m < n), X is M×N, M ≥ N: G = Xᵀ·X in f64 (`wasm`: lower triangle,
 *   mirrored), eigh(G) = Y·Λ·Yᵀ as above (Y's columns are the right singular vectors of X, signs as in
 *   eigh), B = X·Y, σᵢ = ‖bᵢ‖ (f64; the columns are re-sorted by σ, a no-op unless rounding swaps
 *   near-equal values), the columns normalized (when σᵢ > 0). If every σᵢ ≥ 1e-4·σ₁ > 0 and no completion
 *   is wanted (thin, or M = N), the left singular vectors are these columns: uᵢ·uⱼ =
 *   yᵢᵀ·G·yⱼ/(σᵢσⱼ) ≲ ε₆₄·σ₁²/(σᵢσⱼ) ≤ 2e-8, as eigh's vectors are G-orthogonal to working
 *   precision. Otherwise B = Q·R by Householder QR and the left singular vectors are Q's columns with
 *   signs making diag(R) ≥ 0, so again uᵢ ≈ bᵢ/σᵢ (full mode: all M columns of Q, the extra ones
 *   completing the basis). Signs: the vectors from eigh (V's columns when
 *   m ≥ n, U's when m < n) have their largest-magnitude component positive; the other side follows
 *   from A. Values-only mode returns σᵢ = √max(λᵢ, 0) (eigenvalues-only eigh of G).
 *   Accuracy of the Gram approach: G is formed and diagonalized in f64, so λᵢ = σᵢ² carries an error of
 *   about ε₆₄·σ₁², i.e. σᵢ an absolute error ≲ ε₆₄·σ₁²/σᵢ, and at most √ε₆₄·σ₁ ≈ 1.5e-8·σ₁ for tiny or
 *   zero σᵢ (measured ≤ 2.6e-8·σ₁ for rank-deficient and cond 1e7/1e9 matrices): below the f32 rounding
 *   of A itself (6e-8·‖A‖), as accurate in absolute terms as a backward-stable f32 SVD (LAPACK
 *   `sgesvd`). Neither gives relative accuracy to singular values far below ε₃₂·σ₁. The vectors of tiny
 *   or clustered singular values are, as with any SVD, determined only as a subspace; U is orthonormal
 *   by construction (QR) whatever B is.
 *
 * Tolerances (test/linalg.test.ts): wasm vs ref, max |difference| — qrFactor R ≤ 2e-6·max|R|,
 * reflectors and τ ≤ 2e-6; qrFormQ ≤ 2e-6; qrApply ≤ 2e-6·max|C|; eigh eigenvalues ≤ 2e-6·max|w|,
 * eigenvectors ≤ 2e-5 (sign-matched; projectors within clusters closer than 1e-4·‖A‖); svd singular
 * values ≤ 2e-6·σ₁, singular vector pairs ≤ 2e-5. Invariants on both backends: orthogonality
 * max|XᵀX − I| ≤ 4e-7, reconstruction ‖A − …‖_F/‖A‖_F ≤ 4e-7, eigen/singular values within
 * 2·ε₃₂·‖A‖_F of the exact ones of the matrix before its rounding to f32.
 *
 * Measured accuracy (bench/linalg.bench.mjs, n = 256, f32 outputs; S = Qᵀ·diag(λ)·Q and
 * G = Q₁ᵀ·diag(|λ|)·Q₂ with |λ| spread geometrically from 1 to 1/cond; identical on both backends to
 * the digits shown):
 *
 *   cond   QR orth  QR recon  eigh orth  eigh recon  eigh |Δλ|  SVD orth U/V   SVD recon  SVD |Δσ|
 *   1e1    1.5e-8   5.2e-8    1.8e-8     4.2e-8      3.2e-8     1.5e-8/1.5e-8  4.3e-8     2.9e-8
 *   1e2    1.8e-8   4.8e-8    1.5e-8     4.3e-8      2.8e-8     1.7e-8/1.9e-8  4.3e-8     2.8e-8
 *   1e4    1.5e-8   4.6e-8    1.9e-8     4.3e-8      2.8e-8     1.5e-8/1.7e-8  4.2e-8     2.8e-8
 *   1e6    1.7e-8   4.5e-8    1.6e-8     4.3e-8      2.8e-8     1.4e-8/1.4e-8  4.3e-8     2.8e-8
 *
 * (orth = max|XᵀX − I|; recon = ‖A − QR‖, ‖A − VΛVᵀ‖, ‖A − UΣVᵀ‖ over ‖A‖, Frobenius; |Δλ|, |Δσ| =
 * max absolute error against the exact values, ‖A‖₂ = 1.) These are the f32 rounding of the outputs:
 * the f64 computation contributes ~1e-15. The condition number does not matter: every algorithm here
 * is backward stable in f64. Speed: bench/results/linalg.md.
 */
import { FisheroptError } from '../errors.js';
import type { Ptr } from './ptr.js';

/** Status codes returned by every linalg kernel. */
export const LinalgStatus = {
  OK: 0,
  /** The input holds NaN or ±Infinity; nothing was written. */
  NON_FINITE: 1,
  /** The QL iteration did not converge within 30·n sweeps; outputs are undefined. */
  NO_CONVERGENCE: 2,
  /** A size, stride, mode or pointer alignment is invalid; nothing was written. */
  BAD_ARGUMENT: 3,
} as const;

/** `qrApply` modes: which product replaces C. */
export const QrApplyMode = {
  /** C ← Q·C (C is m×p). */
  Q_C: 0,
  /** C ← Qᵀ·C (C is m×p). */
  QT_C: 1,
  /** C ← C·Q (C is p×m). */
  C_Q: 2,
  /** C ← C·Qᵀ (C is p×m). */
  C_QT: 3,
} as const;

export interface LinalgKernels {
  /**
   * Householder QR of the m×n matrix A (stride lda ≥ n), in place, as LAPACK `geqrf`: with k = min(m, n),
   * R (k×n, upper triangular/trapezoidal) overwrites the upper triangle of A; below the diagonal of
   * column j (rows j+1..m−1) lie the components j+1..m−1 of v_j (v_j has zeros before j and 1 at j, not
   * stored); tau[0..k−1] (f32) receive τ_j. A = Q·R with Q = H_0·H_1·…·H_{k−1}, H_j = I − τ_j·v_j·v_jᵀ.
   * diag(R) may be negative (β = −sign(α)·‖x‖). scratch: `qrScratchBytes(m, n)`.
   * Returns 0, 1 (non-finite A, untouched) or 3.
   */
  qrFactor(a: Ptr, lda: number, m: number, n: number, tau: Ptr, scratch: Ptr): number;

  /**
   * The first `cols` columns of Q = H_0·…·H_{k−1} (k = min(m, n), reflectors and tau as `qrFactor`
   * left them in the m×n matrix A) into the m×cols matrix q (stride ldq ≥ cols), 0 ≤ cols ≤ m:
   * cols = k gives the reduced Q, cols = m the full orthogonal Q (columns k..m−1 complete the basis).
   * q may be a itself (ldq = lda): the reflectors are read first. Each τ_j ≠ 0 is recomputed as
   * 2/‖v_j‖² in f64. scratch: `qrFormQScratchBytes(m, n, cols)`.
   * Returns 0, 1 (non-finite reflector or tau; q untouched) or 3.
   */
  qrFormQ(q: Ptr, ldq: number, a: Ptr, lda: number, m: number, n: number, cols: number, tau: Ptr, scratch: Ptr): number;

  /**
   * C ← Q·C, Qᵀ·C, C·Q or C·Qᵀ (`mode`, see `QrApplyMode`) without forming Q = H_0·…·H_{kRefl−1} (m×m),
   * the reflectors being the first kRefl ≤ m columns of the m-row matrix A as `qrFactor` left them
   * (stride lda ≥ kRefl). C has stride ldc and is m×p for modes 0/1, p×m for modes 2/3. Each τ_j ≠ 0 is
   * recomputed as 2/‖v_j‖² in f64. scratch: `qrApplyScratchBytes(m, p)`.
   * Returns 0, 1 (non-finite C, reflector or tau; C untouched) or 3.
   */
  qrApply(c: Ptr, ldc: number, a: Ptr, lda: number, m: number, kRefl: number, tau: Ptr, p: number, mode: number, scratch: Ptr): number;

  /**
   * Symmetric eigendecomposition of S = (A + Aᵀ)/2, A n×n (stride lda ≥ n; both triangles are read):
   * w[0..n−1] (f32) ← the eigenvalues in descending order; when v ≠ 0, the n×n matrix V (stride
   * ldv ≥ n) ← orthonormal eigenvectors as columns (S·V = V·diag(w)), each with its largest-magnitude
   * component positive. v = 0: eigenvalues only (no eigenvector work after the reduction). v may be a.
   * scratch: `eighScratchBytes(n)`. Returns 0, 1 (non-finite A), 2 (no convergence) or 3.
   */
  eigh(v: Ptr, ldv: number, w: Ptr, a: Ptr, lda: number, n: number, scratch: Ptr): number;

  /**
   * Singular value decomposition A = U·diag(s)·Vᵀ of the m×n matrix A (stride lda ≥ n), k = min(m, n):
   * s[0..k−1] (f32) ← singular values, descending. full = 0 (thin): U is m×k (stride ldu ≥ k) and Vᵀ
   * k×n (stride ldvt ≥ n); full = 1: U is m×m (ldu ≥ m) and Vᵀ n×n (ldvt ≥ n), orthogonal, the extra
   * columns of U / rows of Vᵀ completing the bases. u = vt = 0: singular values only (one of them 0
   * alone is a bad argument). Outputs may be a when shapes agree. scratch: `svdScratchBytes(m, n, full)`.
   * Returns 0, 1 (non-finite A), 2 (no convergence) or 3.
   */
  svd(u: Ptr, ldu: number, s: Ptr, vt: Ptr, ldvt: number, a: Ptr, lda: number, m: number, n: number, full: number, scratch: Ptr): number;
}

export const LINALG_KERNELS = ['qrFactor', 'qrFormQ', 'qrApply', 'eigh', 'svd'] as const satisfies readonly (keyof LinalgKernels)[];

// ----------------------------------------------------------------------------------------------------
// Scratch sizes. Both backends lay scratch out with `linalgLayout`-style 16-byte aligned regions; keep
// these formulas in sync with `assembly/linalg.ts` (the tests call every kernel with exactly this many
// bytes between guard words).

/** Panel width of the blocked Householder algorithms. */
export const LINALG_NB = 32;
/** Column chunk of the block-reflector updates. */
export const LINALG_NC = 256;

const al16 = (bytes: number): number => Math.ceil(Math.max(bytes, 0) / 16) * 16;
const f64s = (count: number): number => al16(8 * count);

/**
 * Row stride of the f64 working matrices for rows of n values: n rounded up to even, plus 8 when that
 * is a multiple of 32 (row strides of a multiple of 256 bytes map rows onto few cache sets).
 */
export function paddedLd(n: number): number {
  let ld = (n + 1) & ~1;
  if ((ld & 31) === 0) ld += 8;
  return ld;
}

/** f64 elements of the f64 GEMM's packing space for products whose dimensions are all ≤ d (KC 256, NC 128, MC 32; A splatted, 2 f64 per value). */
export function gemmPackElements(d: number): number {
  const x = Math.max(d, 1);
  const kc = Math.min(256, x), nc = Math.min(128, (x + 7) & ~7), mc = Math.min(32, (x + 1) & ~1);
  return kc * nc + 2 * mc * kc;
}

/**
 * Work of one block-reflector application over vectors of length ≤ m: panel V (NB×(m+10)), T (NB×NB),
 * W (NB×(NC+8)), τ (NB), GEMM packing.
 */
export function blockWorkBytes(m: number): number {
  return f64s(LINALG_NB * (Math.max(m, 1) + 10)) + f64s(LINALG_NB * LINALG_NB) + f64s(LINALG_NB * paddedLd(LINALG_NC)) + f64s(LINALG_NB)
    + f64s(gemmPackElements(Math.max(m, LINALG_NC)));
}

/** Scratch bytes of `qrFactor` on an m×n matrix: the f64 copy, τ, block work. */
export function qrScratchBytes(m: number, n: number): number {
  return f64s(m * paddedLd(n)) + f64s(Math.min(m, n)) + blockWorkBytes(m);
}

/** Scratch bytes of `qrFormQ` forming `cols` columns of Q from an m×n factorization. */
export function qrFormQScratchBytes(m: number, _n: number, cols: number): number {
  return f64s(m * paddedLd(cols)) + blockWorkBytes(m);
}

/** Scratch bytes of `qrApply` with an m×m Q and p other columns (rows) in C. */
export function qrApplyScratchBytes(m: number, p: number): number {
  return f64s(m * paddedLd(p)) + blockWorkBytes(m);
}

/**
 * Scratch bytes of the symmetric eigensolver on n×n (also the core of `svd`): S and the vectors (n×(n+10)
 * f64 each), d, e, τ, two n-vectors, the permutation, block work, divide-and-conquer work; about
 * 3·8·n² bytes (25 MiB at n = 1024).
 */
export function eighScratchBytes(n: number): number {
  return 2 * f64s(n * (n + 10)) + 5 * f64s(n) + al16(4 * n) + blockWorkBytes(n) + dcWorkBytes(n);
}

/** Rows per chunk of the divide-and-conquer merge products. */
const DC_CHUNK = 256;

/** Work of the divide-and-conquer eigensolver: U (n×ld), the product buffer (256×ld), 7 f64 and 5 i32 n-vectors. */
export function dcWorkBytes(n: number): number {
  const ld = paddedLd(n);
  return f64s(n * ld) + f64s(DC_CHUNK * ld) + 7 * f64s(n) + 5 * al16(4 * n);
}

/** Scratch bytes of `svd` on an m×n matrix (thin when full = 0). */
export function svdScratchBytes(m: number, n: number, full: number | boolean): number {
  const big = Math.max(m, n), small = Math.min(m, n);
  const cols = full ? big : small;
  return 2 * f64s(big * paddedLd(small)) + f64s(big * paddedLd(cols)) + 2 * f64s(small) + eighScratchBytes(small) + blockWorkBytes(big);
}

// ----------------------------------------------------------------------------------------------------
// Status → error

const STATUS_TEXT: Record<number, string> = {
  1: 'the input contains NaN or ±Infinity',
  2: 'the eigenvalue iteration did not converge within 30·n sweeps',
  3: 'a size, stride, mode or pointer alignment is invalid',
};

/**
 * Throws a `FisheroptError` for a non-zero linalg status: 1 → BAD_VALUE (non-finite input),
 * 2 → NO_CONVERGENCE, 3 → BAD_SHAPE, anything else → BAD_STATE. `kernel` and `shape` go into the
 * message (e.g. `checkLinalgStatus(st, 'eigh', [n, n])`).
 */
export function checkLinalgStatus(code: number, kernel: string, shape: readonly number[]): void {
  if (code === LinalgStatus.OK) return;
  const where = `${kernel} on a ${shape.join('×')} matrix`;
  const text = STATUS_TEXT[code] ?? `unknown status ${code}`;
  const errCode = code === 1 ? 'BAD_VALUE' : code === 2 ? 'NO_CONVERGENCE' : code === 3 ? 'BAD_SHAPE' : 'BAD_STATE';
  throw new FisheroptError(errCode, `${where} failed: ${text}`);
}
