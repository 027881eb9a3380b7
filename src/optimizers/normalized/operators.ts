/**
 * Normalization and whitening operators on a gradient-like matrix G (m×n, row-major, contiguous), written
 * over the kernel set so they run on every backend and compose (spec `sinkgd-swan.md` §2.1). Each one
 * outputs a matrix of RMS 1 (Frobenius norm √(mn)) when G has no zero rows or columns and full rank:
 *
 * - `rowNormalize`:    out = √n·Q(G)⁻¹·G, every row of norm √n (Q(G) = Diag of the row norms);
 * - `colNormalize`:    out = √m·G·R(G)⁻¹, every column of norm √m;
 * - `rowStandardize`:  out_ij = (g_ij − μ_i)/σ_i with the row mean and population std (SWAN's GradNorm):
 *                      rows of mean 0 and norm √n;
 * - `whiten`:          out = √n·(G·Gᵀ)^{-1/2}·G for m ≤ n, √m·G·(Gᵀ·G)^{-1/2} for m > n: the polar factor
 *                      U·Vᵀ (G = U·Σ·Vᵀ thin SVD) times √max(m, n), by the coupled Newton–Schulz inverse
 *                      square root on the smaller Gram (`newtonSchulzInvSqrt`); for m ≤ n out·outᵀ = n·I;
 * - `sinkhorn`:        SR-Sinkhorn's two vectors (§3.1): L rounds of row-then-column normalization of
 *                      X = Diag(a)·G·Diag(b) from b = 1, without forming X (f32 sums on G scaled by a
 *                      power of two); `sinkhornNormalize` writes X.
 *
 * Zero rows (columns) give zero output rows (columns) instead of 0·∞; a zero matrix whitens to zero, and
 * a rank-deficient G whitens to √max(m, n)·U₁·V₁ᵀ on its range (null directions stay 0). Scratch is
 * caller-provided (the `*ScratchBytes` sizes, 16-byte aligned); its contents are undefined on return.
 */
import { FisheroptError } from '../../errors.js';
import type { Kernels, Ptr } from '../../kernels.js';
import { GEMM_SCRATCH_BYTES } from '../../kernels/gemm.js';
import { invSqrtScratchBytes, newtonSchulzInvSqrt } from '../../linalg/newton-schulz.js';

const al16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

function checkShape(what: string, m: number, n: number): void {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m >= 1 && n >= 1)) {
    throw new FisheroptError('BAD_SHAPE', `${what}: m and n must be integers >= 1, got ${m}×${n}`);
  }
}

/** Scratch bytes of `rowNormalize` (m f32). */
export const rowNormalizeScratchBytes = (m: number): number => al16(4 * m);

/** out ← √n·Q(G)⁻¹·G (rows of norm √n; zero rows stay zero). `out` may be `g`. */
export function rowNormalize(k: Kernels, out: Ptr, g: Ptr, m: number, n: number, scratch: Ptr): void {
  checkShape('rowNormalize', m, n);
  k.rowSumsq(scratch, g, m, n, n);
  k.normScale(scratch, scratch, m, n);
  k.scaleRowsCols(out, n, g, n, scratch, 0, m, n);
}

/** Scratch bytes of `colNormalize` (n f32 and n f64). */
export const colNormalizeScratchBytes = (n: number): number => al16(4 * n) + al16(8 * n);

/** out ← √m·G·R(G)⁻¹ (columns of norm √m; zero columns stay zero). `out` may be `g`. */
export function colNormalize(k: Kernels, out: Ptr, g: Ptr, m: number, n: number, scratch: Ptr): void {
  checkShape('colNormalize', m, n);
  const acc = scratch + al16(4 * n);
  k.colSumsq(scratch, acc, g, m, n, n);
  k.normScale(scratch, scratch, n, m);
  k.scaleRowsCols(out, n, g, n, 0, scratch, m, n);
}

/** Scratch bytes of `rowStandardize` (2m f32). */
export const rowStandardizeScratchBytes = (m: number): number => 2 * al16(4 * m);

/**
 * out ← (G − μ·1ᵀ)/max(σ, eps) per row (μ, σ the row mean and population std, in f64): SWAN's GradNorm.
 * A constant row becomes zero. `out` may be `g`.
 */
export function rowStandardize(k: Kernels, out: Ptr, g: Ptr, m: number, n: number, scratch: Ptr, eps = 1e-30): void {
  checkShape('rowStandardize', m, n);
  const mean = scratch, std = scratch + al16(4 * m);
  k.rowMeanStd(mean, std, g, m, n, n, 0);
  k.rowStandardize(out, n, g, n, mean, std, m, n, eps);
}

/** Scratch bytes of `whiten` on m×n: the s×s Gram and Z (s = min(m, n)) and the inverse square root's. */
export function whitenScratchBytes(m: number, n: number): number {
  const s = Math.min(m, n);
  return 2 * al16(4 * s * s) + Math.max(invSqrtScratchBytes(s), GEMM_SCRATCH_BYTES);
}

/**
 * out ← √max(m, n)·polar(G) by the coupled Newton–Schulz inverse square root of the smaller Gram
 * (`steps` iterations, step β; see `newtonSchulzInvSqrt`). `out` must not overlap `g` or the scratch.
 * Returns ‖Gram‖_F (0 when G is zero, whose output is zero).
 */
export function whiten(k: Kernels, out: Ptr, g: Ptr, m: number, n: number, scratch: Ptr, steps = 10, beta = 0.5): number {
  checkShape('whiten', m, n);
  const s = Math.min(m, n);
  const gram = scratch, z = gram + al16(4 * s * s), ws = z + al16(4 * s * s);
  const wide = m <= n;
  // Gram = G·Gᵀ (m ≤ n) or Gᵀ·G (m > n)
  k.syrk(gram, s, g, n, wide ? 0 : 1, s, wide ? n : m, 1, 0, ws);
  const c = newtonSchulzInvSqrt(k, z, gram, s, ws, steps, beta);
  const scale = Math.sqrt(Math.max(m, n));
  if (wide) k.gemm(out, n, z, s, 0, g, n, 0, m, n, m, scale, 0, ws);
  else k.gemm(out, n, g, n, 0, z, s, 0, m, n, n, scale, 0, ws);
  return c;
}

/** Scratch bytes of `sinkhorn` (n f32); `sinkhornNormalize` needs m + n f32 more. */
export const sinkhornScratchBytes = (n: number): number => al16(4 * n);

/** max|g_ij| range in which SR-Sinkhorn runs on G itself (s = 1): [2^-24, 2^24). */
const UNSCALED_MIN = 2 ** -24, UNSCALED_MAX = 2 ** 24;

/**
 * The scale s of `sinkhorn`'s rounds for max|g_ij| = `maxAbs`: 1 for maxAbs in [2^-24, 2^24) (also for 0
 * and non-finite values), else the power of two with maxAbs·s in [1, 2), its exponent kept where s and
 * 1/s are f32 values (s in [2^-126, 2^127]).
 */
export function sinkhornScale(maxAbs: number): number {
  if (!(maxAbs > 0 && maxAbs < Infinity) || (maxAbs >= UNSCALED_MIN && maxAbs < UNSCALED_MAX)) return 1;
  let e = Math.floor(Math.log2(maxAbs));
  if (2 ** e > maxAbs) e--;
  else if (2 ** (e + 1) <= maxAbs) e++;
  return 2 ** -Math.min(Math.max(e, -127), 126);
}

/**
 * SR-Sinkhorn's scaling vectors: a (m f32), b (n f32) such that X = Diag(a)·G·Diag(b) is `rounds` rounds
 * of row normalization (rows to √n) then column normalization (columns to √m) of G, starting from b = 1.
 * After any round every column of X has norm √m (to f32 rounding); rows approach √n (spec §3.1: within
 * 0.3% at 5 rounds on gradient-like matrices). The rounds (`sinkgdRound`, f32 sums) run on s·G with s
 * from `sinkhornScale(max|g_ij|)`: the first round runs with s = 1 and reads max|g_ij| on the way, and is
 * run again with s when max|g_ij| lies outside [2^-24, 2^24). So no f32 square overflows, and squares
 * leave the f32 normal range (losing precision, then counting as zero) only for entries below about 2^-39
 * of max|g_ij|. The result is unchanged bit for bit when G is scaled by a power of two (short of such
 * underflow).
 */
export function sinkhorn(k: Kernels, a: Ptr, b: Ptr, g: Ptr, m: number, n: number, rounds: number, scratch: Ptr): void {
  checkShape('sinkhorn', m, n);
  if (!Number.isInteger(rounds) || rounds < 1) throw new FisheroptError('BAD_OPTION', `sinkhorn: rounds must be an integer >= 1, got ${rounds}`);
  k.fill(b, n, 1);
  const s = sinkhornScale(k.sinkgdRound(a, b, scratch, g, m, n, n, n, m, 1, 1));
  if (s !== 1) {
    k.fill(b, n, s);
    k.sinkgdRound(a, b, scratch, g, m, n, n, n, m, s, 0);
  }
  for (let l = 1; l < rounds; l++) k.sinkgdRound(a, b, scratch, g, m, n, n, n, m, s, 0);
  if (s !== 1) k.scale(b, n, 1 / s);
}

/** out ← Diag(a)·G·Diag(b) of `sinkhorn` (`out` may be `g`); scratch `sinkhornScratchBytes(n)` + 4·(m + n). */
export function sinkhornNormalize(k: Kernels, out: Ptr, g: Ptr, m: number, n: number, rounds: number, scratch: Ptr): void {
  const a = scratch + sinkhornScratchBytes(n), b = a + al16(4 * m);
  sinkhorn(k, a, b, g, m, n, rounds, scratch);
  k.scaleRowsCols(out, n, g, n, a, b, m, n);
}

/** Scratch bytes of `sinkhornNormalize`. */
export const sinkhornNormalizeScratchBytes = (m: number, n: number): number => sinkhornScratchBytes(n) + al16(4 * m) + al16(4 * n);
