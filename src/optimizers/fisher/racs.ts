/**
 * RACS, Row And Column Scaled SGD (Gong et al. 2025, arXiv 2502.07752, §4, Prop. 3, Alg. 1; spec
 * `alice-racs.md` §4 and §7): the Fisher approximated as S ⊗ Q with both factors diagonal.
 *
 * Update at step t (G the m×n gradient, P = G⊙G, never formed):
 *   q̂ ← 1_m;  5 times: ŝ ← Pᵀq̂ / max(q̂ᵀq̂, 1e-30);  q̂ ← P·ŝ / max(ŝᵀŝ, 1e-30)   (fresh start each step)
 *   s ← β·s + (1 − β)·ŝ;  q ← β·q + (1 − β)·q̂                                 (torch lerp; s₀ = q₀ = 0)
 *   G̃ ← Diag(max(q, ε))^{-1/2} · G · Diag(max(s, ε))^{-1/2}
 *   η ← 1 when φ = 0 (the first step), else γ / max(‖G̃‖_F / φ, γ);  φ ← η·‖G̃‖_F   (norm-growth limiter)
 *   W ← W·(1 − λ·wd)  (decoupled weight decay, default off);  W ← W − λ·α·η·G̃
 *
 * State: s (n), q (m), φ (1): stateBytes = 4·(m + n + 1). The step counter is the optimizer's.
 * Defaults (paper Table 9, LLaMA 60M–350M): lr 0.02, beta 0.9, scale α 0.05, gamma 1.01, 5 iterations.
 *
 * Choices where the spec is open: q̂ restarts from 1 every step and the inner order is s then q (spec
 * §4 step 2, [P~]); no bias correction (Alg. 1, [R] keep it off); floors [R] §7.1: the normalisers q̂ᵀq̂
 * and ŝᵀŝ at 1e-30, s and q at `eps` (default 1e-30) before the inverse square roots; the limiter is off
 * whenever φ = 0 (§7.9). Orientation-free (no transpose for m > n). P·ŝ and Pᵀq̂ are the fused kernels
 * `racsRowWeight` / `racsColWeight`; G̃ is never stored (`racsScaledSumsq` for its norm, then
 * `racsScaledApply`). Scratch: q̂, ŝ, q^{-1/2}, s^{-1/2} (f32) and n f64.
 */
import { KernelFlag } from '../../kernels.js';
import { check, type Options } from '../../options.js';
import type { OptimizerDef } from '../types.js';
import { carve, checks, limiter } from './common.js';
import { perElement } from '../cost.js';

const NORM_FLOOR = 1e-30;

function layout(shape: readonly number[]) {
  const [m, n] = shape;
  return carve({ qh: 4 * m, sh: 4 * n, rq: 4 * m, rs: 4 * n, acc: 8 * n });
}

export const racs: OptimizerDef = {
  name: 'racs',
  summary: 'RACS: row and column scaled SGD (Gong et al. 2025)',
  matrixOnly: true,
  cost: (shape, o) => perElement(8 * ((o.iterations as number) + 2))(shape),
  schema: {
    lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
    beta: { default: 0.9, check: checks.beta, doc: 'EMA decay β of the row and column scalings s and q' },
    scale: { default: 0.05, check: check.nonNegative(), doc: 'update scale α (effective step λ·α)' },
    gamma: { default: 1.01, check: check.number(1), doc: 'norm-growth limiter threshold γ (≥ 1)' },
    iterations: { default: 5, check: checks.positiveInt(), doc: 'fixed-point (power) iterations per step, from q̂ = 1' },
    eps: { default: 1e-30, check: check.number(0, Infinity, true), doc: 'floor of s and q before the inverse square root (> 0)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ_wd: W ← W·(1 − lr·λ_wd)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: (shape) => shape.length === 2,
  slots(shape) {
    const [m, n] = shape;
    return [{ name: 's', length: n }, { name: 'q', length: m }, { name: 'phi', length: 1 }];
  },
  scratchBytes: (shape) => layout(shape).bytes,
  step(ctx, p, o: Options) {
    const k = ctx.kernels;
    const [m, n] = p.shape;
    const { at } = layout(p.shape);
    const [qh, sh, rq, rs, acc] = [at.qh, at.sh, at.rq, at.rs, at.acc].map((x) => ctx.scratch + x);
    const beta = o.beta as number;
    const eps = o.eps as number;
    const lr = ctx.lr;

    // One-sample fixed point on P = G⊙G from q̂ = 1.
    k.fill(qh, m, 1);
    for (let it = 0; it < (o.iterations as number); it++) {
      const qq = Math.max(k.sumsq(qh, m), NORM_FLOOR);
      k.racsColWeight(sh, acc, p.g, qh, m, n);
      k.scale(sh, n, 1 / qq);
      const ss = Math.max(k.sumsq(sh, n), NORM_FLOOR);
      k.racsRowWeight(qh, p.g, sh, m, n);
      k.scale(qh, m, 1 / ss);
    }
    // EMA (torch lerp with weight 1 − β).
    const w = Math.fround(1 - beta);
    const flags = Math.abs(w) < 0.5 ? KernelFlag.LERP_SMALL : 0;
    k.lerp(p.slots.s, sh, n, w, Math.fround(1 - w), flags);
    k.lerp(p.slots.q, qh, m, w, Math.fround(1 - w), flags);
    k.racsRsqrt(rq, p.slots.q, m, eps);
    k.racsRsqrt(rs, p.slots.s, n, eps);

    const norm = Math.sqrt(k.racsScaledSumsq(p.g, rq, rs, m, n));
    const eta = limiter(k, ctx.memory, p.slots.phi, norm, o.gamma as number);
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
    const coeff = lr * (o.scale as number) * eta;
    k.racsScaledApply(p.p, p.g, rq, rs, m, n, o.maximize ? coeff : -coeff);
  },
};
