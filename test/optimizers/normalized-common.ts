/** Shared helpers of the normalized-optimizer tests (test/optimizers/normalized-*.test.ts). */
import { expect } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { leastSquares } from '../helpers/problems.js';
import { normal, rng } from '../helpers/rng.js';
import type { BackendName } from './eigen-common.js';

/**
 * The update Δ of one step from W = 0 (W ← −lr·scale·Δ with lr = 1 and, where the optimizer has one,
 * scale = 1), as f64.
 */
export async function updateOf(
  optimizer: string, g: ArrayLike<number>, m: number, n: number, options: Record<string, unknown> = {}, backend: BackendName = 'ref',
): Promise<Float64Array> {
  const opts = { lr: 1, ...(optimizer === 'muon' ? {} : { scale: 1 }), ...options };
  const opt = await createOptimizer({ optimizer, options: opts, backend, params: { w: { shape: [m, n] } } });
  opt.setGrads({ w: Float32Array.from(g) });
  opt.step();
  return Float64Array.from(opt.param('w'), (x) => -x);
}

export function rowNorms(x: ArrayLike<number>, m: number, n: number): number[] {
  return Array.from({ length: m }, (_, i) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += x[i * n + j] ** 2;
    return Math.sqrt(s);
  });
}

export function colNorms(x: ArrayLike<number>, m: number, n: number): number[] {
  return Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += x[i * n + j] ** 2;
    return Math.sqrt(s);
  });
}

/**
 * A gradient-like m×n matrix (spec §3.1's test matrices): rank 4 plus 10% noise, rows and columns
 * scaled over two orders of magnitude.
 */
export function gradientLike(m: number, n: number, seed: number): Float32Array {
  const r = normal(rng(seed));
  const k = 4;
  const u = Array.from({ length: m * k }, r), v = Array.from({ length: k * n }, r);
  const rs = Array.from({ length: m }, (_, i) => 10 ** (-1 + (2 * ((i * 7) % m)) / m));
  const cs = Array.from({ length: n }, (_, j) => 10 ** (-1 + (2 * ((j * 11) % n)) / n));
  const g = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0.1 * r();
    for (let p = 0; p < k; p++) s += u[i * k + p] * v[p * n + j];
    g[i * n + j] = rs[i] * s * cs[j];
  }
  return g;
}

/**
 * Train ½·mean‖A·W − B‖² (helpers/problems.ts, k samples, W m×n from 0) for `steps` steps with a cosine
 * schedule; returns [initial loss, final loss, floor], where floor is the least loss with W·1 = 0: the
 * loss at W*·(I − 11ᵀ/n) (the residual splits into a part in W's row-centered space and W*'s row means),
 * the best an optimizer whose updates have centered rows (SWAN's GradNorm) can reach from W = 0.
 */
export async function trainLsq(
  optimizer: string, options: Record<string, unknown>, m: number, n: number, steps: number, backend: BackendName | 'pool',
): Promise<[number, number, number]> {
  const f = leastSquares(48, m, n, 77);
  const centered = Float32Array.from(f.wStar);
  for (let i = 0; i < m; i++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += f.wStar[i * n + j] / n;
    for (let j = 0; j < n; j++) centered[i * n + j] = f.wStar[i * n + j] - mean;
  }
  const floor = f(centered)[0];
  const opt = await createOptimizer({
    optimizer, options, backend, params: { w: { shape: [m, n] } },
    schedule: { type: 'cosine', warmupSteps: 10, totalSteps: steps, minLrRatio: 0.01 },
  });
  try {
    const l0 = f(opt.param('w'))[0];
    for (let t = 0; t < steps; t++) {
      opt.setGrads({ w: f(opt.param('w'))[1] });
      await opt.step();
    }
    return [l0, f(opt.param('w'))[0], floor];
  } finally {
    await opt.close();
  }
}

/** Largest |x_i − y_i|. */
export function maxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}
