/**
 * Fused kernels of the fisher optimizers (RACS, Alice, Alice-0, GaLore (Gong et al. 2025, arXiv 2502.07752)).
 * Conventions as in `./elementwise.ts`: every kernel here is bit-identical between backends (f64 sums of
 * exactly-formed terms in a fixed order; f32 products in the order written).
 *
 * RACS uses them for the one-sample fixed point on P = G⊙G without forming P (ŝ ∝ Pᵀq̂, q̂ ∝ P·ŝ) and for
 * the scaled update G̃ = Diag(q)^{-1/2}·G·Diag(s)^{-1/2} without storing G̃ (one pass for ‖G̃‖_F, one to
 * apply it).
 */
import type { Ptr } from './ptr.js';

export interface FisherKernels {
  /**
   * Weighted column sums of squares, (G⊙G)ᵀ·w: acc_j (n f64 scratch, 8-aligned) ← Σ_i (g_ij·g_ij)·w_i,
   * each term formed in f64 (g_ij² exact, then one rounding for ·w_i), summed over i = 0..m−1 in order;
   * out_j ← f32(acc_j). G is m×n row-major (contiguous), w has m values.
   */
  racsColWeight(out: Ptr, acc: Ptr, g: Ptr, w: Ptr, m: number, n: number): void;

  /**
   * Weighted row sums of squares, (G⊙G)·w: out_i ← f32(Σ_j (g_ij·g_ij)·w_j), terms formed in f64 as in
   * `racsColWeight`, each row summed in lane order over j. w has n values.
   */
  racsRowWeight(out: Ptr, g: Ptr, w: Ptr, m: number, n: number): void;

  /** out_i ← f32(1 / f32(sqrt(max(x_i, floor)))); out may be x. */
  racsRsqrt(out: Ptr, x: Ptr, n: number, floor: number): void;

  /**
   * Σ u_ij² with u_ij = f32(f32(r_i·g_ij)·c_j) (G m×n contiguous; r m values, c n values): rows in order,
   * each row's elements in lane order over j, the four lane sums shared across rows.
   */
  racsScaledSumsq(g: Ptr, r: Ptr, c: Ptr, m: number, n: number): number;

  /** p_ij ← f32(p_ij + f32(coeff·u_ij)) with u_ij as in `racsScaledSumsq`. */
  racsScaledApply(p: Ptr, g: Ptr, r: Ptr, c: Ptr, m: number, n: number, coeff: number): void;
}

export const FISHER_KERNELS = [
  'racsColWeight', 'racsRowWeight', 'racsRsqrt', 'racsScaledSumsq', 'racsScaledApply',
] as const satisfies readonly (keyof FisherKernels)[];
