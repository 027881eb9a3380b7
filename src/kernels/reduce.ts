/**
 * Reductions and scalings: row/column sums of squares, row mean and standard deviation,
 * out_ij = r_i·a_ij·c_j, a fused SR-Sinkhorn round (f64 sums, and SinkGD's f32 round), row
 * standardization, max-abs, dot (the Frobenius norm is √`sumsq`). Conventions as in `./elementwise.ts`:
 * matrices are row-major f32 with a row stride (`lda`, in elements); every kernel here is bit-identical
 * between backends (sums in a fixed lane order, f32 products in the order written).
 */
import type { Ptr } from './ptr.js';

export interface ReduceKernels {
  /** out_i ← f32(Σ_j a_ij²) for each row of the m×n matrix A, each row's sum in lane order over j. */
  rowSumsq(out: Ptr, a: Ptr, m: number, n: number, lda: number): void;

  /** out_j ← f32(Σ_i a_ij²), summed in f64 over i = 0..m−1 in order in `acc` (n f64 scratch, 8-aligned). */
  colSumsq(out: Ptr, acc: Ptr, a: Ptr, m: number, n: number, lda: number): void;

  /**
   * Per row: μ = (Σ_j a_ij)/n and s = √(Σ_j (a_ij − μ)² / (n − ddof)), in f64 (both sums in lane order,
   * the deviation taken from the f64 μ); mean_i ← f32(μ), std_i ← f32(s). ddof = 0: population std
   * (SWAN's GradNorm), 1: sample std. n − ddof ≤ 0 gives NaN.
   */
  rowMeanStd(mean: Ptr, std: Ptr, a: Ptr, m: number, n: number, lda: number, ddof: number): void;

  /**
   * out_ij ← f32(f32(r_i·a_ij)·c_j) for the m×n matrix A (row stride lda) into out (row stride ldo);
   * r = 0 or c = 0 (the null pointer) means no scaling on that side. out may be A itself (same stride).
   */
  scaleRowsCols(out: Ptr, ldo: number, a: Ptr, lda: number, r: Ptr, c: Ptr, m: number, n: number): void;

  /**
   * One round of SR-Sinkhorn in the two-vector form (SinkGD): X = Diag(a)·G·Diag(b) gets rows of norm
   * √rowTarget, then columns of norm √colTarget, without forming X. For G m×n (row stride lda), b (n
   * f32) on entry the current column scales, acc n f64 scratch (8-aligned):
   *   for each row i:  r_i = Σ_j (g_ij·b_j)²  (each g_ij·b_j exact in f64, squared in f64, lane order over j)
   *                    a_i ← scale(r_i, rowTarget)
   *                    acc_j += (g_ij·a_i)²     (same f64 terms; each column summed over i in order)
   *   then             b_j ← scale(acc_j, colTarget)
   * with scale(s, t) the f64 √(t/s) rounded once to f32, 0 for s = 0 or a result beyond the f32 range (as
   * `normScale`). Each row is read twice while it is in cache, so a round is one pass over G. Start
   * from b = 1 (`fill`). Zero rows and columns get zero scales.
   */
  sinkhornRound(a: Ptr, b: Ptr, acc: Ptr, g: Ptr, m: number, n: number, lda: number, rowTarget: number, colTarget: number): void;

  /**
   * One round of SR-Sinkhorn in f32 (SinkGD's round): the two-vector form of `sinkhornRound` on
   * G' = s·G for a power of two s (> 0), with the scale carried by the vectors: α = s·a and β = s·b, so
   * that Diag(α)·G·Diag(b) = Diag(a)·G'·Diag(b) and every product below is an entry of the normalized
   * matrix (no squares of raw gradient entries, which would leave the f32 range). For G m×n (row stride
   * lda), β (n f32) on entry, acc n f32 scratch:
   *   for each row i:  r_i = Σ_j f32(t·t), t = f32(g_ij·β_j), in eight f32 lane sums s_l (l = j mod 8, each
   *                    from +0 in increasing j) combined as c_l = f32(s_l + s_{l+4}) (l < 4), then
   *                    f32(f32(c_0 + c_1) + f32(c_2 + c_3))
   *                    α_i ← scaled(normScale(r_i, rowTarget))
   *                    acc_j ← f32(acc_j + f32(u·u)), u = f32(g_ij·α_i)   (acc from +0, rows in order)
   *   then             β_j ← scaled(normScale(acc_j, colTarget))
   * with normScale(x, t) as the kernel `normScale` (f64 √(t/x) rounded once; 0 for x = 0 or beyond the
   * f32 range) and scaled(y) = f32(s·y), 0 where that is +∞. Start from β = s (`fill`); after the last
   * round b = β/s. One pass over G per round. Zero rows and columns get zero scales; NaN propagates.
   * Returns max_ij |g_ij| as `maxAbs` does when `withMax` is nonzero (read in the same pass), else 0.
   */
  sinkgdRound(alpha: Ptr, beta: Ptr, acc: Ptr, g: Ptr, m: number, n: number, lda: number, rowTarget: number, colTarget: number, s: number, withMax: number): number;

  /**
   * Row standardization (SWAN's GradNorm): out_ij ← f32(f32(a_ij − mean_i)·r_i) with
   * r_i = f32(1 / f32(max(std_i, eps))), A m×n (row stride lda) into out (row stride ldo; may be A with
   * the same stride). With `rowMeanStd`'s mean and population std, every row gets mean 0 and norm √n (a
   * constant row becomes zero).
   */
  rowStandardize(out: Ptr, ldo: number, a: Ptr, lda: number, mean: Ptr, std: Ptr, m: number, n: number, eps: number): void;

  /** max_i |x_i| as f64 (0 for n = 0; NaN when any x_i is NaN). */
  maxAbs(x: Ptr, n: number): number;

  /** Σ x_i·y_i, each product exact in f64, summed in lane order. */
  dot(x: Ptr, y: Ptr, n: number): number;
}

export const REDUCE_KERNELS = [
  'rowSumsq', 'colSumsq', 'rowMeanStd', 'scaleRowsCols', 'sinkhornRound', 'sinkgdRound', 'rowStandardize', 'maxAbs', 'dot',
] as const satisfies readonly (keyof ReduceKernels)[];
