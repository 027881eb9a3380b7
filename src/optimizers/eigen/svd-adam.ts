/**
 * Adam in the singular basis of the current gradient, refreshed every T steps: the shared step of
 * AdaDiag (one-sided, smaller side) and AdaDiag++ (two-sided, full bases). See `adadiag.ts` and
 * `adadiagpp.ts` for the update rule, sources, state formulas and choices.
 */
import { KernelFlag } from '../../kernels.js';
import { checkLinalgStatus, svdScratchBytes } from '../../kernels/linalg.js';
import { check, type OptionSchema, type Options } from '../../options.js';
import { numel, type OptimizerDef, type ParamRef, type StepContext } from '../types.js';
import { GEMM_SCRATCH_BYTES, adamScalars, beta, isRefresh, layout, oneOf, rotateIn, rotateOut, type Side } from './common.js';
import { refreshes, sides, svdCost } from '../cost.js';

export function svdAdamSchema(): OptionSchema {
  return {
    lr: { default: 1e-3, check: check.nonNegative(), doc: 'learning rate η' },
    betas: { default: [0.9, 0.999], check: check.pair(beta, beta), doc: '(β1, β2): first and second moments (rotated basis)' },
    eps: { default: 1e-8, check: check.nonNegative(), doc: 'added to √v̂ (torch AdamW placement)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ: θ ← θ·(1 − η·λ) before the update' },
    updateInterval: { default: 200, check: check.integer(1), doc: 'T: the basis is refreshed at t = 1, T+1, 2T+1, …' },
    biasCorrection: { default: true, check: check.boolean(), doc: 'Adam bias correction of both moments' },
    momentum: {
      default: 'keep',
      check: oneOf('keep', 'rotate'),
      doc: "moments at a refresh: 'keep' (M, V untouched, GaLore-style; spec option A) or 'rotate' (M ← P_newᵀ·P_old·M [·Q_oldᵀ·Q_new], V untouched; option B, SOAP-like)",
    },
  };
}

export function makeSvdAdam(name: string, summary: string, twoSided: boolean): OptimizerDef {
  const dims = (shape: readonly number[]) => {
    const [m, n] = shape;
    return { m, n, left: twoSided || m <= n, right: twoSided || m > n };
  };
  const scratch = (shape: readonly number[]) => {
    const { m, n } = dims(shape);
    const big = Math.max(m, n);
    return layout({
      gt: 4 * m * n, tmp: 4 * m * n, out: 4 * m * n, gemm: GEMM_SCRATCH_BYTES,
      u: 4 * Math.max(m * m, m * n), s: 4 * Math.min(m, n), vt: 4 * Math.max(n * n, m * n), rot: 4 * big * big,
      svd: svdScratchBytes(m, n, twoSided ? 1 : 0),
    });
  };
  return {
    name,
    summary,
    matrixOnly: true,
    cost(shape, o, t) {
      const { d, N } = sides(shape);
      return 28 * d * N + 4 * d * d * N + (twoSided ? 4 * d * N * N : 0) + (refreshes(t, o.updateInterval) ? svdCost(d, N, twoSided) : 0);
    },
    schema: svdAdamSchema(),
    handles: (shape) => shape.length === 2 && shape[0] > 0 && shape[1] > 0,
    slots(shape) {
      const { m, n } = dims(shape);
      const s = [{ name: 'expAvg', length: m * n }, { name: 'expAvgSq', length: m * n }];
      if (twoSided) s.push({ name: 'basisL', length: m * m }, { name: 'basisR', length: n * n });
      else s.push({ name: 'basis', length: Math.min(m, n) ** 2 });
      return s;
    },
    scratchBytes: (shape) => scratch(shape).bytes,
    step(ctx: StepContext, p: ParamRef, o: Options) {
      const k = ctx.kernels;
      const t = ctx.step;
      const lr = ctx.lr;
      const { m, n, left, right } = dims(p.shape);
      const d = Math.min(m, n);
      const mn = numel(p.shape);
      const { off } = scratch(p.shape);
      const sc = ctx.scratch;
      const gt = sc + off.gt, tmp = sc + off.tmp, out = sc + off.out, gs = sc + off.gemm;
      const u = sc + off.u, s = sc + off.s, vt = sc + off.vt, rot = sc + off.rot;
      const basisL = twoSided ? p.slots.basisL : left ? p.slots.basis : 0;
      // A right basis is stored as Vᵀ from the SVD (its vectors in rows).
      const basisR = twoSided ? p.slots.basisR : right ? p.slots.basis : 0;
      const L: Side | null = left ? { ptr: basisL } : null;
      const R: Side | null = right ? { ptr: basisR, rows: true } : null;
      const wd = o.weightDecay as number;

      if (wd !== 0) k.scale(p.p, mn, 1 - lr * wd);
      // Refresh; a zero gradient after the first step keeps the previous basis (spec §5.6).
      const refresh = isRefresh(t, o.updateInterval as number) && (t === 1 || k.sumsq(p.g, mn) > 0);
      if (refresh) {
        // Thin: U m×d (ldu d), Vᵀ d×n; full: U m×m, Vᵀ n×n. The one-sided basis is U (m ≤ n, d = m)
        // or Vᵀ (m > n, d = n), square either way.
        const ldu = twoSided ? m : d;
        checkLinalgStatus(k.svd(u, ldu, s, vt, n, p.g, n, m, n, twoSided ? 1 : 0, sc + off.svd), 'svd', [m, n]);
        if (o.momentum === 'rotate' && t > 1) {
          // M ← (P_newᵀ·P_old)·M and/or M ← M·(Q_oldᵀ·Q_new), with Q stored transposed (Qᵀ = Vᵀ).
          if (left) {
            k.gemm(rot, m, u, m, 1, basisL, m, 0, m, m, m, 1, 0, gs);
            k.gemm(tmp, n, rot, m, 0, p.slots.expAvg, n, 0, m, n, m, 1, 0, gs);
            k.copy(p.slots.expAvg, tmp, mn);
          }
          if (right) {
            k.gemm(rot, n, basisR, n, 0, vt, n, 1, n, n, n, 1, 0, gs);
            k.gemm(tmp, n, p.slots.expAvg, n, 0, rot, n, 0, m, n, n, 1, 0, gs);
            k.copy(p.slots.expAvg, tmp, mn);
          }
        }
        if (left) k.copy(basisL, u, m * m);
        if (right) k.copy(basisR, vt, n * n);
        // The rotated gradient of the basis' own gradient, exactly from the factors (spec §5.3: no
        // round-off noise where Pᵀ·G·Q is exactly zero): Σ·Vᵀ (left), U·Σ (right), [Σ | 0] (both).
        if (twoSided) {
          const sv = ctx.host.read(s, d);
          const g = new Float32Array(mn);
          for (let i = 0; i < d; i++) g[i * n + i] = sv[i];
          ctx.host.write(gt, g);
        } else if (left) {
          k.scaleRowsCols(gt, n, vt, n, s, 0, m, n);
        } else {
          k.scaleRowsCols(gt, n, u, d, 0, s, m, n);
        }
      } else {
        rotateIn(k, gt, p.g, m, n, L, R, tmp, gs);
      }
      const a = adamScalars(o.betas as number[], t, o.biasCorrection as boolean);
      k.adamDirection(gt, gt, p.slots.expAvg, p.slots.expAvgSq, mn, a.a1, a.omA1, a.b2, a.a2, a.mScale, a.bc2Sqrt, o.eps as number,
        a.lerpSmall ? KernelFlag.LERP_SMALL : 0);
      rotateOut(k, out, gt, m, n, L, R, tmp, gs);
      k.axpy(p.p, out, mn, -lr);
    },
  };
}
