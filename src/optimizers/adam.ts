/**
 * Adam and AdamW, as `torch.optim.Adam` / `torch.optim.AdamW` (single-tensor path, non-capturable).
 *
 * Update (per element, t = 1, 2, …):
 *   g ← ∇ (negated when maximize)
 *   Adam:  g ← g + λ·θ                      (weightDecay λ: coupled L2; default 0)
 *   AdamW: θ ← θ·(1 − lr·λ)                 (decoupled; default λ = 0.01)
 *   m ← m + (1 − β1)·(g − m)                 (torch's lerp)
 *   v ← β2·v + (1 − β2)·g²
 *   v̂ ← max(v̂, v) if amsgrad, else v
 *   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
 *
 * State: m and v of the parameter's size, plus the running max of v with amsgrad:
 *   stateBytes = 8·numel (12·numel with amsgrad).
 * Defaults are torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0 (Adam) / 0.01 (AdamW).
 * Bias corrections and the step size are computed on the host in f64 and passed to the kernel as f32,
 * where torch converts the same Python floats; the elementwise order is torch's (see `Kernels.adam`).
 */
import { KernelFlag } from '../kernels.js';
import { check, type OptionSchema, type Options } from '../options.js';
import type { OptimizerDef } from './types.js';
import { perElement } from './cost.js';

const beta = check.number(0, 1, false, true);

function schema(weightDecay: number): OptionSchema {
  return {
    lr: { default: 1e-3, check: check.nonNegative(), doc: 'learning rate' },
    betas: { default: [0.9, 0.999], check: check.pair(beta, beta), doc: '(β1, β2): decay of the first and second moments' },
    eps: { default: 1e-8, check: check.nonNegative(), doc: 'added to the denominator' },
    weightDecay: {
      default: weightDecay,
      check: check.nonNegative(),
      doc: weightDecay ? 'decoupled weight decay λ: θ ← θ·(1 − lr·λ)' : 'coupled L2 penalty λ (added to the gradient)',
    },
    amsgrad: { default: false, check: check.boolean(), doc: 'use the running maximum of v (AMSGrad)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  };
}

function makeAdam(name: 'adam' | 'adamw', decoupled: boolean): OptimizerDef {
  return {
    name,
    summary: decoupled ? 'AdamW, decoupled weight decay (torch.optim.AdamW)' : 'Adam, coupled L2 weight decay (torch.optim.Adam)',
    matrixOnly: false,
    schema: schema(decoupled ? 0.01 : 0),
    handles: () => true,
    cost: (shape, o) => perElement(o.amsgrad ? 36 : 28)(shape),
    slots(shape, o: Options) {
      const n = shape.reduce((a, b) => a * b, 1);
      const s = [{ name: 'expAvg', length: n }, { name: 'expAvgSq', length: n }];
      if (o.amsgrad) s.push({ name: 'maxExpAvgSq', length: n });
      return s;
    },
    step(ctx, p, o) {
      const [b1, b2] = o.betas as [number, number];
      const wd = o.weightDecay as number;
      const lr = ctx.lr;
      const t = ctx.step;
      const a1 = Math.fround(1 - b1);
      let flags = 0;
      if (o.maximize) flags |= KernelFlag.MAXIMIZE;
      if (Math.abs(a1) < 0.5) flags |= KernelFlag.LERP_SMALL;
      if (!decoupled && wd !== 0) flags |= KernelFlag.L2;
      if (o.amsgrad) flags |= KernelFlag.AMSGRAD;
      const decay = decoupled && wd !== 0 ? 1 - lr * wd : 1;
      const bc1 = 1 - b1 ** t;
      const bc2Sqrt = Math.sqrt(1 - b2 ** t);
      ctx.kernels.adam(
        p.p, p.g, p.slots.expAvg, p.slots.expAvgSq, o.amsgrad ? p.slots.maxExpAvgSq : 0, p.size,
        decoupled ? 0 : wd, decay, a1, Math.fround(1 - a1), b2, 1 - b2, bc2Sqrt, o.eps as number, -lr / bc1, flags,
      );
    },
  };
}

export const adam = makeAdam('adam', false);
export const adamw = makeAdam('adamw', true);
