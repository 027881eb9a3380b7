/**
 * SGD with momentum, dampening and Nesterov, as `torch.optim.SGD`.
 *
 * Update (per element, t = 1, 2, …):
 *   g ← ∇ (negated when maximize);  g ← g + λ·θ            (weightDecay λ: coupled L2, as torch)
 *   if μ ≠ 0:  b ← g at t = 1, else b ← μ·b + (1 − τ)·g    (momentum μ, dampening τ)
 *              g ← g + μ·b if nesterov, else g ← b
 *   θ ← θ − lr·g
 *
 * State: one buffer of the parameter's size when momentum ≠ 0, else none:
 *   stateBytes = 4·numel if momentum ≠ 0, else 0.
 * Defaults are torch's: lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false.
 */
import { KernelFlag } from '../kernels.js';
import { check, type Options } from '../options.js';
import type { OptimizerDef } from './types.js';
import { perElement } from './cost.js';

export const sgd: OptimizerDef = {
  name: 'sgd',
  summary: 'SGD with momentum, dampening and Nesterov (torch.optim.SGD)',
  matrixOnly: false,
  schema: {
    lr: { default: 1e-3, check: check.nonNegative(), doc: 'learning rate' },
    momentum: { default: 0, check: check.nonNegative(), doc: 'momentum factor μ' },
    dampening: { default: 0, check: check.number(), doc: 'dampening τ of the momentum buffer' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'coupled L2 penalty λ (added to the gradient)' },
    nesterov: { default: false, check: check.boolean(), doc: 'Nesterov momentum (needs momentum > 0, dampening 0)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: () => true,
  cost: perElement(20),
  validate(o: Options) {
    if (o.nesterov && ((o.momentum as number) <= 0 || o.dampening !== 0)) {
      return 'nesterov requires momentum > 0 and dampening = 0';
    }
    return null;
  },
  slots: (shape, o) => ((o.momentum as number) !== 0 ? [{ name: 'momentumBuffer', length: shape.reduce((a, b) => a * b, 1) }] : []),
  step(ctx, p, o) {
    const momentum = o.momentum as number;
    const wd = o.weightDecay as number;
    let flags = 0;
    if (o.maximize) flags |= KernelFlag.MAXIMIZE;
    if (wd !== 0) flags |= KernelFlag.L2;
    if (momentum !== 0) {
      flags |= KernelFlag.MOMENTUM;
      if (ctx.step === 1) flags |= KernelFlag.FIRST;
      if (o.nesterov) flags |= KernelFlag.NESTEROV;
    }
    const buf = momentum !== 0 ? p.slots.momentumBuffer : 0;
    ctx.kernels.sgd(p.p, p.g, buf, p.size, wd, momentum, 1 - (o.dampening as number), -ctx.lr, flags);
  },
};
