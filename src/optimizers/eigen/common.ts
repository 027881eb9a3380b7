/**
 * Shared machinery of the rotated-basis optimizers (Eigen-Adam, SOAP, AdaDiag, AdaDiag++, Shampoo,
 * AdaDiag with Adafactor): option checks, scratch layout, rotations through gemm transpose flags, and
 * the basis refreshes (exact `eigh`, SOAP's power-iteration + QR step, `svd` of the gradient).
 *
 * Conventions (all matrices row-major f32, contiguous):
 * - A weight is m×n; d = min(m, n). One-sided methods rotate the smaller side: the left side with an
 *   m×m basis P when m ≤ n (G̃ = Pᵀ·G, Δ = P·N), the right side with an n×n basis Q when m > n
 *   (G̃ = G·Q, Δ = N·Qᵀ). Transposes are gemm flags; nothing is copied.
 * - A left basis is stored with its vectors in columns (P). A right basis is stored either with its
 *   vectors in columns (Q, from `eigh`) or in rows (Qᵀ, from `svd`'s Vᵀ): `rows` says which.
 * - Refresh schedule: at t = 1 and then every K steps, i.e. when (t − 1) mod K = 0 (t = 1, K+1, 2K+1,
 *   …; GaLore's counter convention, spec adadiag.md §1).
 */
import type { Kernels, Ptr } from '../../kernels.js';
import type { HostArena } from '../types.js';
import { GEMM_SCRATCH_BYTES } from '../../kernels/gemm.js';
import { checkLinalgStatus, eighScratchBytes, qrFormQScratchBytes, qrScratchBytes } from '../../kernels/linalg.js';
import { check, type Check } from '../../options.js';

export const al16 = (bytes: number): number => Math.ceil(Math.max(bytes, 0) / 16) * 16;

/** A β in [0, 1). */
export const beta: Check = check.number(0, 1, false, true);

/** A tuple of numbers of the given length, each checked. */
export function tuple(n: number, c: Check): Check {
  return (v) => {
    if (!Array.isArray(v) || v.length !== n) return `an array of ${n} numbers`;
    for (let i = 0; i < n; i++) {
      const e = c(v[i]);
      if (e) return `element ${i}: ${e}`;
    }
    return null;
  };
}

/** One of the given strings. */
export function oneOf(...values: string[]): Check {
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
}

/** Lays out 16-byte aligned regions; returns offsets and the total. */
export function layout(regions: Record<string, number>): { off: Record<string, number>; bytes: number } {
  const off: Record<string, number> = {};
  let o = 0;
  for (const [k, v] of Object.entries(regions)) {
    off[k] = o;
    o += al16(v);
  }
  return { off, bytes: o };
}

export const isRefresh = (t: number, interval: number): boolean => (t - 1) % interval === 0;

/** Scratch of an exact eigenbasis or a power-iteration refresh of a k×k Gram matrix. */
export function gramRefreshBytes(k: number): number {
  return al16(4 * k) + 3 * al16(4 * k * k) + al16(4 * k) + Math.max(eighScratchBytes(k), qrScratchBytes(k, k), qrFormQScratchBytes(k, k, k));
}

/**
 * Refresh the k×k eigenbasis B (vectors in columns) of the symmetric Gram matrix S.
 * exact: B ← eigenvectors of S (descending eigenvalues, `eigh`). Otherwise SOAP's refresh: the columns
 * of B are re-sorted by the estimated eigenvalues diag(Bᵀ·S·B), descending (stable), the same
 * permutation Π is applied to the second moment through `permute(Π)` (Π k×k, Π[old, new] = 1), and one
 * step of subspace iteration follows: B ← orth(S·B·Π) by Householder QR (`qrFactor` + `qrFormQ`).
 * Permutations go through gemm with a 0/1 matrix, which is exact.
 * Rank-deficient S (e.g. R = EMA[GᵀG] of an m×n gradient with m < n in the first steps): the
 * eigenvectors of its (numerically) zero eigenvalues are not unique, and eigh / QR would pick them from
 * round-off, differently on each backend. Only the r significant columns (eigenvalue > RANK_TOL·λ_max)
 * are kept; the other n − r are the Householder completion of those (`qrFormQ` with all n columns), a
 * deterministic, backend-independent choice.
 */
export function refreshGramBasis(
  k: Kernels, host: HostArena, b: Ptr, s: Ptr, n: number, exact: boolean, scratch: Ptr, gemmScratch: Ptr,
  permute: (pi: Ptr) => void,
): void {
  const w = scratch;
  const t = w + al16(4 * n);
  const pi = t + al16(4 * n * n);
  const prod = pi + al16(4 * n * n);
  const tau = prod + al16(4 * n * n);
  const work = tau + al16(4 * n);
  if (exact) {
    checkLinalgStatus(k.eigh(b, n, w, s, n, n, work), 'eigh', [n, n]);
    const r = significant(Array.from(host.read(w, n)));
    if (r < n) {
      // Null-space eigenvectors are arbitrary (chosen by round-off): replace them by the Householder
      // completion of the first r, a deterministic function of the significant eigenvectors.
      checkLinalgStatus(k.qrFactor(b, n, n, r, tau, work), 'qrFactor', [n, r]);
      checkLinalgStatus(k.qrFormQ(b, n, b, n, n, r, n, tau, work), 'qrFormQ', [n, n]);
    }
    return;
  }
  k.gemm(t, n, s, n, 0, b, n, 0, n, n, n, 1, 0, gemmScratch); // S·B
  k.gemm(prod, n, b, n, 1, t, n, 0, n, n, n, 1, 0, gemmScratch); // Bᵀ·S·B: its diagonal estimates the eigenvalues
  const pv = host.read(prod, n * n);
  const est = Array.from({ length: n }, (_, i) => pv[i * n + i]);
  const order = est.map((_, i) => i).sort((x, y) => est[y] - est[x] || x - y);
  if (order.some((o, j) => o !== j)) {
    const pm = new Float32Array(n * n);
    for (let j = 0; j < n; j++) pm[order[j] * n + j] = 1;
    host.write(pi, pm);
    k.gemm(prod, n, t, n, 0, pi, n, 0, n, n, n, 1, 0, gemmScratch); // S·B·Π
    k.copy(t, prod, n * n);
    permute(pi);
  }
  // Orthonormalize the significant columns of S·B·Π; the rest (S·b ≈ 0: round-off) is completed by
  // the Householder basis of the same factorization, as at the exact refresh.
  const r = significant(order.map((i) => est[i]));
  checkLinalgStatus(k.qrFactor(t, n, n, r, tau, work), 'qrFactor', [n, r]);
  checkLinalgStatus(k.qrFormQ(b, n, t, n, n, r, n, tau, work), 'qrFormQ', [n, n]);
}

/**
 * How many of the descending eigenvalue estimates are significant: above RANK_TOL·λ_max (a Gram of f32
 * data carries round-off of about k·2⁻²⁴·λ_max in its null space).
 */
export const RANK_TOL = 1e-5;
function significant(desc: number[]): number {
  const top = desc[0];
  if (!(top > 0)) return 0;
  let r = 0;
  while (r < desc.length && desc[r] > RANK_TOL * top) r++;
  return r;
}

/** A rotation side: a k×k basis pointer; for a right basis, whether its vectors are rows (Qᵀ stored). */
export interface Side {
  readonly ptr: Ptr;
  readonly rows?: boolean;
}

/**
 * c (m×n) ← rotate X (m×n) into the basis: Pᵀ·X (left), X·Q (right) or Pᵀ·X·Q (both; `tmp` m×n).
 */
export function rotateIn(
  k: Kernels, c: Ptr, x: Ptr, m: number, n: number, left: Side | null, right: Side | null, tmp: Ptr, gs: Ptr,
): void {
  if (left && right) {
    k.gemm(tmp, n, left.ptr, m, 1, x, n, 0, m, n, m, 1, 0, gs);
    k.gemm(c, n, tmp, n, 0, right.ptr, n, right.rows ? 1 : 0, m, n, n, 1, 0, gs);
  } else if (left) {
    k.gemm(c, n, left.ptr, m, 1, x, n, 0, m, n, m, 1, 0, gs);
  } else if (right) {
    k.gemm(c, n, x, n, 0, right.ptr, n, right.rows ? 1 : 0, m, n, n, 1, 0, gs);
  }
}

/** c (m×n) ← rotate X back: P·X, X·Qᵀ or P·X·Qᵀ (`tmp` m×n). */
export function rotateOut(
  k: Kernels, c: Ptr, x: Ptr, m: number, n: number, left: Side | null, right: Side | null, tmp: Ptr, gs: Ptr,
): void {
  if (left && right) {
    k.gemm(tmp, n, left.ptr, m, 0, x, n, 0, m, n, m, 1, 0, gs);
    k.gemm(c, n, tmp, n, 0, right.ptr, n, right.rows ? 0 : 1, m, n, n, 1, 0, gs);
  } else if (left) {
    k.gemm(c, n, left.ptr, m, 0, x, n, 0, m, n, m, 1, 0, gs);
  } else if (right) {
    k.gemm(c, n, x, n, 0, right.ptr, n, right.rows ? 0 : 1, m, n, n, 1, 0, gs);
  }
}

/** Adam's scalars for step t (host f64, passed as f32 by the kernels). */
export function adamScalars(betas: readonly number[], t: number, biasCorrection: boolean) {
  const [b1, b2] = betas;
  const a1 = Math.fround(1 - b1);
  return {
    a1,
    omA1: Math.fround(1 - a1),
    b2,
    a2: 1 - b2,
    lerpSmall: Math.abs(a1) < 0.5,
    mScale: biasCorrection ? 1 / (1 - b1 ** t) : 1,
    bc2Sqrt: biasCorrection ? Math.sqrt(1 - b2 ** t) : 1,
  };
}

export { GEMM_SCRATCH_BYTES };
