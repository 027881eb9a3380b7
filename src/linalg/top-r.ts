/**
 * Top-r singular subspace of an m×n matrix G (GaLore-style projections), composed from kernels:
 * a randomized range finder with power iterations (Halko, Martinsson & Tropp 2011, Alg. 4.4):
 *
 *   Ω (n×ℓ) uniform in [−1, 1) from `seed`, ℓ = min(r + oversample, m, n)
 *   Y = G·Ω;  q times: Y ← orth(Y), Z ← orth(Gᵀ·Y), Y ← G·Z        (re-orthonormalized every half step)
 *   Q = orth(Y) (m×ℓ);  B = Qᵀ·G (ℓ×n);  B = U_B·Σ·V_Bᵀ (thin SVD);  U = Q·U_B[:, :r],  σ = Σ[:r]
 *
 * With the default q = 2 and oversampling 8, the subspace error relative to the exact top-r SVD is
 * governed by (σ_{ℓ+1}/σ_r)^{2q+1}: tight for decaying spectra (gradients), loose for flat ones, where
 * any r-dimensional subspace of the flat part is as good. When ℓ = min(m, n) the result is exact (up to
 * rounding). Columns of U are orthonormal (they are Q·U_B with both orthonormal); signs follow `svd`.
 * All matrices are row-major and contiguous; scratch is caller-provided (`topRScratchBytes`).
 */
import { FisheroptError } from '../errors.js';
import type { Kernels, Ptr } from '../kernels.js';
import { GEMM_SCRATCH_BYTES } from '../kernels/gemm.js';
import { checkLinalgStatus, qrFormQScratchBytes, qrScratchBytes, svdScratchBytes } from '../kernels/linalg.js';

export interface TopROptions {
  /** Power iterations q (default 2). */
  iterations?: number;
  /** Extra columns beyond r (default 8). */
  oversample?: number;
  /** Seed of the random start (default 0). */
  seed?: number;
}

const al16 = (bytes: number) => Math.ceil(bytes / 16) * 16;
const sketchWidth = (m: number, n: number, r: number, oversample: number) => Math.min(r + oversample, m, n);

function layout(m: number, n: number, l: number) {
  const regions = {
    omega: al16(4 * n * l), y: al16(4 * m * l), z: al16(4 * n * l), tau: al16(4 * l),
    b: al16(4 * l * n), ub: al16(4 * l * l), s: al16(4 * l), vt: al16(4 * l * n),
    work: Math.max(qrScratchBytes(m, l), qrScratchBytes(n, l), qrFormQScratchBytes(Math.max(m, n), l, l), svdScratchBytes(l, n, 0), GEMM_SCRATCH_BYTES),
  };
  const offsets: Record<string, number> = {};
  let off = 0;
  for (const [k, v] of Object.entries(regions)) {
    offsets[k] = off;
    off += v;
  }
  return { offsets, bytes: off };
}

/** Scratch bytes of `topRLeftSingular` for an m×n matrix and rank r. */
export function topRScratchBytes(m: number, n: number, r: number, opts: TopROptions = {}): number {
  return layout(m, n, sketchWidth(m, n, r, opts.oversample ?? 8)).bytes;
}

/**
 * u (m×r) ← the top-r left singular vectors of G (m×n); s (r values, or 0 to skip) ← their singular
 * values, descending. Requires 1 ≤ r ≤ min(m, n). Throws a FisheroptError for non-finite G.
 */
export function topRLeftSingular(
  k: Kernels, u: Ptr, s: Ptr, g: Ptr, m: number, n: number, r: number, scratch: Ptr, opts: TopROptions = {},
): void {
  const q = opts.iterations ?? 2;
  const oversample = opts.oversample ?? 8;
  if (!Number.isInteger(r) || r < 1 || r > Math.min(m, n)) {
    throw new FisheroptError('BAD_OPTION', `top-r SVD: rank must be an integer in [1, ${Math.min(m, n)}] for a ${m}×${n} matrix, got ${r}`);
  }
  if (!Number.isInteger(q) || q < 0 || q > 20) throw new FisheroptError('BAD_OPTION', `top-r SVD: iterations must be an integer in [0, 20], got ${q}`);
  if (!Number.isInteger(oversample) || oversample < 0) throw new FisheroptError('BAD_OPTION', `top-r SVD: oversample must be an integer >= 0, got ${oversample}`);
  const l = sketchWidth(m, n, r, oversample);
  const { offsets: o } = layout(m, n, l);
  const at = (name: string) => scratch + o[name];
  const [omega, y, z, tau, b, ub, sv, vt, work] = ['omega', 'y', 'z', 'tau', 'b', 'ub', 's', 'vt', 'work'].map(at);
  const orth = (x: Ptr, rows: number) => {
    checkLinalgStatus(k.qrFactor(x, l, rows, l, tau, work), 'qrFactor (top-r SVD)', [rows, l]);
    checkLinalgStatus(k.qrFormQ(x, l, x, l, rows, l, l, tau, work), 'qrFormQ (top-r SVD)', [rows, l]);
  };

  k.fillUniform(omega, n * l, opts.seed ?? 0, 0);
  k.gemm(y, l, g, n, 0, omega, l, 0, m, l, n, 1, 0, work); // Y = G·Ω
  for (let i = 0; i < q; i++) {
    orth(y, m);
    k.gemm(z, l, g, n, 1, y, l, 0, n, l, m, 1, 0, work); // Z = Gᵀ·Y
    orth(z, n);
    k.gemm(y, l, g, n, 0, z, l, 0, m, l, n, 1, 0, work); // Y = G·Z
  }
  orth(y, m);
  k.gemm(b, n, y, l, 1, g, n, 0, l, n, m, 1, 0, work); // B = Qᵀ·G (ℓ×n)
  checkLinalgStatus(k.svd(ub, l, sv, vt, n, b, n, l, n, 0, work), 'svd (top-r SVD)', [l, n]);
  k.gemm(u, r, y, l, 0, ub, l, 0, m, r, l, 1, 0, work); // U = Q·U_B[:, :r] (the first r columns via ldb = ℓ)
  if (s) k.copy(s, sv, r);
}
