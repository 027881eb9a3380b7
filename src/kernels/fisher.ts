/**
 * Fused kernels of the fisher optimizers (RACS, Alice, Alice-0, GaLore (Gong et al. 2025, arXiv 2502.07752)).
 * Conventions as in `./elementwise.ts`: every kernel here is bit-identical between backends (every
 * operation rounded as written, sums in a fixed order).
 *
 * RACS uses them for the one-sample fixed point on P = G⊙G without forming P: `racsColSq` gives Pᵀ·1,
 * each `racsFixedPass` computes q̂ ∝ P·ŝ row by row and accumulates the next ŝ ∝ Pᵀq̂ while the row is in
 * cache (one pass over G per iteration), and `racsFinalPass` gives the last q̂ together with
 * t = P·(s^{-1/2})², so that ‖G̃‖_F² = Σ_i q_i^{-1}·t_i (`racsNormSq`) needs no extra pass; the fixed point
 * sums in f32. `racsScaledSumsq` / `racsScaledApply` (f64 sums) compute and apply a row- and
 * column-scaled matrix without storing it (RACS's update, Alice's compensation).
 */
import type { Ptr } from './ptr.js';

export interface FisherKernels {
  /**
   * Column sums of squares in f32, (G⊙G)ᵀ·1: acc_j ← Σ_i P_ij with P_ij = f32(g_ij·g_ij), each column
   * summed over i = 0..m−1 in order starting from 0, every addition rounded to f32. G is m×n row-major
   * (contiguous); acc has n f32 values.
   */
  racsColSq(acc: Ptr, g: Ptr, m: number, n: number): void;

  /**
   * One fused power-iteration pass on P = G⊙G: for each row i in order,
   *   q_i ← f32(b·D_i(w)),  then  acc_j ← f32(acc_j + f32(P_ij·q_i)) for every j,
   * with acc (n f32) starting at 0 and D_i(w) = Σ_j f32(P_ij·w_j) the row dot in f32: eight lane sums
   * s_l (l = j mod 8, each adding its terms in increasing j from +0), combined as c_l = f32(s_l + s_{l+4})
   * (l < 4), then f32(f32(c_0 + c_1) + f32(c_2 + c_3)). b is rounded to f32 first.
   */
  racsFixedPass(q: Ptr, acc: Ptr, g: Ptr, w: Ptr, m: number, n: number, b: number): void;

  /**
   * The last pass: q_i ← f32(b·D_i(w)) and t_i ← D_i(c⊙c) (weights f32(c_j·c_j)), D as in
   * `racsFixedPass`, in one sweep over each row.
   */
  racsFinalPass(q: Ptr, t: Ptr, g: Ptr, w: Ptr, c: Ptr, m: number, n: number, b: number): void;

  /** Σ_i f32(r_i·r_i)·t_i, each term formed in f64 (exact), summed in f64 over i = 0..m−1 in order. */
  racsNormSq(r: Ptr, t: Ptr, m: number): number;

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
  'racsColSq', 'racsFixedPass', 'racsFinalPass', 'racsNormSq', 'racsRsqrt', 'racsScaledSumsq', 'racsScaledApply',
] as const satisfies readonly (keyof FisherKernels)[];
