/** Shared helpers of the eigen-optimizer tests (test/optimizers/eigen-*.test.ts). */
import { expect } from 'vitest';
import { createOptimizer, getOptimizer, replay, type Optimizer } from '../../dist/index.js';
import { randomF32 } from '../helpers/rng.js';

export const BACKENDS = ['ref', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** U0 = [[1,2,2],[2,1,−2],[2,−2,1]]/3: orthogonal, each column's largest-magnitude (first) entry positive. */
export const U0 = [[1, 2, 2], [2, 1, -2], [2, -2, 1]].map((r) => r.map((x) => x / 3));
/** Orthogonal rows a, b, c (a·b = a·c = b·c = 0) with no zero entry; ‖a‖² = 8, ‖b‖² = 11, ‖c‖² = 88. */
export const ROWS_A = [1, 1, 1, 1, 2];
export const ROWS_B = [2, -1, -1, 2, -1];
export const ROWS_C = [-1, -5, -5, -1, 6];
/** X = [3a; 2b; c] (row norms² 72, 44, 88) and G = U0·X (3×5): G·Gᵀ = U0·diag(72, 44, 88)·U0ᵀ. */
export const X3x5 = [ROWS_A.map((x) => 3 * x), ROWS_B.map((x) => 2 * x), ROWS_C];
export const G3x5 = matmulRows(U0, X3x5);

export function matmulRows(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, x, p) => s + x * b[p][j], 0)));
}
export const transposeRows = (a: number[][]): number[][] => a[0].map((_, j) => a.map((r) => r[j]));

export async function make(
  optimizer: string, options: Record<string, unknown>, params: Record<string, { shape: number[]; data?: ArrayLike<number> }>, backend: BackendName,
): Promise<Optimizer> {
  return createOptimizer({ optimizer, options, params: params as never, backend, fallback: { pattern: null } as never });
}

/** Run `grads` (list of {name: data}) and return the parameters after each step. */
export async function runSteps(
  optimizer: string, options: Record<string, unknown>, params: Record<string, { shape: number[]; data?: ArrayLike<number> }>,
  grads: Record<string, ArrayLike<number>>[], backend: BackendName,
): Promise<Record<string, number[]>[]> {
  const opt = await make(optimizer, options, params, backend);
  const out: Record<string, number[]>[] = [];
  for (const g of grads) {
    opt.setGrads(Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Float32Array.from(v)])));
    opt.step();
    out.push(Object.fromEntries(opt.paramNames.map((n) => [n, Array.from(opt.param(n))])));
  }
  return out;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  expect(worst, `${what} worst |Δ| at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(tol);
}

/** Sum of slot lengths × 4 of `name` for a shape (the documented state formula), with default options. */
export function slotBytes(name: string, shape: number[], options: Record<string, unknown> = {}): number {
  const def = getOptimizer(name);
  const opts = Object.fromEntries(Object.entries(def.schema).map(([k, s]) => [k, k in options ? options[k] : s.default]));
  return 4 * def.slots(shape, opts).reduce((a, s) => a + s.length, 0);
}

/** LLaMA-60M (hidden 512, MLP 1376, 8 layers) matrix parameters as stored by torch ([out, in]). */
export function llama60mShapes(): number[][] {
  const shapes: number[][] = [];
  for (let l = 0; l < 8; l++) shapes.push([512, 512], [512, 512], [512, 512], [512, 512], [1376, 512], [1376, 512], [512, 1376]);
  return shapes;
}

/**
 * Least squares ½·‖W·X − Y‖²_F / N with Y = W*·X: W m×n, X n×N (seeded). Returns the loss and gradient
 * (W·X − Y)·Xᵀ / N in f64, as a Float32Array.
 */
export function leastSquares(m: number, n: number, nSamples: number, seed: number) {
  const x = randomF32(n * nSamples, seed);
  const wStar = randomF32(m * n, seed + 1, 1 / Math.sqrt(n));
  const y = new Float64Array(m * nSamples);
  for (let i = 0; i < m; i++) for (let p = 0; p < n; p++) for (let s = 0; s < nSamples; s++) y[i * nSamples + s] += wStar[i * n + p] * x[p * nSamples + s];
  return (w: ArrayLike<number>): { loss: number; grad: Float32Array } => {
    const r = new Float64Array(m * nSamples);
    for (let i = 0; i < m; i++) for (let p = 0; p < n; p++) {
      const wip = w[i * n + p];
      for (let s = 0; s < nSamples; s++) r[i * nSamples + s] += wip * x[p * nSamples + s];
    }
    let loss = 0;
    for (let i = 0; i < r.length; i++) { r[i] -= y[i]; loss += r[i] * r[i]; }
    const grad = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let p = 0; p < n; p++) {
      let s0 = 0;
      for (let s = 0; s < nSamples; s++) s0 += r[i * nSamples + s] * x[p * nSamples + s];
      grad[i * n + p] = s0 / nSamples;
    }
    return { loss: loss / (2 * nSamples), grad };
  };
}

/** Train least squares from W = 0 for `steps`; returns [initial loss, final loss]. */
export async function trainLeastSquares(
  optimizer: string, options: Record<string, unknown>, m: number, n: number, steps: number, backend: BackendName, seed = 7,
): Promise<[number, number]> {
  const f = leastSquares(m, n, 64, seed);
  const opt = await make(optimizer, options, { w: { shape: [m, n] } }, backend);
  const first = f(opt.param('w')).loss;
  for (let s = 0; s < steps; s++) {
    opt.setGrads({ w: f(opt.param('w')).grad });
    opt.step();
  }
  return [first, f(opt.param('w')).loss];
}

/** Max |θ_ref − θ_wasm| / max|θ_ref| after `steps` random-gradient steps on the given shapes. */
export async function refWasmGap(optimizer: string, options: Record<string, unknown>, shapes: number[][], steps: number): Promise<number> {
  const params = Object.fromEntries(shapes.map((s, i) => [`w${i}`, { shape: s, data: randomF32(s[0] * s[1], 50 + i) }]));
  const a = await make(optimizer, options, params, 'ref');
  const b = await make(optimizer, options, params, 'wasm');
  for (let t = 0; t < steps; t++) {
    const g = Object.fromEntries(shapes.map((s, i) => [`w${i}`, randomF32(s[0] * s[1], 1000 * t + i)]));
    a.setGrads(g);
    b.setGrads(g);
    a.step();
    b.step();
  }
  let gap = 0, scale = 0;
  for (const name of a.paramNames) {
    const pa = a.param(name), pb = b.param(name);
    for (let i = 0; i < pa.length; i++) { gap = Math.max(gap, Math.abs(pa[i] - pb[i])); scale = Math.max(scale, Math.abs(pa[i])); }
  }
  return gap / scale;
}

/** Replay runs the optimizer on a 3×5 and a 5×3 matrix for 3 steps and returns finite parameters. */
export async function replayRuns(optimizer: string, options: Record<string, unknown>): Promise<void> {
  const res = await replay({
    optimizer, options, backend: 'wasm',
    params: { a: { shape: [3, 5], data: Array.from(randomF32(15, 1)) }, b: { shape: [5, 3], data: Array.from(randomF32(15, 2)) } },
    grads: [0, 1, 2].map((t) => ({ a: Array.from(randomF32(15, 10 + t)), b: Array.from(randomF32(15, 20 + t)) })),
  });
  expect(res.steps.length).toBe(3);
  expect(res.optimizer).toBe(optimizer);
  for (const s of res.steps) for (const v of Object.values(s)) expect(v.every(Number.isFinite)).toBe(true);
  expect(res.stateBytes).toBe(slotBytes(optimizer, [3, 5], options) + slotBytes(optimizer, [5, 3], options));
}

/** f64 dense m×n matrix product helpers on flat arrays. */
export function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const c = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
export function tr(a: ArrayLike<number>, m: number, n: number): number[] {
  const t = new Array<number>(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** Polar factor U_s·V_sᵀ of a full-rank m×n matrix in f64: Newton–Schulz X ← 1.5·X − 0.5·X·Xᵀ·X from G/‖G‖_F. */
export function polar(g: ArrayLike<number>, m: number, n: number): number[] {
  let x = Array.from(g);
  const f = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  x = x.map((v) => v / f);
  for (let it = 0; it < 100; it++) {
    const xxt = mm(x, tr(x, m, n), m, n, m);
    const y = mm(xxt, x, m, m, n);
    x = x.map((v, i) => 1.5 * v - 0.5 * y[i]);
  }
  return x;
}

/**
 * A 2-layer MLP classifier 4-16-3 (ReLU, softmax cross-entropy, full batch) on a fixed synthetic data
 * set: 3 Gaussian blobs in 4-D (40 points each, centers ±1.5 apart, unit noise; seeded). The weights
 * w1 (16×4), w2 (3×16) go to the optimizer under test, the biases to the AdamW fallback (lr 0.01).
 * Returns [initial loss, final loss] after `steps` steps; on `pool` (2 threads) each step is awaited and
 * the pool is closed at the end.
 */
export async function trainMlp(optimizer: string, options: Record<string, unknown>, steps: number, backend: BackendName | 'pool'): Promise<[number, number]> {
  const N = 120, D = 4, H = 16, C = 3;
  const noise = randomF32(N * D, 77);
  const centers = [[1.5, 0, -1.5, 0], [-1.5, 1.5, 0, 0], [0, -1.5, 1.5, 1.5]];
  const x = new Float64Array(N * D), y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    y[i] = i % C;
    for (let d = 0; d < D; d++) x[i * D + d] = centers[y[i]][d] + noise[i * D + d];
  }
  const opt = await createOptimizer({
    optimizer, options, backend,
    params: {
      w1: { shape: [H, D], data: randomF32(H * D, 78, 0.5) }, b1: { shape: [H] },
      w2: { shape: [C, H], data: randomF32(C * H, 79, 0.25) }, b2: { shape: [C] },
    },
    fallback: { pattern: null, options: { lr: 0.01 } } as never,
    ...(backend === 'pool' ? { threads: 2 } : {}),
  });
  const pass = (backward: boolean): number => {
    const w1 = opt.param('w1'), b1 = opt.param('b1'), w2 = opt.param('w2'), b2 = opt.param('b2');
    const gw1 = new Float64Array(H * D), gb1 = new Float64Array(H), gw2 = new Float64Array(C * H), gb2 = new Float64Array(C);
    let loss = 0;
    for (let i = 0; i < N; i++) {
      const h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        let s = b1[j];
        for (let d = 0; d < D; d++) s += w1[j * D + d] * x[i * D + d];
        h[j] = Math.max(0, s);
      }
      const z = new Float64Array(C);
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = b2[c];
        for (let j = 0; j < H; j++) s += w2[c * H + j] * h[j];
        z[c] = s;
        max = Math.max(max, s);
      }
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(z[c] - max);
      loss += Math.log(sum) + max - z[y[i]];
      if (!backward) continue;
      const dh = new Float64Array(H);
      for (let c = 0; c < C; c++) {
        const dz = (Math.exp(z[c] - max) / sum - (c === y[i] ? 1 : 0)) / N;
        gb2[c] += dz;
        for (let j = 0; j < H; j++) { gw2[c * H + j] += dz * h[j]; dh[j] += dz * w2[c * H + j]; }
      }
      for (let j = 0; j < H; j++) {
        if (h[j] <= 0) continue;
        gb1[j] += dh[j];
        for (let d = 0; d < D; d++) gw1[j * D + d] += dh[j] * x[i * D + d];
      }
    }
    if (backward) opt.setGrads({ w1: Float32Array.from(gw1), b1: Float32Array.from(gb1), w2: Float32Array.from(gw2), b2: Float32Array.from(gb2) });
    return loss / N;
  };
  try {
    const first = pass(false);
    for (let s = 0; s < steps; s++) {
      pass(true);
      await opt.step(); // a promise on pool
    }
    return [first, pass(false)];
  } finally {
    await opt.close();
  }
}
