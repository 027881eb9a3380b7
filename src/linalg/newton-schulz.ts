/**
 * Newton–Schulz iterations, composed from kernels (so they run on every backend):
 *
 * - `newtonSchulzPolar`: Muon's quintic iteration towards the polar factor U·Vᵀ of G (Keller Jordan,
 *   `muon.py`): X ← G/(‖G‖_F + 1e-7), then K times A = X·Xᵀ, B = b·A + c·A², X ← a·X + B·X with
 *   (a, b, c) = (3.4445, −4.7750, 2.0315). It does not converge to U·Vᵀ exactly: the singular values
 *   of the result land in a band around 1 (about [0.7, 1.2] after 5 steps for inputs whose small
 *   singular values are not tiny). The iteration runs on the smaller Gram: for m > n,
 *   A = Xᵀ·X and X ← a·X + X·B (the same map, transposed), so nothing is transposed in memory.
 *
 * - `newtonSchulzInvSqrt`: the coupled iteration for A^{-1/2} of a symmetric positive semi-definite A
 *   (SWAN's GradWhitening): Y₀ = A/c with c = ‖A‖_F (so the eigenvalues of Y₀ lie in [0, 1], inside the
 *   convergence region (0, 3)), Z₀ = I, then K times T = β(3I − Z·Y), Y ← Y·T, Z ← T·Z; with β = ½ (the
 *   default) Z → (A/c)^{-1/2}, and the result is Z/√c. Small eigenvalues λ of Y₀ converge slowly (they
 *   grow about 2.25× per step: about log(1/λ)/log 2.25 steps are needed); null directions stay at 0
 *   (pseudo-inverse behaviour). Another β scales the fixed point (eigenvalues p of Z·Y go to 3 − 1/β,
 *   stable only for 1/3 < β < 2/3), so the result is then A^{-1/2} up to a constant factor.
 *
 * Matrices are row-major and contiguous (row stride = width). Scratch is caller-provided (the sizes
 * below) and 16-byte aligned; its contents are undefined on return.
 */
import { FisheroptError } from '../errors.js';
import type { Kernels, Ptr } from '../kernels.js';
import { GEMM_SCRATCH_BYTES } from '../kernels/gemm.js';

/** Muon's quintic coefficients (a, b, c). */
export const MUON_COEFFS: readonly [number, number, number] = [3.4445, -4.775, 2.0315];

const al16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** Scratch bytes for `newtonSchulzPolar` on an m×n matrix. */
export function polarScratchBytes(m: number, n: number): number {
  const s = Math.min(m, n);
  return al16(4 * m * n) + 2 * al16(4 * s * s) + GEMM_SCRATCH_BYTES;
}

/** Scratch bytes for `newtonSchulzInvSqrt` on an n×n matrix. */
export function invSqrtScratchBytes(n: number): number {
  return 3 * al16(4 * n * n) + GEMM_SCRATCH_BYTES;
}

function checkSteps(steps: number, what: string): void {
  if (!Number.isInteger(steps) || steps < 0 || steps > 100) {
    throw new FisheroptError('BAD_OPTION', `${what}: steps must be an integer in [0, 100], got ${steps}`);
  }
}

/**
 * out ← approximate polar factor of G (m×n). `out` may be `g`. Returns ‖G‖_F (0 for a zero matrix, whose
 * result is zero; NaN/Inf in G propagate to the result).
 */
export function newtonSchulzPolar(
  k: Kernels, out: Ptr, g: Ptr, m: number, n: number, scratch: Ptr,
  steps = 5, coeffs: readonly [number, number, number] = MUON_COEFFS,
): number {
  checkSteps(steps, 'newtonSchulzPolar');
  const [a, b, c] = coeffs;
  const s = Math.min(m, n);
  const tmp = scratch;
  const A = tmp + al16(4 * m * n);
  const B = A + al16(4 * s * s);
  const gs = B + al16(4 * s * s);
  const norm = Math.sqrt(k.sumsq(g, m * n));
  if (out !== g) k.copy(out, g, m * n);
  k.scale(out, m * n, 1 / (norm + 1e-7));
  let x = out;
  let t = tmp;
  for (let i = 0; i < steps; i++) {
    // A = X·Xᵀ (m ≤ n) or Xᵀ·X (m > n): the s×s Gram
    k.syrk(A, s, x, n, m <= n ? 0 : 1, s, m <= n ? n : m, 1, 0, gs);
    // B = c·A·A + b·A
    k.copy(B, A, s * s);
    k.gemm(B, s, A, s, 0, A, s, 0, s, s, s, c, b, gs);
    // X ← a·X + B·X (m ≤ n) or a·X + X·B (m > n), into t
    k.copy(t, x, m * n);
    if (m <= n) k.gemm(t, n, B, s, 0, x, n, 0, m, n, m, 1, a, gs);
    else k.gemm(t, n, x, n, 0, B, s, 0, m, n, n, 1, a, gs);
    [x, t] = [t, x];
  }
  if (x !== out) k.copy(out, x, m * n);
  return norm;
}

/**
 * z ← A^{-1/2} (n×n) by the coupled iteration, for a symmetric positive semi-definite A. Returns c = ‖A‖_F
 * (z is zero when A is). `z` must not overlap `a` or the scratch.
 */
export function newtonSchulzInvSqrt(k: Kernels, z: Ptr, a: Ptr, n: number, scratch: Ptr, steps = 10, beta = 0.5): number {
  checkSteps(steps, 'newtonSchulzInvSqrt');
  if (!(beta > 0 && beta < 1)) throw new FisheroptError('BAD_OPTION', `newtonSchulzInvSqrt: beta must be in (0, 1), got ${beta}`);
  const nn = n * n;
  let y = scratch;
  const t = y + al16(4 * nn);
  let tmp = t + al16(4 * nn);
  const gs = tmp + al16(4 * nn);
  const c = Math.sqrt(k.sumsq(a, nn));
  k.fill(z, nn, 0);
  if (c === 0) return 0;
  k.copy(y, a, nn);
  k.scale(y, nn, 1 / c);
  k.addDiag(z, n, n, 1);
  let zc = z;
  for (let i = 0; i < steps; i++) {
    // T = β(3I − Z·Y)
    k.gemm(t, n, zc, n, 0, y, n, 0, n, n, n, -beta, 0, gs);
    k.addDiag(t, n, n, 3 * beta);
    // Y ← Y·T
    k.gemm(tmp, n, y, n, 0, t, n, 0, n, n, n, 1, 0, gs);
    [y, tmp] = [tmp, y];
    // Z ← T·Z
    k.gemm(tmp, n, t, n, 0, zc, n, 0, n, n, n, 1, 0, gs);
    [zc, tmp] = [tmp, zc];
  }
  if (zc !== z) k.copy(z, zc, nn);
  k.scale(z, nn, 1 / Math.sqrt(c));
  return c;
}
