/**
 * Shared pieces of the fisher optimizers: the orientation rule for low-rank projections, scratch
 * layouts, gemm calls in the projected frame, the exact top-r basis, the norm-growth limiter, and a
 * small stateless host RNG.
 *
 * Orientation (spec §1, [R]): a weight W (m×n) is worked on as G' = G when m ≤ n and G' = Gᵀ when m > n,
 * so G' is d×N with d = min(m, n), N = max(m, n), and the projection U (d×r) lives on the smaller side.
 * Nothing is transposed by copying: G' and G'ᵀ are gemm operands with the transpose flag `gT()`, and the
 * back-projection is written into W's own layout.
 */
import { mulberry32 } from '../../util/rng.js';
import { FisheroptError } from '../../errors.js';
import type { Kernels, Ptr } from '../../kernels.js';
import { checkLinalgStatus } from '../../kernels/linalg.js';
import { check, type Check } from '../../options.js';
import type { HostArena } from '../types.js';

export const al16 = (bytes: number): number => Math.ceil(Math.max(bytes, 0) / 16) * 16;

/** Byte offsets of named scratch regions, each 16-byte aligned, in order. */
export function carve<K extends string>(regions: Record<K, number>): { at: Record<K, number>; bytes: number } {
  const at = {} as Record<K, number>;
  let off = 0;
  for (const key of Object.keys(regions) as K[]) {
    at[key] = off;
    off += al16(regions[key]);
  }
  return { at, bytes: off };
}

export interface Frame {
  readonly m: number;
  readonly n: number;
  /** Whether G' = Gᵀ (m > n). */
  readonly tr: boolean;
  readonly d: number;
  readonly N: number;
}

export function frame(shape: readonly number[]): Frame {
  const [m, n] = shape;
  return { m, n, tr: m > n, d: Math.min(m, n), N: Math.max(m, n) };
}

/** gemm transpose flag to read G' (wantT = false) or G'ᵀ (wantT = true) from G stored m×n (ld n). */
export const gT = (f: Frame, wantT: boolean): number => (f.tr ? 1 : 0) ^ (wantT ? 1 : 0);

/** σ (r×N, ld N) ← Uᵀ·G' with U d×r (ld r). */
export function project(k: Kernels, f: Frame, sigma: Ptr, u: Ptr, g: Ptr, r: number, ws: Ptr): void {
  k.gemm(sigma, f.N, u, r, 1, g, f.n, gT(f, false), r, f.N, f.d, 1, 0, ws);
}

/** out (m×n, W's layout) ← alpha·(U·X)' + beta·out, with X r×N (ld N) and (·)' undoing the orientation. */
export function backProject(k: Kernels, f: Frame, out: Ptr, u: Ptr, x: Ptr, r: number, alpha: number, beta: number, ws: Ptr): void {
  if (!f.tr) k.gemm(out, f.n, u, r, 0, x, f.N, 0, f.m, f.n, r, alpha, beta, ws);
  else k.gemm(out, f.n, x, f.N, 1, u, r, 1, f.m, f.n, r, alpha, beta, ws); // (U·X)ᵀ = Xᵀ·Uᵀ
}

/** Scratch regions of `topLeftSingular` (beside the shared `work` region, which needs `svdScratchBytes(m, n, 0)`). */
export function topLeftRegions(f: Frame, r: number) {
  return { svdU: 4 * f.m * f.d, svdS: 4 * f.d, svdVt: 4 * f.d * f.n, eye: 4 * r * r };
}

/**
 * out (d×r, ld r) ← the top-r left singular vectors of G' (exact thin SVD of G, the `svd` kernel):
 * m ≤ n: the first r columns of U (strided copy); m > n: the first r rows of Vᵀ, transposed by a gemm
 * with the r×r identity (each output is one product x·1 plus exact zeros, so the copy is exact).
 */
export function topLeftSingular(
  k: Kernels, f: Frame, out: Ptr, g: Ptr, r: number, at: { svdU: Ptr; svdS: Ptr; svdVt: Ptr; eye: Ptr; work: Ptr },
): void {
  checkLinalgStatus(k.svd(at.svdU, f.d, at.svdS, at.svdVt, f.n, g, f.n, f.m, f.n, 0, at.work), 'svd', [f.m, f.n]);
  if (!f.tr) {
    k.scaleRowsCols(out, r, at.svdU, f.d, 0, 0, f.d, r);
  } else {
    k.fill(at.eye, r * r, 0);
    k.addDiag(at.eye, r, r, 1);
    // op(A) = Vtᵀ restricted to its first r columns: op(A)_ip = vt[p·n + i], p < r.
    k.gemm(out, r, at.svdVt, f.n, 1, at.eye, r, 0, f.d, r, r, 1, 0, at.work);
  }
}

/**
 * Fira's norm-growth limiter (spec §3.7, §4 step 5, §5.4 step 7): η = 1 when φ = 0 (first step), else
 * η = γ / max(‖X‖/φ, γ); returns η and stores φ ← η·‖X‖ (the norm actually applied) in the 1-float slot.
 */
export function limiter(k: Kernels, host: HostArena, phiSlot: Ptr, norm: number, gamma: number): number {
  const phi = host.read(phiSlot, 1)[0];
  const eta = phi > 0 ? gamma / Math.max(norm / phi, gamma) : 1;
  k.fill(phiSlot, 1, eta * norm);
  return eta;
}

/** A seeded uniform source in [0, 1) (mulberry32), re-created from (seed, key, step) each time: no state. */
export function hostRng(seed: number, key: string, step: number): () => number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return mulberry32(h + Math.imul(step, 0x85ebca6b));
}

/** `count` distinct integers drawn uniformly from [0, size), in draw order (partial Fisher–Yates). */
export function sampleDistinct(rand: () => number, size: number, count: number): number[] {
  const pool = Array.from({ length: size }, (_, i) => i);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (size - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
    out.push(pool[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Option checks shared by the fisher optimizers

const beta01 = check.number(0, 1, false, true);
export const checks = {
  beta: beta01,
  positiveInt: (): Check => (v) => (Number.isInteger(v) && (v as number) >= 1 ? null : 'an integer >= 1'),
  triple: (): Check => (v) => {
    if (!Array.isArray(v) || v.length !== 3) return 'an array of three numbers in [0, 1)';
    return v.every((x) => beta01(x) === null) ? null : 'an array of three numbers in [0, 1)';
  },
  oneOf: (...values: string[]): Check => (v) => (values.includes(v as string) ? null : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`),
};

export function requireMatrix(name: string, shape: readonly number[]): void {
  if (shape.length !== 2) throw new FisheroptError('BAD_SHAPE', `${name} updates 2-D weights only, got shape [${shape.join(', ')}]`);
}
