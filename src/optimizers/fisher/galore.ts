/**
 * GaLore (Zhao et al. 2024, arXiv 2403.03507), as framed by Gong et al. 2025 (arXiv 2502.07752, Alg. 8)
 * and pinned down by the official code (spec `alice-racs.md` §3.6): Adam on the projection of G onto
 * the top-r left singular vectors of the current gradient, refreshed every K steps.
 *
 * Update at step t (G' = G when m ≤ n, Gᵀ when m > n: d×N with d = min(m, n), N = max(m, n)):
 *   if (t − 1) mod K = 0:  U ← top-r left singular vectors of G' (exact thin SVD, the `svd` kernel)
 *   σ ← Uᵀ·G' (r×N);  M ← lerp(M, σ, 1 − β1);  V ← β2·V + (1 − β2)·σ²      (moments kept across refreshes)
 *   Ω ← (√(1 − β2ᵗ)/(1 − β1ᵗ)) · M / (√V + ε)                               (biasCorrection, the default)
 *   W ← W − λ·α·(U·Ω)'   ((·)' transposes back when m > n);  then W ← W·(1 − λ·wd) (GaLore's AdamW order)
 *
 * State: U (d×r), M and V (r×N): stateBytes = 4·(d·r + 2·r·N), r = min(rank, d).
 * Defaults (paper Table 7, LLaMA-60M): lr 0.02, scale α 0.3, rank 128, updateInterval K 200,
 * betas (0.9, 0.999), eps 1e-6 (outside the square root, as GaLore's AdamW), weightDecay 0.
 *
 * Choices: the projection is on the smaller side (transpose in and out through gemm flags, never
 * copied); `biasCorrection: false` drops both corrections (Ω = M/(√V + ε)). The refresh is an exact SVD
 * (GaLore uses torch.linalg.svd in fp32); scratch holds the SVD's U, Vᵀ and work space.
 */
import { GEMM_SCRATCH_BYTES } from '../../kernels/gemm.js';
import { svdScratchBytes } from '../../kernels/linalg.js';
import { KernelFlag } from '../../kernels.js';
import { check, type Options } from '../../options.js';
import type { OptimizerDef } from '../types.js';
import { backProject, carve, checks, frame, project, topLeftRegions, topLeftSingular } from './common.js';
import { refreshes, sides, svdCost } from '../cost.js';

export const rankOf = (shape: readonly number[], o: Options): number => Math.min(o.rank as number, Math.min(shape[0], shape[1]));

function layout(shape: readonly number[], o: Options) {
  const f = frame(shape);
  const r = rankOf(shape, o);
  return carve({
    sigma: 4 * r * f.N,
    ...topLeftRegions(f, r),
    work: Math.max(GEMM_SCRATCH_BYTES, svdScratchBytes(f.m, f.n, 0)),
  });
}

export const galore: OptimizerDef = {
  name: 'galore',
  summary: 'GaLore: Adam on the top-r singular subspace of the gradient (Zhao et al. 2024)',
  matrixOnly: true,
  cost(shape, o, t) {
    const { d, N } = sides(shape);
    const r = Math.min(o.rank as number, d);
    return 4 * r * d * N + 28 * r * N + 12 * d * N + (refreshes(t, o.updateInterval) ? svdCost(d, N) : 0);
  },
  schema: {
    lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
    scale: { default: 0.3, check: check.nonNegative(), doc: 'scale α of the projected-back update' },
    rank: { default: 128, check: checks.positiveInt(), doc: 'rank r of the projection (capped at min(m, n))' },
    updateInterval: { default: 200, check: checks.positiveInt(), doc: 'K: the SVD is recomputed when (t − 1) mod K = 0' },
    betas: { default: [0.9, 0.999], check: check.pair(checks.beta, checks.beta), doc: '(β1, β2) of Adam on the projected gradient' },
    eps: { default: 1e-6, check: check.nonNegative(), doc: 'added to √V (outside the square root)' },
    biasCorrection: { default: true, check: check.boolean(), doc: "Adam's bias corrections (GaLore's correct_bias)" },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay, applied after the update as GaLore does' },
  },
  handles: (shape) => shape.length === 2,
  slots(shape, o) {
    const f = frame(shape);
    const r = rankOf(shape, o);
    return [{ name: 'U', length: f.d * r }, { name: 'expAvg', length: r * f.N }, { name: 'expAvgSq', length: r * f.N }];
  },
  scratchBytes: (shape, o) => layout(shape, o).bytes,
  step(ctx, p, o) {
    const k = ctx.kernels;
    const f = frame(p.shape);
    const r = rankOf(p.shape, o);
    const { at: off } = layout(p.shape, o);
    const at = Object.fromEntries(Object.entries(off).map(([key, v]) => [key, ctx.scratch + v])) as typeof off;
    const t = ctx.step;
    const U = p.slots.U;
    if ((t - 1) % (o.updateInterval as number) === 0) topLeftSingular(k, f, U, p.g, r, at);
    project(k, f, at.sigma, U, p.g, r, at.work);
    const [b1, b2] = o.betas as [number, number];
    const a1 = Math.fround(1 - b1);
    const flags = Math.abs(a1) < 0.5 ? KernelFlag.LERP_SMALL : 0;
    const mScale = o.biasCorrection ? Math.sqrt(1 - b2 ** t) / (1 - b1 ** t) : 1;
    k.adamDirection(at.sigma, at.sigma, p.slots.expAvg, p.slots.expAvgSq, r * f.N, a1, Math.fround(1 - a1), b2, 1 - b2, mScale, 1, o.eps as number, flags);
    backProject(k, f, p.p, U, at.sigma, r, -ctx.lr * (o.scale as number), 1, at.work);
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - ctx.lr * wd);
  },
};
