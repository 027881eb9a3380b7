/**
 * Adam in the eigenbasis of EMA Gram statistics: the shared step of Eigen-Adam (one-sided SOAP, the
 * smaller side) and SOAP (both sides). See `eigenadam.ts` and `soap.ts` for the update rule, sources,
 * state formulas and the choices made.
 */
import { KernelFlag } from '../../kernels.js';
import { check, type OptionSchema, type Options } from '../../options.js';
import { numel, type OptimizerDef, type ParamRef, type StepContext } from '../types.js';
import {
  GEMM_SCRATCH_BYTES, adamScalars, beta, gramRefreshBytes, isRefresh, layout, refreshGramBasis, rotateIn, rotateOut, tuple,
  type Side,
} from './common.js';
import { eighCost, qrCost, refreshes } from '../cost.js';

export function gramAdamSchema(skipFirstStep: boolean): OptionSchema {
  return {
    lr: { default: 1e-3, check: check.nonNegative(), doc: 'learning rate η' },
    betas: {
      default: [0.9, 0.999, 0.999],
      check: tuple(3, beta),
      doc: '(β1, β2, β3): first moment, second moment (rotated basis), EMA of the Gram statistics',
    },
    eps: { default: 1e-8, check: check.nonNegative(), doc: 'added to √v̂ (torch AdamW placement)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ: θ ← θ·(1 − η·λ) before the update' },
    updateInterval: { default: 10, check: check.integer(1), doc: 'K: the eigenbasis is refreshed at t = 1, K+1, 2K+1, …' },
    biasCorrection: { default: true, check: check.boolean(), doc: 'Adam bias correction of both moments' },
    skipFirstStep: {
      default: skipFirstStep,
      check: check.boolean(),
      doc: "t = 1 only builds the statistics and the basis (SOAP's code): θ, M and V are not updated, and Adam's bias correction counts from t = 2",
    },
    identityBasis: {
      default: false,
      check: check.boolean(),
      doc: 'freeze the basis to the identity (never refreshed): the optimizer reduces to AdamW (ablation/test)',
    },
  };
}

function dims(shape: readonly number[], twoSided: boolean) {
  const [m, n] = shape;
  return { m, n, left: twoSided || m <= n, right: twoSided || m > n };
}

export function makeGramAdam(name: string, summary: string, twoSided: boolean, skipFirstStep: boolean): OptimizerDef {
  const scratch = (shape: readonly number[]) => {
    const { m, n, left, right } = dims(shape, twoSided);
    return layout({
      gt: 4 * m * n, mt: 4 * m * n, tmp: 4 * m * n, gemm: GEMM_SCRATCH_BYTES,
      refresh: Math.max(left ? gramRefreshBytes(m) : 0, right ? gramRefreshBytes(n) : 0),
    });
  };
  return {
    name,
    summary,
    matrixOnly: true,
    cost(shape, o, t) {
      const { m, n, left, right } = dims(shape, twoSided);
      const side = (k: number) => 5 * k * m * n + (o.identityBasis || !refreshes(t, o.updateInterval) ? 0 : t === 1 ? eighCost(k) : 2 * k ** 3 + qrCost(k, k));
      return 28 * m * n + (left ? side(m) : 0) + (right ? side(n) : 0);
    },
    schema: gramAdamSchema(skipFirstStep),
    handles: (shape) => shape.length === 2 && shape[0] > 0 && shape[1] > 0,
    slots(shape) {
      const { m, n, left, right } = dims(shape, twoSided);
      const s = [{ name: 'expAvg', length: m * n }, { name: 'expAvgSq', length: m * n }];
      if (twoSided) {
        s.push({ name: 'gramL', length: m * m }, { name: 'gramR', length: n * n }, { name: 'basisL', length: m * m }, { name: 'basisR', length: n * n });
      } else {
        const d = left ? m : n;
        void right;
        s.push({ name: 'gram', length: d * d }, { name: 'basis', length: d * d });
      }
      return s;
    },
    scratchBytes: (shape) => scratch(shape).bytes,
    step(ctx: StepContext, p: ParamRef, o: Options) {
      const k = ctx.kernels;
      const t = ctx.step;
      const lr = ctx.lr;
      const { m, n, left, right } = dims(p.shape, twoSided);
      const mn = numel(p.shape);
      const { off } = scratch(p.shape);
      const gt = ctx.scratch + off.gt, mt = ctx.scratch + off.mt, tmp = ctx.scratch + off.tmp;
      const gs = ctx.scratch + off.gemm, rs = ctx.scratch + off.refresh;
      const betas = o.betas as number[];
      const b3 = betas[2];
      const wd = o.weightDecay as number;
      const gramL = twoSided ? p.slots.gramL : left ? p.slots.gram : 0;
      const gramR = twoSided ? p.slots.gramR : right ? p.slots.gram : 0;
      const basisL = twoSided ? p.slots.basisL : left ? p.slots.basis : 0;
      const basisR = twoSided ? p.slots.basisR : right ? p.slots.basis : 0;

      const skip = o.skipFirstStep as boolean;
      if (wd !== 0 && !(skip && t === 1)) k.scale(p.p, mn, 1 - lr * wd);
      // Gram EMA: S ← β3·S + (1 − β3)·G·Gᵀ (left, m×m) and/or Gᵀ·G (right, n×n).
      const ab3 = Math.fround(1 - b3);
      if (left) k.syrk(gramL, m, p.g, n, 0, m, n, ab3, b3, gs);
      if (right) k.syrk(gramR, n, p.g, n, 1, n, m, ab3, b3, gs);
      if (o.identityBasis) {
        if (t === 1) {
          if (left) { k.fill(basisL, m * m, 0); k.addDiag(basisL, m, m, 1); }
          if (right) { k.fill(basisR, n * n, 0); k.addDiag(basisR, n, n, 1); }
        }
      } else if (isRefresh(t, o.updateInterval as number)) {
        // V's rows follow the left basis' columns, its columns the right basis' columns.
        const v = p.slots.expAvgSq;
        const permuteRows = (pi: number) => { k.gemm(tmp, n, pi, m, 1, v, n, 0, m, n, m, 1, 0, gs); k.copy(v, tmp, mn); };
        const permuteCols = (pi: number) => { k.gemm(tmp, n, v, n, 0, pi, n, 0, m, n, n, 1, 0, gs); k.copy(v, tmp, mn); };
        if (left) refreshGramBasis(k, ctx.host, basisL, gramL, m, t === 1, rs, gs, permuteRows);
        if (right) refreshGramBasis(k, ctx.host, basisR, gramR, n, t === 1, rs, gs, permuteCols);
      }
      const L: Side | null = left ? { ptr: basisL } : null;
      const R: Side | null = right ? { ptr: basisR } : null;

      if (skip && t === 1) return;
      const a = adamScalars(betas, skip ? t - 1 : t, o.biasCorrection as boolean);
      // M in the original coordinates: M ← lerp(M, G, 1 − β1); rotated each step (KEEP_M).
      k.lerp(p.slots.expAvg, p.g, mn, a.a1, a.omA1, a.lerpSmall ? KernelFlag.LERP_SMALL : 0);
      rotateIn(k, gt, p.g, m, n, L, R, tmp, gs);
      rotateIn(k, mt, p.slots.expAvg, m, n, L, R, tmp, gs);
      const flags = KernelFlag.KEEP_M | (a.lerpSmall ? KernelFlag.LERP_SMALL : 0);
      k.adamDirection(mt, gt, mt, p.slots.expAvgSq, mn, a.a1, a.omA1, a.b2, a.a2, a.mScale, a.bc2Sqrt, o.eps as number, flags);
      rotateOut(k, gt, mt, m, n, L, R, tmp, gs);
      k.axpy(p.p, gt, mn, -lr);
    },
  };
}
