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
 * whenever φ = 0 (§7.9). Orientation-free (no transpose for m > n).
 *
 * Passes over G (P is never formed; src/kernels/fisher.ts has the kernels' exact arithmetic): `racsColSq`
 * gives Pᵀ·1; each of the next iterations − 1 passes (`racsFixedPass`) computes q̂_k row by row and, while
 * the row is in cache, accumulates Pᵀq̂_k, the next ŝ up to its normaliser; the last pass (`racsFinalPass`)
 * gives the last q̂ and t = P·rs² with rs = max(s, ε)^{-1/2} (s's EMA is known once the last ŝ is), so
 * ‖G̃‖_F² = Σ_i rq_i²·t_i (`racsNormSq`) without a pass of its own; `racsScaledApply` applies G̃ without
 * storing it. That is iterations + 2 passes (7 by default) where one matrix–vector product per pass
 * would take 2·iterations + 2.
 *
 * Precision: the fixed point sums in f32 (f32 products, row dots in eight lanes, column sums in row
 * order); the scalars (norms, normalisers) are f64 on the host. Each pass takes ŝ as the unit vector
 * w = ŝ/‖ŝ‖ and b = ‖ŝ‖/max(ŝᵀŝ, 1e-30), so q̂ = b·P·w and the products stay at the scale of P (no
 * P²-sized terms that would underflow f32 for small gradients). All terms are ≥ 0, so every f32 sum has a relative error of
 * at most (terms)·2⁻²⁴ (typically √terms·2⁻²⁴), a perturbation the normalised power iteration does not
 * amplify: after 6 steps the update agrees with an all-f64 evaluation of the spec to about 2.5e-7 of the
 * step (test/optimizers/fisher-racs.test.ts; with the fixed point in f64: 2e-7). Squares of entries
 * below about 1e-19 in magnitude flush to zero in f32 (ŝ, stored in f32, would underflow there anyway). ‖G̃‖ from t sums rows of
 * f32(rs_j²)-weighted squares rather than squares of f32(rq_i·g_ij·rs_j): the limiter sees the same
 * norm to f32 rounding. Scratch: q̂, t, q^{-1/2}, s^{-1/2} and two n-vectors (f32).
 */
import { KernelFlag } from '../../kernels.js';
import { check, type Options } from '../../options.js';
import type { OptimizerDef } from '../types.js';
import { carve, checks, limiter } from './common.js';
import { perElement } from '../cost.js';

const NORM_FLOOR = 1e-30;

/** Largest normaliser applied to the ŝ direction (keeps it finite in f32 when ‖ŝ‖ is tiny). */
const MAX_NORMALISER = 1e30;

function layout(shape: readonly number[]) {
  const [m, n] = shape;
  return carve({ qh: 4 * m, t: 4 * m, rq: 4 * m, rs: 4 * n, va: 4 * n, vb: 4 * n });
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
    const [qh, t, rq, rs] = [at.qh, at.t, at.rq, at.rs].map((x) => ctx.scratch + x);
    let v = ctx.scratch + at.va, spare = ctx.scratch + at.vb;
    const beta = o.beta as number;
    const eps = o.eps as number;
    const lr = ctx.lr;
    const iterations = o.iterations as number;
    // Scale that makes x (n values, Σx² = xx) a unit vector for the next pass (1 for x = 0).
    const normaliser = (xx: number) => (xx > 0 ? Math.min(1 / Math.sqrt(xx), MAX_NORMALISER) : 1);

    // One-sample fixed point on P = G⊙G from q̂ = 1. Invariant: v = c·ŝ_it. Each pass gets ŝ_it as the
    // unit vector w = a·v and b = 1/(a·c·ss), so q̂_it = P·ŝ_it/ss = b·P·w, and leaves Pᵀq̂_it in `spare`.
    k.racsColSq(v, p.g, m, n); // Pᵀ·1, and q̂ᵀq̂ = m
    let c = Math.max(m, NORM_FLOOR);
    for (let it = 1; it < iterations; it++) {
      const vv = k.sumsq(v, n);
      const ss = Math.max(vv / (c * c), NORM_FLOOR);
      const a = normaliser(vv);
      k.scale(v, n, a);
      k.racsFixedPass(qh, spare, p.g, v, m, n, 1 / (a * c * ss));
      c = Math.max(k.sumsq(qh, m), NORM_FLOOR);
      [v, spare] = [spare, v];
    }
    k.scale(v, n, 1 / c); // ŝ (last iteration)
    // EMA (torch lerp with weight 1 − β).
    const w = Math.fround(1 - beta);
    const flags = Math.abs(w) < 0.5 ? KernelFlag.LERP_SMALL : 0;
    k.lerp(p.slots.s, v, n, w, Math.fround(1 - w), flags);
    k.racsRsqrt(rs, p.slots.s, n, eps);
    // Last q̂ = P·ŝ/ss and t = P·rs², so that ‖G̃‖² = Σ_i rq_i²·t_i.
    const vv = k.sumsq(v, n);
    const ss = Math.max(vv, NORM_FLOOR);
    const a = normaliser(vv);
    k.scale(v, n, a);
    k.racsFinalPass(qh, t, p.g, v, rs, m, n, 1 / (a * ss));
    k.lerp(p.slots.q, qh, m, w, Math.fround(1 - w), flags);
    k.racsRsqrt(rq, p.slots.q, m, eps);

    const norm = Math.sqrt(k.racsNormSq(rq, t, m));
    const eta = limiter(k, ctx.host, p.slots.phi, norm, o.gamma as number);
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
    const coeff = lr * (o.scale as number) * eta;
    k.racsScaledApply(p.p, p.g, rq, rs, m, n, o.maximize ? coeff : -coeff);
  },
};
