/**
 * Alice and Alice-0 (Gong et al. 2025, arXiv 2502.07752, §5, Alg. 2, 3, 4, 10; spec `alice-racs.md`
 * §5 and §7): a low-rank extension of Eigen-Adam with tracking, switching and compensation.
 *
 * Update at step t (G' = G when m ≤ n, Gᵀ when m > n: d×N, d = min(m, n), N = max(m, n); r = min(rank, d),
 * l = min(leading, r)):
 *   if t = 1 or t mod K = 0 (refresh, spec §5.4 step 2 and §5.5):
 *     t = 1: U' ← exact top-r left singular vectors of G' (spec §5.5 [R]: U₀ = 0 is degenerate)
 *     else:  one subspace-iteration step with Rayleigh–Ritz on Q = β3·U Q̃ Uᵀ + (1 − β3)·G'G'ᵀ, never
 *            forming the d×d Q:  H = β3·U·Q̃ + (1 − β3)·G'(G'ᵀU);  U' = qr(H);
 *            B = β3·(U'ᵀU) Q̃ (UᵀU') + (1 − β3)·(U'ᵀG')(G'ᵀU');  B = E·diag(λ↓)·Eᵀ;  U' ← U'·E
 *     switch: U ← [U'[:, :l], Q·e_{r+j₁}, …, Q·e_{r+j_{r−l}}] where Q is the complete QR of U' (applied by
 *            its reflectors, `qrApply` on unit vectors) and j₁… are r − l distinct indices drawn
 *            uniformly from [0, d − r) by a host RNG seeded by (seed, parameter name, t)
 *   σ ← Uᵀ·G' (r×N);  Q̃ ← β3·Q̃ + (1 − β3)·σσᵀ  (Alice only; syrk)
 *   M ← lerp(M, σ, 1 − β1);  V ← β2·V + (1 − β2)·σ²;  Ω ← M / (√V + ε)          (no bias correction)
 *   compensation (when α_c > 0 and r < d):  R ← G' − U·σ;  x_j ← ‖R_{:,j}‖²   (from the residual, §7.2)
 *     p ← lerp(p, x, 1 − β1);  C ← √(d − r)·R·Diag(max(p, ε²))^{-1/2}
 *     η ← 1 when φ = 0, else γ / max(‖C‖_F/φ, γ);  φ ← η·‖C‖_F
 *   W ← W·(1 − λ·wd);  W ← W − λ·α·(U·Ω + α_c·η·C)'   ((·)' transposes back when m > n)
 *
 * State: U (d×r), M and V (r×N), p (N), φ (1), and Q̃ (r×r) for Alice:
 *   Alice:   stateBytes = 4·(d·r + 2·r·N + r² + N + 1);   Alice-0: 4·(d·r + 2·r·N + N + 1).
 * Defaults (paper Table 11, LLaMA-60M): lr 0.02, scale α 0.3, compensationScale α_c 0.4, betas
 * (0.9, 0.9, 0.999) (Alice-0: (0.9, 0.9), β3 = 0), updateInterval K 200, rank 128, leading l 40,
 * gamma 1.01, eps 1e-8, seed 0, weightDecay 0.
 *
 * Choices where the spec is open (spec §5.5, §7, §10): exact SVD at the first refresh, then the switch
 * as usual; M, V, Q̃, p and φ are carried over a refresh literally (no reset or rotation); refreshes at
 * t = 1, K, 2K, … (paper); ε = 1e-8 added to √V [R]; p floored at ε² (so its scale √p ≥ ε) [R]; x from
 * the residual, not by subtraction [R]; complement sampled from the complete QR of all r Ritz vectors
 * [P]; when d − r < r − l the remaining slots keep the next Ritz vectors [R]; r = d means no switching
 * and no compensation (√(d − r) = 0) [R]. Options beyond the paper: `basisUpdate: 'svd'` refreshes
 * with an exact SVD of G' instead of subspace iteration; `biasCorrection: true` applies GaLore's
 * corrections √(1 − β2ᵗ)/(1 − β1ᵗ) to Ω. With betas[2] = 0, leading = rank, compensationScale 0,
 * basisUpdate 'svd', biasCorrection true and eps 1e-6, Alice is GaLore (refreshing at t = 1, K, 2K, …).
 */
import { GEMM_SCRATCH_BYTES } from '../../kernels/gemm.js';
import {
  checkLinalgStatus, eighScratchBytes, QrApplyMode, qrApplyScratchBytes, qrFormQScratchBytes, qrScratchBytes, svdScratchBytes,
} from '../../kernels/linalg.js';
import { KernelFlag, type Kernels } from '../../kernels.js';
import { check, type Options } from '../../options.js';
import type { OptimizerDef } from '../types.js';
import { backProject, carve, checks, frame, gT, hostRng, limiter, project, sampleDistinct, topLeftRegions, topLeftSingular, type Frame } from './common.js';
import { rankOf } from './galore.js';
import { eighCost, qrCost, refreshes, sides } from '../cost.js';

const leadingOf = (shape: readonly number[], o: Options) => Math.min(o.leading as number, rankOf(shape, o));

function layout(shape: readonly number[], o: Options) {
  const f = frame(shape);
  const r = rankOf(shape, o);
  const c = Math.max(r - leadingOf(shape, o), 0);
  return carve({
    sigma: 4 * r * f.N,
    resid: 4 * f.m * f.n,
    h: 4 * f.d * r,
    z: 4 * f.N * r,
    tau: 4 * r,
    wm: 4 * r * r,
    tm: 4 * r * r,
    b: 4 * r * r,
    e: 4 * r * r,
    evals: 4 * r,
    comp: 4 * f.d * Math.max(c, 1),
    x: 4 * f.N,
    dvec: 4 * f.N,
    ones: 4 * Math.max(f.m, f.n),
    acc: 8 * f.N,
    ...topLeftRegions(f, r),
    work: Math.max(
      GEMM_SCRATCH_BYTES, svdScratchBytes(f.m, f.n, 0), qrScratchBytes(f.d, r), qrFormQScratchBytes(f.d, r, r),
      qrApplyScratchBytes(f.d, Math.max(c, 1)), eighScratchBytes(r),
    ),
  });
}

type At = Record<keyof ReturnType<typeof layout>['at'], number>;

/** The refresh of U (spec §5.5), in place in the U slot. */
function refresh(
  k: Kernels,
  f: Frame, at: At, u: number, qt: number, g: number, r: number, l: number, beta3: number, first: boolean, svdMode: boolean,
  seed: number, key: string, t: number,
): void {
  const ritz = at.z; // d×r, ld r (Z is N×r ≥ d×r)
  if (first || svdMode) {
    topLeftSingular(k, f, ritz, g, r, at);
  } else {
    // H = (1 − β3)·G'(G'ᵀU) + β3·U·Q̃
    k.gemm(at.z, r, g, f.n, gT(f, true), u, r, 0, f.N, r, f.d, 1, 0, at.work); // Z = G'ᵀU (N×r)
    k.gemm(at.h, r, g, f.n, gT(f, false), at.z, r, 0, f.d, r, f.N, 1 - beta3, 0, at.work);
    if (beta3 > 0) k.gemm(at.h, r, u, r, 0, qt, r, 0, f.d, r, r, beta3, 1, at.work);
    checkLinalgStatus(k.qrFactor(at.h, r, f.d, r, at.tau, at.work), 'qrFactor (alice)', [f.d, r]);
    checkLinalgStatus(k.qrFormQ(at.h, r, at.h, r, f.d, r, r, at.tau, at.work), 'qrFormQ (alice)', [f.d, r]);
    // B = (1 − β3)·(U'ᵀG')(G'ᵀU') + β3·(U'ᵀU) Q̃ (UᵀU')
    k.gemm(at.sigma, f.N, at.h, r, 1, g, f.n, gT(f, false), r, f.N, f.d, 1, 0, at.work); // Y = U'ᵀG'
    k.syrk(at.b, r, at.sigma, f.N, 0, r, f.N, 1 - beta3, 0, at.work);
    if (beta3 > 0) {
      k.gemm(at.wm, r, at.h, r, 1, u, r, 0, r, r, f.d, 1, 0, at.work); // W = U'ᵀU
      k.gemm(at.tm, r, at.wm, r, 0, qt, r, 0, r, r, r, 1, 0, at.work); // T = W·Q̃
      k.gemm(at.b, r, at.tm, r, 0, at.wm, r, 1, r, r, r, beta3, 1, at.work); // B += β3·T·Wᵀ
    }
    checkLinalgStatus(k.eigh(at.e, r, at.evals, at.b, r, r, at.work), 'eigh (alice)', [r, r]);
    k.gemm(ritz, r, at.h, r, 0, at.e, r, 0, f.d, r, r, 1, 0, at.work); // Ritz vectors U'·E
  }
  const c = Math.min(r - l, f.d - r);
  if (c > 0) {
    // Complete QR of the Ritz basis: its reflectors applied to e_{r+j} give the complement columns.
    k.copy(at.h, ritz, f.d * r);
    checkLinalgStatus(k.qrFactor(at.h, r, f.d, r, at.tau, at.work), 'qrFactor (alice switch)', [f.d, r]);
    const picks = sampleDistinct(hostRng(seed, key, t), f.d - r, c);
    k.fill(at.comp, f.d * c, 0);
    picks.forEach((j, col) => k.fill(at.comp + 4 * ((r + j) * c + col), 1, 1));
    checkLinalgStatus(k.qrApply(at.comp, c, at.h, r, f.d, r, at.tau, c, QrApplyMode.Q_C, at.work), 'qrApply (alice switch)', [f.d, c]);
    k.scaleRowsCols(u, r, ritz, r, 0, 0, f.d, l); // leading l Ritz vectors
    k.scaleRowsCols(u + 4 * l, r, at.comp, c, 0, 0, f.d, c); // sampled complement
    if (l + c < r) k.scaleRowsCols(u + 4 * (l + c), r, ritz + 4 * (l + c), r, 0, 0, f.d, r - l - c); // next Ritz vectors
  } else {
    k.copy(u, ritz, f.d * r);
  }
}

function makeAlice(name: 'alice' | 'alice0', tracking: boolean): OptimizerDef {
  return {
    name,
    summary: tracking
      ? 'Alice: low-rank Eigen-Adam with tracking, switching and compensation (Gong et al. 2025)'
      : 'Alice-0: Alice without tracking (β3 = 0) (Gong et al. 2025)',
    matrixOnly: true,
    cost(shape, o, t) {
      const { d, N } = sides(shape);
      const r = Math.min(o.rank as number, d);
      return 6 * r * d * N + 40 * r * N + 12 * d * N + (refreshes(t, o.updateInterval) ? 10 * r * d * N + eighCost(r) + qrCost(d, r) : 0);
    },
    schema: {
      lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
      scale: { default: 0.3, check: check.nonNegative(), doc: 'scale α of the whole update' },
      compensationScale: { default: 0.4, check: check.nonNegative(), doc: 'scale α_c of the compensation term (0: off)' },
      betas: tracking
        ? { default: [0.9, 0.9, 0.999], check: checks.triple(), doc: '(β1, β2, β3): moments (β1 also decays p) and tracking of Q̃' }
        : { default: [0.9, 0.9], check: check.pair(checks.beta, checks.beta), doc: '(β1, β2): moments (β1 also decays p)' },
      rank: { default: 128, check: checks.positiveInt(), doc: 'rank r of the projection (capped at min(m, n))' },
      leading: { default: 40, check: checks.positiveInt(), doc: 'l: leading Ritz vectors kept at a switch (capped at r)' },
      updateInterval: { default: 200, check: checks.positiveInt(), doc: 'K: the basis is refreshed at t = 1 and t mod K = 0' },
      gamma: { default: 1.01, check: check.number(1), doc: 'norm-growth limiter threshold γ of the compensation (≥ 1)' },
      eps: { default: 1e-8, check: check.nonNegative(), doc: 'added to √V; p is floored at eps²' },
      seed: { default: 0, check: check.integer(0), doc: 'seed of the complement sampling' },
      basisUpdate: { default: 'subspace', check: checks.oneOf('subspace', 'svd'), doc: "refresh by one subspace-iteration step ('subspace', paper) or an exact SVD of G ('svd')" },
      biasCorrection: { default: false, check: check.boolean(), doc: "GaLore's bias corrections on Ω (paper: none)" },
      weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay: W ← W·(1 − lr·wd)' },
    },
    handles: (shape) => shape.length === 2,
    slots(shape, o) {
      const f = frame(shape);
      const r = rankOf(shape, o);
      const s = [
        { name: 'U', length: f.d * r },
        { name: 'expAvg', length: r * f.N },
        { name: 'expAvgSq', length: r * f.N },
        { name: 'p', length: f.N },
        { name: 'phi', length: 1 },
      ];
      if (tracking) s.push({ name: 'Qt', length: r * r });
      return s;
    },
    scratchBytes: (shape, o) => layout(shape, o).bytes,
    step(ctx, p, o) {
      const k = ctx.kernels;
      const f = frame(p.shape);
      const r = rankOf(p.shape, o);
      const l = leadingOf(p.shape, o);
      const { at: off } = layout(p.shape, o);
      const at = Object.fromEntries(Object.entries(off).map(([key, v]) => [key, ctx.scratch + v])) as At;
      const t = ctx.step;
      const betas = o.betas as number[];
      const [b1, b2] = betas;
      const beta3 = tracking ? betas[2] : 0;
      const U = p.slots.U;
      const qt = tracking ? p.slots.Qt : 0;

      if (t === 1 || t % (o.updateInterval as number) === 0) {
        refresh(k, f, at, U, qt, p.g, r, l, beta3, t === 1, o.basisUpdate === 'svd', o.seed as number, p.name, t);
      }
      project(k, f, at.sigma, U, p.g, r, at.work);
      if (tracking) k.syrk(qt, r, at.sigma, f.N, 0, r, f.N, 1 - beta3, beta3, at.work);

      const alphaC = o.compensationScale as number;
      const compensate = alphaC > 0 && r < f.d;
      const lr = ctx.lr;
      const alpha = o.scale as number;
      const a1 = Math.fround(1 - b1);
      const flags = Math.abs(a1) < 0.5 ? KernelFlag.LERP_SMALL : 0;
      let compCoeff = 0;
      let rvec = 0, cvec = 0;
      if (compensate) {
        // R = G' − U·σ, in W's layout; x_j = squared norms of the columns of G' (rows of R when m > n)
        k.copy(at.resid, p.g, p.size);
        backProject(k, f, at.resid, U, at.sigma, r, -1, 1, at.work);
        if (!f.tr) k.colSumsq(at.x, at.acc, at.resid, f.m, f.n, f.n);
        else k.rowSumsq(at.x, at.resid, f.m, f.n, f.n);
        k.lerp(p.slots.p, at.x, f.N, a1, Math.fround(1 - a1), flags);
        const epsP = Math.max((o.eps as number) ** 2, 1e-38);
        k.racsRsqrt(at.dvec, p.slots.p, f.N, epsP);
        k.fill(at.ones, Math.max(f.m, f.n), 1);
        [rvec, cvec] = f.tr ? [at.dvec, at.ones] : [at.ones, at.dvec];
        const sqrtDr = Math.sqrt(f.d - r);
        const norm = sqrtDr * Math.sqrt(k.racsScaledSumsq(at.resid, rvec, cvec, f.m, f.n));
        const eta = limiter(k, ctx.host, p.slots.phi, norm, o.gamma as number);
        compCoeff = -lr * alpha * alphaC * eta * sqrtDr;
      }
      const mScale = o.biasCorrection ? Math.sqrt(1 - b2 ** t) / (1 - b1 ** t) : 1;
      k.adamDirection(at.sigma, at.sigma, p.slots.expAvg, p.slots.expAvgSq, r * f.N, a1, Math.fround(1 - a1), b2, 1 - b2, mScale, 1, o.eps as number, flags);
      const wd = o.weightDecay as number;
      if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
      backProject(k, f, p.p, U, at.sigma, r, -lr * alpha, 1, at.work);
      if (compensate) k.racsScaledApply(p.p, at.resid, rvec, cvec, f.m, f.n, compCoeff);
    },
  };
}

export const alice = makeAlice('alice', true);
export const alice0 = makeAlice('alice0', false);
