/**
 * Shampoo (Gupta, Koren & Singer 2018, arXiv 1802.09568) as framed by Gong et al. 2025 (arXiv
 * 2502.07752) Alg. 5; spec ../shared/papers/alice-racs.md §3.2: Kronecker-factored preconditioner
 * L^{-1/4} ⊗ R^{-1/4} from running sums of G·Gᵀ and Gᵀ·G.
 *
 * Update at step t:
 *   θ ← θ·(1 − η·λ)                                   (decoupled weight decay; default 0)
 *   L ← L + G·Gᵀ (m×m),  R ← R + Gᵀ·G (n×n)           (running sums, L₀ = R₀ = ε·I; `syrk`)
 *   if (t − 1) mod K = 0:  L^{-1/4} = V·diag(max(λ, ε)^{-1/4})·Vᵀ with (λ, V) = eigh(L); same for R
 *   θ ← θ − η·L^{-1/4}·G·R^{-1/4}                     (Alg. 5 prints "+": a sign typo, spec §3.2)
 *
 * State: L, L^{-1/4} (m×m), R, R^{-1/4} (n×n): stateBytes = 4·2·(m² + n²). (The spec's m² + n² counts
 * the statistics; the inverse roots are kept between refreshes, so they are state too.)
 * Defaults: lr 1e-3, eps 1e-4, updateInterval (K) 10, weightDecay 0.
 * Choices where the spec is open: ε initializes L and R (ε·I, as Alg. 5) and also floors the computed
 * eigenvalues before the inverse root (round-off can push the smallest ones of a rank-deficient sum
 * below ε or below 0); the inverse roots are recomputed every K steps (K = 1: the exact Alg. 5) and the
 * stale ones are used in between; no momentum, no grafting (not in Alg. 5); eigh in f64, roots stored
 * in f32. Orientation-free (two-sided): no transpose rule is needed.
 * First step with K = 1: L^{-1/4}·G·R^{-1/4} = U·diag(σ/√(σ² + ε))·Vᵀ ≈ U·Vᵀ (the polar factor; tested).
 */
import { checkLinalgStatus, eighScratchBytes } from '../../kernels/linalg.js';
import { check, type Options } from '../../options.js';
import type { Kernels, Ptr } from '../../kernels.js';
import { numel, type HostArena, type OptimizerDef, type ParamRef, type StepContext } from '../types.js';
import { GEMM_SCRATCH_BYTES, isRefresh, layout } from './common.js';
import { eighCost, refreshes } from '../cost.js';

const scratch = (shape: readonly number[]) => {
  const [m, n] = shape;
  const b = Math.max(m, n);
  return layout({ tmp: 4 * m * n, out: 4 * m * n, gemm: GEMM_SCRATCH_BYTES, v: 4 * b * b, y: 4 * b * b, w: 4 * b, eigh: eighScratchBytes(b) });
};

/** inv ← V·diag(max(λ, ε)^{-1/4})·Vᵀ for the k×k symmetric S. */
function inverseFourthRoot(
  k: Kernels, host: HostArena, inv: Ptr, s: Ptr, n: number, eps: number, v: Ptr, y: Ptr, w: Ptr, work: Ptr, gs: Ptr,
): void {
  checkLinalgStatus(k.eigh(v, n, w, s, n, n, work), 'eigh', [n, n]);
  host.write(w, Array.from(host.read(w, n), (x) => Math.max(x, eps) ** -0.25));
  k.scaleRowsCols(y, n, v, n, 0, w, n, n);
  k.gemm(inv, n, y, n, 0, v, n, 1, n, n, n, 1, 0, gs);
}

export const shampoo: OptimizerDef = {
  name: 'shampoo',
  summary: 'Shampoo: L^{-1/4}·G·R^{-1/4} from running sums of G·Gᵀ and Gᵀ·G, roots by eigh every K steps',
  matrixOnly: true,
  cost(shape, o, t) {
    const [m, n] = shape;
    return 16 * m * n + 3 * m * n * (m + n) + (refreshes(t, o.updateInterval) ? eighCost(m) + eighCost(n) : 0);
  },
  schema: {
    lr: { default: 1e-3, check: check.nonNegative(), doc: 'learning rate η' },
    eps: { default: 1e-4, check: check.number(0, Infinity, true), doc: 'ε: L₀ = R₀ = ε·I, and the floor of the eigenvalues before λ^{-1/4}' },
    updateInterval: { default: 10, check: check.integer(1), doc: 'K: inverse roots recomputed at t = 1, K+1, 2K+1, …' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ: θ ← θ·(1 − η·λ) before the update' },
  },
  handles: (shape) => shape.length === 2 && shape[0] > 0 && shape[1] > 0,
  slots(shape) {
    const [m, n] = shape;
    return [
      { name: 'statL', length: m * m }, { name: 'statR', length: n * n },
      { name: 'rootL', length: m * m }, { name: 'rootR', length: n * n },
    ];
  },
  scratchBytes: (shape) => scratch(shape).bytes,
  step(ctx: StepContext, p: ParamRef, o: Options) {
    const k = ctx.kernels;
    const t = ctx.step;
    const lr = ctx.lr;
    const [m, n] = p.shape;
    const mn = numel(p.shape);
    const eps = o.eps as number;
    const wd = o.weightDecay as number;
    const { off } = scratch(p.shape);
    const sc = ctx.scratch;
    const gs = sc + off.gemm;
    const { statL, statR, rootL, rootR } = p.slots;

    if (wd !== 0) k.scale(p.p, mn, 1 - lr * wd);
    if (t === 1) {
      k.fill(statL, m * m, 0); k.addDiag(statL, m, m, eps);
      k.fill(statR, n * n, 0); k.addDiag(statR, n, n, eps);
    }
    k.syrk(statL, m, p.g, n, 0, m, n, 1, 1, gs);
    k.syrk(statR, n, p.g, n, 1, n, m, 1, 1, gs);
    if (isRefresh(t, o.updateInterval as number)) {
      inverseFourthRoot(k, ctx.host, rootL, statL, m, eps, sc + off.v, sc + off.y, sc + off.w, sc + off.eigh, gs);
      inverseFourthRoot(k, ctx.host, rootR, statR, n, eps, sc + off.v, sc + off.y, sc + off.w, sc + off.eigh, gs);
    }
    k.gemm(sc + off.tmp, n, rootL, m, 0, p.g, n, 0, m, n, m, 1, 0, gs);
    k.gemm(sc + off.out, n, sc + off.tmp, n, 0, rootR, n, 0, m, n, n, 1, 0, gs);
    k.axpy(p.p, sc + off.out, mn, -lr);
  },
};
