/**
 * SWAN, SGD with normalization and whitening (Ma, Gong, Scetbon, Meeds 2025, "SWAN: SGD with
 * Normalization and Whitening Enables Stateless LLM Training", arXiv 2412.13148, ICML 2025; Algorithms 1–3;
 * spec `sinkgd-swan.md` §4).
 *
 * Update at step t (G the m×n gradient, rows = output units):
 *   G̃ = GradNorm(G):        G̃_ij = (g_ij − μ_i) / max(σ_i, ε)  (row mean, population std; §4.1 step 1)
 *   Δ = GradWhitening(G̃):   √n·(G̃·G̃ᵀ)^{-1/2}·G̃ for m ≤ n, √m·G̃·(G̃ᵀ·G̃)^{-1/2} for m > n  (§4.1 step 2, §4.3)
 *   optional rescale:       Δ ← √(mn)·Δ/‖Δ‖_F  (§4.1 step 3)
 *   W ← W·(1 − λ·wd);  W ← W − λ·α·Δ
 * The inverse square root is the coupled Newton–Schulz iteration on the smaller Gram, normalized by its
 * Frobenius norm so its eigenvalues lie in (0, 1], inside the convergence region (0, 3) (§4.3, §5.6):
 *   Y₀ = A/‖A‖_F, Z₀ = I;  K times T = β(3I − Z·Y), Y ← Y·T, Z ← T·Z;  A^{-1/2} ≈ Z/√‖A‖_F.
 * For a full-rank G̃ with m ≤ n, Δ·Δᵀ = n·I once the iteration has converged.
 *
 * State: none (stateBytes 0). Scratch: G̃ and Δ (m·n each), the s×s Gram, Z and the iteration's
 * buffers (s = min(m, n)), about 2·m·n + 5·s² f32.
 * Defaults: lr 0.02, scale α 0.05 (the same authors' convention, effective step 1e-3 on an RMS-1 update),
 * `nsSteps` K = 10 and `nsBeta` β = ½ (§4.3 and §6: β = ½ converges quadratically; K = 10 brings Gram
 * eigenvalues down to 1e-3·‖A‖_F to within 2%), ε 1e-30, `rescale` false.
 *
 * Choices where the spec is open ([U] there): GradNorm keeps the mean-centering (§4.1) and always
 * standardizes rows (output units), also for m > n, where only the whitening switches to the n×n Gram
 * (no transpose in memory). The output is scaled by √max(m, n) ("by the dimensions"), which gives RMS 1
 * at convergence; `rescale: true` instead matches the Frobenius norm √(mn) exactly (exact RMS 1 also
 * before convergence or for rank-deficient G̃). ε is a tiny floor (§5.1: a large clamp would stop small
 * gradients from being normalized; implementations use 1e-8). β ≠ ½ scales the fixed point (stable for
 * 1/3 < β < 2/3), so pair it with `rescale`. Square matrices: centering makes G̃ rank ≤ n − 1, G̃·G̃ᵀ is
 * singular, and Newton–Schulz keeps the null direction at 0 (pseudo-inverse): Δ·Δᵀ = n·(I − u·uᵀ) with
 * u the unit left null vector of G̃ (tested). Not implemented: SWAN's NSDS variant and any Adam warm-up
 * (both [U] in the spec).
 */
import { check, type Options } from '../../options.js';
import type { OptimizerDef } from '../types.js';
import { rowStandardize, rowStandardizeScratchBytes, whiten, whitenScratchBytes } from './operators.js';
import { sides } from '../cost.js';

const al16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

export const swan: OptimizerDef = {
  name: 'swan',
  summary: 'SWAN: stateless GradNorm + GradWhitening (Ma et al. 2025)',
  matrixOnly: true,
  cost(shape, o) {
    const { d, N } = sides(shape);
    return 24 * d * N + 3 * d * d * N + 6 * (o.nsSteps as number) * d ** 3;
  },
  schema: {
    lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
    scale: { default: 0.05, check: check.nonNegative(), doc: 'update scale α (effective step λ·α on an RMS-1 update)' },
    nsSteps: { default: 10, check: check.integer(1), doc: 'coupled Newton–Schulz iterations K of the inverse square root' },
    nsBeta: { default: 0.5, check: check.number(0, 1, true, true), doc: 'Newton–Schulz step β in T = β(3I − Z·Y); converges for 1/3 < β < 2/3' },
    eps: { default: 1e-30, check: check.number(0, Infinity, true), doc: 'floor of the row std in GradNorm (> 0)' },
    rescale: { default: false, check: check.boolean(), doc: 'rescale Δ to Frobenius norm √(mn) (instead of the √max(m, n) factor alone)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ_wd: W ← W·(1 − lr·λ_wd)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: (shape) => shape.length === 2,
  validate: (o) => ((o.nsSteps as number) > 100 ? `nsSteps must be at most 100, got ${o.nsSteps}` : null),
  slots: () => [],
  scratchBytes: (shape) => {
    const [m, n] = shape;
    return 2 * al16(4 * m * n) + Math.max(whitenScratchBytes(m, n), rowStandardizeScratchBytes(m));
  },
  step(ctx, p, o: Options) {
    const k = ctx.kernels;
    const [m, n] = p.shape;
    const gt = ctx.scratch, delta = gt + al16(4 * m * n), ws = delta + al16(4 * m * n);
    rowStandardize(k, gt, p.g, m, n, ws, o.eps as number);
    whiten(k, delta, gt, m, n, ws, o.nsSteps as number, o.nsBeta as number);
    let factor = 1;
    if (o.rescale) {
      const norm = Math.sqrt(k.sumsq(delta, p.size));
      factor = norm > 0 ? Math.sqrt(m * n) / norm : 0;
    }
    const lr = ctx.lr;
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
    const coeff = lr * (o.scale as number) * factor;
    k.axpy(p.p, delta, p.size, o.maximize ? coeff : -coeff);
  },
};
