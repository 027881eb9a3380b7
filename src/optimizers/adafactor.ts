/**
 * Adafactor as `torch.optim.Adafactor` (PyTorch 2.5+): factored second moment for tensors of rank ≥ 2
 * (over the last two dimensions, leading dimensions batched), no first moment, relative step size,
 * update clipping by RMS. Shazeer & Stern 2018 (arXiv 1804.04235), with torch's placement of ε1.
 *
 * Update at step t (G negated when maximize; τ = beta2Decay; ε1 defaults to f32 machine epsilon):
 *   β̂ ← t^τ  (the lerp weight, 1 − β2_t);  ρ ← min(lr, 1/√t);  α ← max(ε2, RMS(θ))·ρ
 *   θ ← θ·(1 − lr·λ)                                          (decoupled weight decay)
 *   rank ≥ 2:  R ← lerp(R, mean_j G², β̂),  C ← lerp(C, mean_i G², β̂)   (row/column means)
 *              V̂ ← R·Cᵀ / max(mean(R), ε1)
 *   rank ≤ 1:  V̂ ← V ← lerp(V, G², β̂)
 *   U ← G / √max(V̂, ε1²);  θ ← θ − α·U / max(1, RMS(U)/d)
 *
 * State for a tensor of shape [..., m, n] with B = product of leading dims: B·(m + n) floats;
 * for rank ≤ 1: numel floats. stateBytes = 4·B·(m + n), or 4·numel. (The step counter is global.)
 * Defaults are torch's: lr 1e-2, beta2Decay −0.8, eps [null, 1e-3], d 1, weightDecay 0.
 * Passes over G per factored matrix: one for both factors (`adafactorFactoredVar`), one for Σ U² and one
 * to apply U, which is never stored (scratch: n f64); RMS(θ) is one more pass over θ.
 */
import { KernelFlag } from '../kernels.js';
import { check, type Options } from '../options.js';
import { numel, type OptimizerDef, type ParamRef, type StepContext } from './types.js';
import { perElement } from './cost.js';

/** f32 machine epsilon (torch.finfo(torch.float32).eps). */
export const F32_EPS = 1.1920928955078125e-7;

/** Split a shape of rank ≥ 2 into (batch, rows, cols). */
function factoredDims(shape: readonly number[]): [number, number, number] {
  const m = shape[shape.length - 2];
  const n = shape[shape.length - 1];
  return [numel(shape.slice(0, -2)), m, n];
}

export const adafactor: OptimizerDef = {
  name: 'adafactor',
  summary: 'Adafactor with factored second moment (torch.optim.Adafactor)',
  matrixOnly: false,
  cost: (shape) => perElement(shape.length >= 2 ? 40 : 28)(shape),
  schema: {
    lr: { default: 1e-2, check: check.nonNegative(), doc: 'cap of the relative step size ρ, and the weight-decay scale' },
    beta2Decay: { default: -0.8, check: check.number(-Infinity, 0), doc: 'τ: the second-moment weight is t^τ' },
    eps: {
      default: [null, 1e-3],
      check: check.pair(check.nullOr(check.nonNegative()), check.nonNegative()),
      doc: '[ε1, ε2]: ε1 floors the variance estimate (null: f32 epsilon), ε2 floors RMS(θ)',
    },
    d: { default: 1, check: check.number(1), doc: 'update clipping threshold on RMS(U)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ: θ ← θ·(1 − lr·λ)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: () => true,
  slots(shape) {
    if (shape.length < 2) return [{ name: 'variance', length: numel(shape) }];
    const [b, m, n] = factoredDims(shape);
    return [{ name: 'rowVar', length: b * m }, { name: 'colVar', length: b * n }];
  },
  scratchBytes: (shape) => (shape.length < 2 ? 0 : 8 * shape[shape.length - 1]),
  step(ctx: StepContext, p: ParamRef, o: Options) {
    const k = ctx.kernels;
    const t = ctx.step;
    const lr = ctx.lr;
    const [eps1Opt, eps2] = o.eps as [number | null, number];
    const eps1 = eps1Opt ?? F32_EPS;
    const eps1Sq = eps1 * eps1;
    const wd = o.weightDecay as number;

    const w = Math.fround(t ** (o.beta2Decay as number));
    const omw = Math.fround(1 - w);
    const flags = Math.abs(w) < 0.5 ? KernelFlag.LERP_SMALL : 0;
    const rho = Math.min(lr, 1 / Math.sqrt(t));
    const alpha = Math.max(eps2, Math.sqrt(k.sumsq(p.p, p.size)) / Math.sqrt(p.size)) * rho;

    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);

    let sumsqU = 0;
    let apply: (coeff: number) => void;
    if (p.shape.length >= 2) {
      const [batch, m, n] = factoredDims(p.shape);
      const rMeans: number[] = [];
      for (let b = 0; b < batch; b++) {
        const g = p.g + 4 * b * m * n;
        const r = p.slots.rowVar + 4 * b * m;
        const c = p.slots.colVar + 4 * b * n;
        k.adafactorFactoredVar(r, c, g, ctx.scratch, m, n, w, omw, flags);
        // torch: row_var.mean(dim=-2).clamp_(min=eps1), an f32 value
        const rows = ctx.host.read(r, m);
        let s = 0;
        for (let i = 0; i < m; i++) s += rows[i];
        const rMean = Math.max(Math.fround(s / m), Math.fround(eps1));
        rMeans.push(rMean);
        sumsqU += k.adafactorFactoredSumsq(g, r, c, m, n, rMean, eps1Sq);
      }
      apply = (coeff) => {
        for (let b = 0; b < batch; b++) {
          k.adafactorFactoredApply(
            p.p + 4 * b * m * n, p.g + 4 * b * m * n, p.slots.rowVar + 4 * b * m, p.slots.colVar + 4 * b * n,
            m, n, rMeans[b], eps1Sq, coeff,
          );
        }
      };
    } else {
      k.adafactorVecVar(p.slots.variance, p.g, p.size, w, omw, flags);
      sumsqU = k.adafactorVecSumsq(p.g, p.slots.variance, p.size, eps1Sq);
      apply = (coeff) => k.adafactorVecApply(p.p, p.g, p.slots.variance, p.size, eps1Sq, coeff);
    }
    const denom = Math.max(1, Math.sqrt(sumsqU) / (Math.sqrt(p.size) * (o.d as number)));
    // U is computed from the unnegated gradient; maximize flips its sign (exact in f32).
    apply((o.maximize ? alpha : -alpha) / denom);
  },
};
