/**
 * SinkGD, Sinkhorn gradient descent (Scetbon, Ma, Gong, Meeds 2025, "Gradient Multi-Normalization for
 * Stateless and Scalable LLM Training", arXiv 2502.06742, Algorithms 3 and 4; spec `sinkgd-swan.md` §3).
 *
 * Update at step t (G the m×n gradient, rows = output units):
 *   Δ = SR-Sinkhorn(G, L): L rounds of "rows to norm √n, then columns to norm √m" from X⁰ = G (§3.1)
 *   W ← W·(1 − λ·wd)  (decoupled weight decay, default off: the paper has none);  W ← W − λ·α·Δ
 * Δ has RMS 1 (every column norm √m after each round), so λ·α is the per-entry step size.
 *
 * Two-vector form (§3.1 "memory-light", [D]): Δ = Diag(a)·G·Diag(b) with, from b = 1, L times
 *   a_i = √n / √(Σ_j g_ij²·b_j²),  b_j = √m / √(Σ_i g_ij²·a_i²)
 * (`sinkgdRound`: one pass over G per round, f32 sums, rows in blocks of four), then
 * W_ij −= λ·α·a_i·g_ij·b_j (`racsScaledApply`), so no m×n buffer is written besides W. The first round
 * also reads max|g_ij|; outside [2^-24, 2^24) it is run again on s·G, s the power of two that brings
 * max|g_ij| into [1, 2), and so are the others, with s carried by the two vectors (`sinkhorn`,
 * src/kernels/reduce.ts): the f32 squares stay in range.
 *
 * State: none for matrices (stateBytes 0); scratch a (m), b (n) and n f32.
 * Defaults (§3.4, [I]/[S]): L (`iterations`) 5, lr 0.02, scale α 0.05 (effective step 1e-3).
 *
 * Choices where the spec is open: zero rows or columns get a zero update there (§3.5, scales set to 0
 * instead of 0·∞) rather than an ε clamp; max-abs pre-scaling (§5.1) by a power of two where max|g_ij|
 * is far from 1, so the f32 sums neither overflow nor lose entries above 2^-39·max|g_ij| and the update is
 * unchanged bit for bit when G is scaled by a power of two; a scale beyond the f32 range is treated like
 * a zero row. Orientation-free: no transpose for m > n (§3.1). Weight decay and maximize are extras
 * (default off).
 */
import { check, type Options } from '../../options.js';
import { checks } from '../fisher/common.js';
import type { OptimizerDef } from '../types.js';
import { sinkhorn, sinkhornScratchBytes } from './operators.js';
import { perElement } from '../cost.js';

const al16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

export const sinkgd: OptimizerDef = {
  name: 'sinkgd',
  summary: 'SinkGD: stateless SR-Sinkhorn normalized gradient descent (Scetbon et al. 2025)',
  matrixOnly: true,
  cost: (shape, o) => perElement(8 * ((o.iterations as number) + 2))(shape),
  schema: {
    lr: { default: 0.02, check: check.nonNegative(), doc: 'learning rate λ' },
    scale: { default: 0.05, check: check.nonNegative(), doc: 'update scale α (effective step λ·α on an RMS-1 update)' },
    iterations: { default: 5, check: checks.positiveInt(), doc: 'SR-Sinkhorn rounds L (row then column normalization each)' },
    weightDecay: { default: 0, check: check.nonNegative(), doc: 'decoupled weight decay λ_wd: W ← W·(1 − lr·λ_wd)' },
    maximize: { default: false, check: check.boolean(), doc: 'maximize the objective' },
  },
  handles: (shape) => shape.length === 2,
  slots: () => [],
  scratchBytes: (shape) => {
    const [m, n] = shape;
    return sinkhornScratchBytes(n) + al16(4 * m) + al16(4 * n);
  },
  step(ctx, p, o: Options) {
    const k = ctx.kernels;
    const [m, n] = p.shape;
    const acc = ctx.scratch, a = acc + sinkhornScratchBytes(n), b = a + al16(4 * m);
    sinkhorn(k, a, b, p.g, m, n, o.iterations as number, acc);
    const lr = ctx.lr;
    const wd = o.weightDecay as number;
    if (wd !== 0) k.scale(p.p, p.size, 1 - lr * wd);
    const coeff = lr * (o.scale as number);
    k.racsScaledApply(p.p, p.g, a, b, m, n, o.maximize ? coeff : -coeff);
  },
};
