/**
 * AdaDiag with Adafactor (one-sided): Adafactor's factored second moment, without first moment, in the
 * singular basis of the gradient on the smaller side, refreshed every T steps. Nguyen et al. 2025
 * (arXiv 2502.07488, "can be integrated with … Adafactor"); spec ../shared/papers/adadiag.md §2.4 (a
 * [R] recipe: GaLore's Adafactor with a full-rank rotation) and §5.10.
 *
 * Update at step t (m ≤ n; for m > n the right side: P = V (n×n), G̃ = G·P, Δ = U·Pᵀ):
 *   θ ← θ·(1 − η·λ)                                          (decoupled weight decay, before the update)
 *   if (t − 1) mod T = 0:  G = U_s·Σ·Vᵀ (svd);  P ← U_s        (R, C kept as they are)
 *   G̃ = Pᵀ·G                                                 (= Σ·Vᵀ from the factors at a refresh)
 *   w = t^τ (τ = beta2Decay = −0.8; the EMA weight 1 − β̂2,t)
 *   R ← lerp(R, mean_j G̃², w),  C ← lerp(C, mean_i G̃², w)    (row and column means, m and n values)
 *   V̂ = R·Cᵀ / max(mean(R), ε1);  U = G̃ / √max(V̂, ε1²)
 *   U ← U / max(1, RMS(U)/d)                                  (update clipping, d = 1)
 *   θ ← θ − η·P·U
 *
 * State, d = min(m, n): R (m), C (n), P (d×d): stateBytes = 4·(m + n + d²) (spec §2.1, β1 = 0).
 * Defaults: lr 1e-2 (external: GaLore's relative_step = False, scale_parameter = False), beta2Decay
 * −0.8, eps (ε1) f32 machine epsilon, d 1, updateInterval (T) 200, weightDecay 0.
 *
 * Choices where the spec is open:
 * - The factored kernels are torch's Adafactor (`adafactor.ts`): ε1 floors mean(R) and V̂ (torch's
 *   placement) instead of being added to G̃² before averaging (GaLore's, ε1 = 1e-30); the default ε1 is
 *   torch's (f32 epsilon), which keeps 1/√V̂ finite for an all-zero row or column of G̃.
 * - No first moment (β1 = 0, as the GaLore runs without --beta1); no bias correction (Adafactor's
 *   t^τ weight makes the first estimate the current G̃², §5.10).
 * - One-sided only (the two-sided variant is not implemented); refresh at t = 1, T+1, …; R and C are
 *   not reset or rotated at a refresh (as AdaDiag's 'keep'); a zero gradient keeps the basis.
 * - Weight decay applied to θ_t before the update (torch's order; GaLore's adafactor decays first too).
 */
import { KernelFlag } from '../../kernels.js';
import { checkLinalgStatus, svdScratchBytes } from '../../kernels/linalg.js';
import { check, type Options } from '../../options.js';
import { F32_EPS } from '../adafactor.js';
import { numel, type OptimizerDef, type ParamRef, type StepContext } from '../types.js';
import { GEMM_SCRATCH_BYTES, isRefresh, layout, rotateIn, rotateOut, type Side } from './common.js';
import { refreshes, sides, svdCost } from '../cost.js';

const scratch = (shape: readonly number[]) => {
  const [m, n] = shape;
  return layout({
    gt: 4 * m * n, out: 4 * m * n, delta: 4 * m * n, acc: 8 * n, gemm: GEMM_SCRATCH_BYTES,
    u: 4 * Math.max(m * m, m * n), s: 4 * Math.min(m, n), vt: 4 * Math.max(n * n, m * n), svd: svdScratchBytes(m, n, 0),
  });
};

export const adadiagAdafactor: OptimizerDef = {
  name: 'adadiagAdafactor',
  summary: 'AdaDiag with Adafactor: factored second moment in the singular basis of the gradient (smaller side)',
  matrixOnly: true,
  cost(shape, o, t) {
    const { d, N } = sides(shape);
    return 40 * d * N + 4 * d * d * N + (refreshes(t, o.updateInterval) ? svdCost(d, N) : 0);
  },
  schema: {
    lr: { default: 1e-2, check: check.nonNegative(), doc: 'learning rate η (external, no relative step)' },
    beta2Decay: { default: -0.8, check: check.number(-Infinity, 0), doc: 'τ: the second-moment EMA weight is t^τ' },
    eps: { default: F32_EPS, check: check.number(0, Infinity, true), doc: 'ε1: floor of mean(R) and (squared) of V̂' },
    d: { default: 1, check: check.number(1), doc: 'update clipping threshold on RMS(U)' },
    updateInterval: { default: 200, check: check.integer(1), doc: 'T: the basis is refreshed at t = 1, T+1, 2T+1, …' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ: θ ← θ·(1 − η·λ) before the update' },
  },
  handles: (shape) => shape.length === 2 && shape[0] > 0 && shape[1] > 0,
  slots(shape) {
    const [m, n] = shape;
    return [{ name: 'rowVar', length: m }, { name: 'colVar', length: n }, { name: 'basis', length: Math.min(m, n) ** 2 }];
  },
  scratchBytes: (shape) => scratch(shape).bytes,
  step(ctx: StepContext, p: ParamRef, o: Options) {
    const k = ctx.kernels;
    const t = ctx.step;
    const lr = ctx.lr;
    const [m, n] = p.shape;
    const d = Math.min(m, n);
    const mn = numel(p.shape);
    const left = m <= n;
    const { off } = scratch(p.shape);
    const sc = ctx.scratch;
    const gt = sc + off.gt, out = sc + off.out, delta = sc + off.delta, gs = sc + off.gemm;
    const u = sc + off.u, s = sc + off.s, vt = sc + off.vt;
    const basis = p.slots.basis;
    const L: Side | null = left ? { ptr: basis } : null;
    const R: Side | null = left ? null : { ptr: basis, rows: true };
    const wd = o.weightDecay as number;
    const eps1 = o.eps as number;

    if (wd !== 0) k.scale(p.p, mn, 1 - lr * wd);
    if (isRefresh(t, o.updateInterval as number) && (t === 1 || k.sumsq(p.g, mn) > 0)) {
      checkLinalgStatus(k.svd(u, d, s, vt, n, p.g, n, m, n, 0, sc + off.svd), 'svd', [m, n]);
      if (left) {
        k.copy(basis, u, d * d);
        k.scaleRowsCols(gt, n, vt, n, s, 0, m, n); // Σ·Vᵀ
      } else {
        k.copy(basis, vt, d * d);
        k.scaleRowsCols(gt, n, u, d, 0, s, m, n); // U·Σ
      }
    } else {
      rotateIn(k, gt, p.g, m, n, L, R, out, gs);
    }
    const w = Math.fround(t ** (o.beta2Decay as number));
    const omw = Math.fround(1 - w);
    const flags = Math.abs(w) < 0.5 ? KernelFlag.LERP_SMALL : 0;
    const r = p.slots.rowVar, c = p.slots.colVar;
    k.adafactorFactoredVar(r, c, gt, sc + off.acc, m, n, w, omw, flags);
    const rows = ctx.host.read(r, m);
    let sum = 0;
    for (let i = 0; i < m; i++) sum += rows[i];
    const rMean = Math.max(Math.fround(sum / m), Math.fround(eps1));
    const eps1Sq = eps1 * eps1;
    const sumsqU = k.adafactorFactoredSumsq(gt, r, c, m, n, rMean, eps1Sq);
    const denom = Math.max(1, Math.sqrt(sumsqU) / (Math.sqrt(mn) * (o.d as number)));
    k.fill(out, mn, 0);
    k.adafactorFactoredApply(out, gt, r, c, m, n, rMean, eps1Sq, -lr / denom); // out = −η·U/max(1, RMS/d)
    rotateOut(k, delta, out, m, n, L, R, gt, gs);
    k.axpy(p.p, delta, mn, 1);
  },
};
