/**
 * The kernel set, part 1: elementwise and fused optimizer kernels.
 *
 * Conventions for every family (every backend implements them; `ref`, scalar TypeScript, is the oracle):
 * - Pointers (`Ptr`) are byte offsets into the arena's memory; f32 data is 4-byte aligned (the arena
 *   aligns every tensor to 16 bytes), f64 scratch 8-byte aligned. Counts are in elements.
 * - Scalars typed `f32` are rounded to f32 on entry (wasm does this at the call boundary; `ref`
 *   applies `Math.fround`). Step-dependent scalars (bias corrections, step sizes) are computed by the
 *   host in f64 and passed in; kernels never see the step number.
 * - Elementwise kernels round to f32 after every operation in the order written below, so `ref` and
 *   `wasm` agree bit for bit.
 * - Reductions accumulate squares of f32 values in f64 (a square of an f32 is exact in f64) in a fixed
 *   order, so `ref` and `wasm` agree bit for bit here too. The "lane order" of a sequence x_0..x_{k-1}:
 *   four f64 partial sums s_l = Σ_{i ≡ l (mod 4)} x_i² taken in increasing i, combined as
 *   (s_0 + s_1) + (s_2 + s_3).
 * - `lerp(a, b, w)` is PyTorch's: `a + w·(b − a)` when |w| < 0.5, else `b − (b − a)·(1 − w)`; the host
 *   passes `w`, `omw = f32(1 − w)` and `LERP_SMALL` in `flags` when |w| < 0.5.
 * - Kernels never allocate and keep no state between calls.
 */
import type { Ptr } from './ptr.js';

/** Flag bits shared by the fused optimizer kernels. */
export const KernelFlag = {
  /** Negate the gradient (maximize the objective). */
  MAXIMIZE: 1,
  /** `lerp` uses the small-weight branch `a + w·(b − a)`. */
  LERP_SMALL: 2,
  /** Coupled L2 weight decay: g ← g + wd·p (SGD, Adam). */
  L2: 4,
  /** SGD: a momentum buffer is used. */
  MOMENTUM: 8,
  /** SGD: first step of the momentum buffer (buf ← g). */
  FIRST: 16,
  /** SGD: Nesterov momentum. */
  NESTEROV: 32,
  /** Adam: AMSGrad (uses the running maximum of v). */
  AMSGRAD: 64,
  /** adamDirection: the first moment is given (e.g. rotated into another basis) and not updated. */
  KEEP_M: 128,
} as const;

/** Fused optimizer kernels and their building blocks. */
export interface ElementwiseKernels {
  /** Σ x_i² over n f32 values, in lane order, returned as f64. */
  sumsq(x: Ptr, n: number): number;

  /** x_i ← f32(s·x_i). */
  scale(x: Ptr, n: number, s: number): void;

  /** y_i ← f32(y_i + f32(a·x_i)). */
  axpy(y: Ptr, x: Ptr, n: number, a: number): void;

  /** dst_i ← src_i for n f32 values, bit for bit; the ranges may overlap (memmove). */
  copy(dst: Ptr, src: Ptr, n: number): void;

  /** x_i ← f32(value). */
  fill(x: Ptr, n: number, value: number): void;

  /**
   * Seeded uniform values in [−1, 1), counter-based so any range can be generated independently:
   *   h = u32(seed + (offset + i)·0x9E3779B9); h ^= h >>> 16; h = h·0x7FEB352D; h ^= h >>> 15;
   *   h = h·0x846CA68B; h ^= h >>> 16  (u32 arithmetic);  x_i ← (h >>> 8)·2⁻²³ − 1  (exact in f32).
   * Used for random starts (range finders) and sampling; identical on every backend.
   */
  fillUniform(x: Ptr, n: number, seed: number, offset: number): void;

  /** a_ii ← f32(a_ii + value) for i < n, A with row stride lda (e.g. T = 3I − Z·Y, a ridge on a Gram). */
  addDiag(a: Ptr, lda: number, n: number, value: number): void;

  /**
   * Normalizing scales from sums of squares: out_i ← f32(√(target / x_i)), the quotient and root in f64
   * (`target` is an f64 scalar, not rounded), except out_i ← 0 where x_i = 0 (an all-zero row or column
   * gets no update instead of 0·∞) or where the scale exceeds the f32 range (+∞ after rounding); NaN and
   * negative x_i give NaN, x_i = +∞ gives 0. out may be x. Row normalization to norm √n is
   * `rowSumsq` → `normScale(·, n)` → `scaleRowsCols`.
   */
  normScale(out: Ptr, x: Ptr, n: number, target: number): void;

  /**
   * SGD as torch.optim.SGD, per element:
   *   g ← ±g (MAXIMIZE);  if L2: g ← f32(g + f32(wd·p))
   *   if MOMENTUM: buf ← FIRST ? g : f32(f32(buf·momentum) + f32(omDampening·g))
   *                g ← NESTEROV ? f32(g + f32(momentum·buf)) : buf
   *   p ← f32(p + f32(negLr·g))
   * `buf` is not touched without MOMENTUM (pass 0).
   */
  sgd(p: Ptr, g: Ptr, buf: Ptr, n: number, wd: number, momentum: number, omDampening: number, negLr: number, flags: number): void;

  /**
   * Adam/AdamW as torch.optim.Adam(W) (single-tensor path), per element:
   *   g ← ±g (MAXIMIZE);  if L2: g ← f32(g + f32(wd·p))
   *   p ← f32(p·decay)                                   (decoupled decay; decay = 1 − lr·wd, or 1)
   *   m ← lerp(m, g, a1)                                 (a1 = 1 − β1, omA1 = f32(1 − a1))
   *   v ← f32(f32(v·b2) + f32(f32(a2·g)·g))              (a2 = 1 − β2)
   *   if AMSGRAD: vmax ← max(vmax, v); vv = vmax else vv = v
   *   denom ← f32(f32(f32(sqrt(vv)) / bc2Sqrt) + eps)
   *   p ← f32(p + f32(f32(negStepSize·m) / denom))       (negStepSize = −lr / (1 − β1^t))
   * `vmax` is not touched without AMSGRAD (pass 0).
   */
  adam(
    p: Ptr, g: Ptr, m: Ptr, v: Ptr, vmax: Ptr, n: number,
    wd: number, decay: number, a1: number, omA1: number, b2: number, a2: number,
    bc2Sqrt: number, eps: number, negStepSize: number, flags: number,
  ): void;

  /** EMA by PyTorch's lerp: a_i ← lerp(a_i, b_i, w) (w = 1 − β; LERP_SMALL in flags when |w| < 0.5). */
  lerp(a: Ptr, b: Ptr, n: number, w: number, omw: number, flags: number): void;

  /**
   * Adam's direction without applying it, for Adam in a rotated or projected basis (Eigen-Adam, SOAP,
   * AdaDiag, GaLore, Alice): per element
   *   m ← lerp(m, g, a1)                                  (skipped with KEEP_M: m is given)
   *   v ← f32(f32(v·b2) + f32(f32(a2·g)·g))
   *   denom ← f32(f32(f32(sqrt(v)) / bc2Sqrt) + eps)
   *   d ← f32(f32(mScale·m) / denom)                      (mScale = 1/(1 − β1ᵗ), or 1)
   * `d` may be `g` or `m` (each element is read before it is written).
   */
  adamDirection(
    d: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number,
    a1: number, omA1: number, b2: number, a2: number, mScale: number, bc2Sqrt: number, eps: number, flags: number,
  ): void;

  /**
   * Adafactor row factor of one m×n matrix (row-major): for each row i,
   *   r_i ← lerp(r_i, f32(Σ_j g_ij² / n), w)   with the row sum in lane order (over j).
   */
  adafactorRowVar(r: Ptr, g: Ptr, m: number, n: number, w: number, omw: number, flags: number): void;

  /**
   * Adafactor column factor: acc_j (f64 scratch, n values) ← Σ_i g_ij² summed over i = 0..m−1 in order,
   *   c_j ← lerp(c_j, f32(acc_j / m), w).
   */
  adafactorColVar(c: Ptr, g: Ptr, acc: Ptr, m: number, n: number, w: number, omw: number, flags: number): void;

  /**
   * `adafactorRowVar(r, g, m, n, …)` and `adafactorColVar(c, g, acc, m, n, …)` in one call, with the same
   * results bit for bit; the wasm kernel reads G once (each square feeds its row and its column sum).
   */
  adafactorFactoredVar(r: Ptr, c: Ptr, g: Ptr, acc: Ptr, m: number, n: number, w: number, omw: number, flags: number): void;

  /**
   * Factored Adafactor update u_ij = f32(f32(1 / f32(sqrt(max(f32(f32(r_i·c_j) / rMean), eps1Sq)))) · g_ij).
   * Returns Σ u_ij² (rows in order, each row's elements in lane order over j, sharing the four lane sums).
   */
  adafactorFactoredSumsq(g: Ptr, r: Ptr, c: Ptr, m: number, n: number, rMean: number, eps1Sq: number): number;

  /** p_ij ← f32(p_ij + f32(coeff·u_ij)) with u_ij as in `adafactorFactoredSumsq`. */
  adafactorFactoredApply(p: Ptr, g: Ptr, r: Ptr, c: Ptr, m: number, n: number, rMean: number, eps1Sq: number, coeff: number): void;

  /** Unfactored second moment: v_i ← lerp(v_i, f32(g_i·g_i), w). */
  adafactorVecVar(v: Ptr, g: Ptr, n: number, w: number, omw: number, flags: number): void;

  /** u_i = f32(f32(1 / f32(sqrt(max(v_i, eps1Sq)))) · g_i); returns Σ u_i² in lane order. */
  adafactorVecSumsq(g: Ptr, v: Ptr, n: number, eps1Sq: number): number;

  /** p_i ← f32(p_i + f32(coeff·u_i)) with u_i as in `adafactorVecSumsq`. */
  adafactorVecApply(p: Ptr, g: Ptr, v: Ptr, n: number, eps1Sq: number, coeff: number): void;
}

export const ELEMENTWISE_KERNELS = [
  'sumsq', 'scale', 'axpy', 'copy', 'fill', 'fillUniform', 'addDiag', 'normScale', 'sgd', 'adam', 'lerp', 'adamDirection',
  'adafactorRowVar', 'adafactorColVar', 'adafactorFactoredVar', 'adafactorFactoredSumsq', 'adafactorFactoredApply',
  'adafactorVecVar', 'adafactorVecSumsq', 'adafactorVecApply',
] as const satisfies readonly (keyof ElementwiseKernels)[];
