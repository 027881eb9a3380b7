/**
 * Muon, MomentUm Orthogonalized by Newton–Schulz (Keller Jordan 2024, https://kellerjordan.github.io/posts/muon/
 * and `KellerJordan/Muon` `muon.py`; spec `sinkgd-swan.md` §4.3 "practical substitute").
 *
 * Update at step t (G the m×n gradient; torch lerp throughout):
 *   M ← lerp(M, G, 1 − μ)                                   (momentum buffer, M₀ = 0)
 *   U = nesterov ? lerp(G, M, μ) : M
 *   O = NS₅(U): X ← U/(‖U‖_F + 1e-7), then K times A = X·Xᵀ, B = b·A + c·A², X ← a·X + B·X with the
 *       published quintic coefficients (a, b, c) = (3.4445, −4.7750, 2.0315) (`newtonSchulzPolar`, on the
 *       smaller Gram for m > n); O ≈ U·S′·Vᵀ with S′ in a band around 1 (about [0.7, 1.2] after 5 steps)
 *   W ← W·(1 − λ·wd);  W ← W − λ·s(m, n)·O
 * with the shape factor s(m, n) = max(1, m/n)^½ (`scaling: 'aspect'`, the original Muon's, default) or
 * 0.2·√max(m, n) (`scaling: 'rms'`, Liu et al. 2025, "Muon is Scalable for LLM Training", arXiv
 * 2502.16982: matches AdamW's update RMS so AdamW's lr and weight decay carry over).
 *
 * State: the momentum M (m·n): stateBytes = 4·m·n. Scratch: U (m·n) and the polar iteration's.
 * Defaults (muon.py): lr 0.02, momentum μ 0.95, nesterov true, 5 Newton–Schulz steps, weightDecay 0.
 * Every other parameter (vectors, embeddings, head) goes to AdamW through the routing rules.
 *
 * Choices: the Newton–Schulz iteration runs in f32 (muon.py runs it in bf16); the gradient buffer is not
 * modified (muon.py's Nesterov lerp writes into the gradient; here U goes to scratch).
 */
import { KernelFlag } from '../../kernels.js';
import { newtonSchulzPolar, polarScratchBytes } from '../../linalg/newton-schulz.js';
import { check, type Options } from '../../options.js';
import { checks } from '../fisher/common.js';
import type { OptimizerDef } from '../types.js';
import { sides } from '../cost.js';

const al16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** Muon's shape factor s(m, n). */
export function muonShapeScale(m: number, n: number, scaling: 'aspect' | 'rms'): number {
  return scaling === 'rms' ? 0.2 * Math.sqrt(Math.max(m, n)) : Math.sqrt(Math.max(1, m / n));
}

const lerpFlags = (w: number): number => (Math.abs(w) < 0.5 ? KernelFlag.LERP_SMALL : 0);

export const muon: OptimizerDef = {
  name: 'muon',
  summary: 'Muon: momentum orthogonalized by Newton–Schulz (Jordan 2024)',
  matrixOnly: true,
  cost(shape, o) {
    const { d, N } = sides(shape);
    return 24 * d * N + (o.nsSteps as number) * (3 * d * d * N + 2 * d ** 3);
  },
  schema: {
    lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
    momentum: { default: 0.95, check: checks.beta, doc: 'momentum μ (EMA: M ← lerp(M, G, 1 − μ))' },
    nesterov: { default: true, check: check.boolean(), doc: 'orthogonalize lerp(G, M, μ) instead of M' },
    nsSteps: { default: 5, check: check.integer(0), doc: 'quintic Newton–Schulz steps' },
    scaling: { default: 'aspect', check: checks.oneOf('aspect', 'rms'), doc: "shape factor: 'aspect' max(1, m/n)^½ or 'rms' 0.2·√max(m, n)" },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ_wd: W ← W·(1 − lr·λ_wd)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: (shape) => shape.length === 2,
  validate: (o) => ((o.nsSteps as number) > 100 ? `nsSteps must be at most 100, got ${o.nsSteps}` : null),
  slots: (shape) => [{ name: 'momentum', length: shape[0] * shape[1] }],
  scratchBytes: (shape) => al16(4 * shape[0] * shape[1]) + polarScratchBytes(shape[0], shape[1]),
  step(ctx, p, o: Options) {
    const k = ctx.kernels;
    const [m, n] = p.shape;
    const u = ctx.scratch, ws = u + al16(4 * p.size);
    const mu = o.momentum as number;
    const buf = p.slots.momentum;
    const w = Math.fround(1 - mu);
    k.lerp(buf, p.g, p.size, w, Math.fround(1 - w), lerpFlags(w));
    if (o.nesterov) {
      k.copy(u, p.g, p.size);
      const wn = Math.fround(mu);
      k.lerp(u, buf, p.size, wn, Math.fround(1 - wn), lerpFlags(wn));
    } else {
      k.copy(u, buf, p.size);
    }
    newtonSchulzPolar(k, u, u, m, n, ws, o.nsSteps as number);
    const lr = ctx.lr;
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
    const coeff = lr * muonShapeScale(m, n, o.scaling as 'aspect' | 'rms');
    k.axpy(p.p, u, p.size, o.maximize ? coeff : -coeff);
  },
};
