/**
 * SinkGD (src/optimizers/normalized/sinkgd.ts): column and row norms after L rounds, scale invariance,
 * zero rows and columns, the two-vector form against the direct form in f64, hand-derived steps,
 * stateBytes, convergence, ref = wasm bit for bit, replay.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { firstBitDiff, randomF32 } from '../helpers/rng.js';
import { BACKENDS, llama60mShapes, replayRuns, trainMlp } from './eigen-common.js';
import { colNorms, gradientLike, maxDiff, rowNorms, trainLsq, updateOf } from './normalized-common.js';

/** SR-Sinkhorn in its direct form (spec §3.1), in f64: L times rows to norm √n, then columns to norm √m. */
function srSinkhornF64(g: ArrayLike<number>, m: number, n: number, rounds: number): Float64Array {
  const x = Float64Array.from(g);
  for (let l = 0; l < rounds; l++) {
    rowNorms(x, m, n).forEach((r, i) => { for (let j = 0; j < n; j++) x[i * n + j] *= r > 0 ? Math.sqrt(n) / r : 0; });
    colNorms(x, m, n).forEach((c, j) => { for (let i = 0; i < m; i++) x[i * n + j] *= c > 0 ? Math.sqrt(m) / c : 0; });
  }
  return x;
}

describe('sinkgd: the SR-Sinkhorn update', () => {
  it.each([[64, 160], [160, 64], [96, 96]])('%i×%i gradient-like: columns exactly √m, rows within 0.3% of √n at L = 5', async (m, n) => {
    const d = await updateOf('sinkgd', gradientLike(m, n, m + n), m, n);
    // every column norm √m to f32 rounding (the last step of every round is the column step)
    for (const c of colNorms(d, m, n)) expect(Math.abs(c / Math.sqrt(m) - 1)).toBeLessThan(1e-6);
    // rows converge to √n: spec §3.1 measures [0.9999, 1.0027]·√n at L = 5
    for (const r of rowNorms(d, m, n)) expect(Math.abs(r / Math.sqrt(n) - 1)).toBeLessThan(3e-3);
    // at L = 1 the rows are still far off (so the row check above can fail)
    const d1 = await updateOf('sinkgd', gradientLike(m, n, m + n), m, n, { iterations: 1 });
    const worst = Math.max(...rowNorms(d1, m, n).map((r) => Math.abs(r / Math.sqrt(n) - 1)));
    expect(worst).toBeGreaterThan(0.05);
  });

  it('scale-invariant: G·2^k gives the same update bit for bit, G·3.7 and G·1e-12 within f32 rounding', async () => {
    const m = 24, n = 40;
    const g = gradientLike(m, n, 5);
    const base = await updateOf('sinkgd', g, m, n, {}, 'wasm');
    for (const s of [2 ** -20, 2 ** 30]) {
      const d = await updateOf('sinkgd', g.map((x) => x * s), m, n, {}, 'wasm');
      expect(firstBitDiff(Float32Array.from(d), Float32Array.from(base))).toBe(-1);
    }
    for (const s of [3.7, 1e-12, 1e20]) {
      const d = await updateOf('sinkgd', g.map((x) => x * s), m, n, {}, 'wasm');
      expect(maxDiff(d, base)).toBeLessThan(2e-5 * Math.sqrt(m)); // entries are at most √m
    }
  });

  it('a zero row and a zero column get a zero update; the rest stays normalized', async () => {
    const m = 12, n = 20;
    const g = randomF32(m * n, 3);
    for (let j = 0; j < n; j++) g[5 * n + j] = 0;
    for (let i = 0; i < m; i++) g[i * n + 7] = 0;
    for (const backend of BACKENDS) {
      const d = await updateOf('sinkgd', g, m, n, {}, backend);
      expect(d.every(Number.isFinite)).toBe(true);
      for (let j = 0; j < n; j++) expect(Math.abs(d[5 * n + j])).toBe(0);
      for (let i = 0; i < m; i++) expect(Math.abs(d[i * n + 7])).toBe(0);
      colNorms(d, m, n).forEach((c, j) => { if (j !== 7) expect(c).toBeCloseTo(Math.sqrt(m), 5); });
    }
    // an all-zero gradient: no update, no NaN
    const z = await updateOf('sinkgd', new Float32Array(m * n), m, n);
    expect(z.every((x) => Math.abs(x) === 0)).toBe(true);
  });

  it.each([[257, 131, 5], [40, 300, 5], [33, 17, 2]])('the two-vector form equals the direct form (f64) on %i×%i, L = %i', async (m, n, L) => {
    const g = gradientLike(m, n, 11 * m);
    const want = srSinkhornF64(g, m, n, L);
    for (const backend of BACKENDS) {
      const d = await updateOf('sinkgd', g, m, n, { iterations: L }, backend);
      // entries up to √m; f32 products and f32 scales: a few ulps relative
      expect(maxDiff(d, want)).toBeLessThan(2e-6 * Math.sqrt(m));
    }
  });
});

describe('sinkgd: hand-derived steps', () => {
  // |g_ij| = u_i·v_j (rank-1 magnitudes): the row step gives |y_ij| = √n·v_j/‖v‖ for every i, then each
  // column has m equal magnitudes and the column step gives |x_ij| = √m·(√n·v_j/‖v‖)/(√m·√n·v_j/‖v‖) = 1:
  // Δ = sign(G) after one round, a fixed point of both steps. W ← 0 − lr·α·sign(G) = −0.02·0.05·sign(G).
  const U = [1, 2, 0.5, 3, 0.25], V = [1, 2, 3, 0.5, 1];
  const SIGNS = [1, -1, 1, 1, -1, -1, 1, 1, -1, 1, 1, -1, -1, 1, 1];
  it.each([[3, 5], [5, 3]])('%i×%i, defaults: W = −1e-3·sign(G)', async (m, n) => {
    const g = Float32Array.from({ length: m * n }, (_, k) => SIGNS[k] * U[Math.floor(k / n)] * V[k % n]);
    const opt = await createOptimizer({ optimizer: 'sinkgd', backend: 'ref', params: { w: { shape: [m, n] } } });
    opt.setGrads({ w: g });
    opt.step();
    opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(-1e-3 * SIGNS[k], 9));
  });

  it('2×2 G = [[1, 0], [1, 1]], L = 1 and L = 2', async () => {
    // L = 1: rows 1, √2 → a = [√2, 1], Y = [[√2, 0], [1, 1]]; columns √3, 1 → b = [√2/√3, √2]:
    //   X¹ = [[2/√3, 0], [√(2/3), √2]]  (columns of norm √2; rows² 4/3 and 8/3).
    // L = 2: rows of X¹ to √2: Y = [[√2, 0], [√2/2, √6/2]]; columns² 2.5 and 1.5 → ×√0.8 and ×2/√3:
    //   X² = [[√1.6, 0], [√0.4, √2]].
    const d1 = await updateOf('sinkgd', [1, 0, 1, 1], 2, 2, { iterations: 1 });
    [2 / Math.sqrt(3), 0, Math.sqrt(2 / 3), Math.SQRT2].forEach((x, k) => expect(d1[k]).toBeCloseTo(x, 6));
    const d2 = await updateOf('sinkgd', [1, 0, 1, 1], 2, 2, { iterations: 2 });
    [Math.sqrt(1.6), 0, Math.sqrt(0.4), Math.SQRT2].forEach((x, k) => expect(d2[k]).toBeCloseTo(x, 6));
  });

  it('weight decay and maximize', async () => {
    // W = 1 everywhere, G = sign pattern (Δ = G): W ← W·(1 − 0.5·0.1) ± 0.5·0.2·G
    const g = [1, -1, -1, 1];
    for (const maximize of [false, true]) {
      const opt = await createOptimizer({
        optimizer: 'sinkgd', options: { lr: 0.5, scale: 0.2, weightDecay: 0.1, maximize }, backend: 'wasm',
        params: { w: { shape: [2, 2], data: [1, 1, 1, 1] } },
      });
      opt.setGrads({ w: g });
      opt.step();
      opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(0.95 + (maximize ? 0.1 : -0.1) * g[k], 6));
    }
  });
});

describe('sinkgd: state', () => {
  it('stateBytes = 0 for every LLaMA-60M matrix; the norm vector goes to AdamW (8 bytes per element)', async () => {
    const params: Record<string, { shape: number[] }> = Object.fromEntries(llama60mShapes().map((s, i) => [`layers.${i}.weight`, { shape: s }]));
    params['norm.weight'] = { shape: [512] };
    const opt = await createOptimizer({ optimizer: 'sinkgd', backend: 'ref', params });
    for (const [name, { shape }] of Object.entries(params)) {
      expect(opt.stateBytes(name)).toBe(shape.length === 2 ? 0 : 8 * 512);
      expect(opt.groupOf(name).optimizer).toBe(shape.length === 2 ? 'sinkgd' : 'adamw');
    }
    expect(opt.stateBytes()).toBe(8 * 512);
  });
});

describe('sinkgd: convergence and backends', () => {
  it.each([...BACKENDS, 'pool'] as const)('least squares 12×20 on %s: loss below 2% of the initial within 200 steps', async (backend) => {
    const [l0, l1] = await trainLsq('sinkgd', { lr: 1, scale: 0.05 }, 12, 20, 200, backend);
    expect(l1).toBeLessThan(0.02 * l0);
  });

  it.each(BACKENDS)('MLP classifier on %s: loss below 15% of the initial within 150 steps', async (backend) => {
    const [l0, l1] = await trainMlp('sinkgd', { lr: 1, scale: 0.05 }, 150, backend);
    expect(l1, `${l0} → ${l1}`).toBeLessThan(0.15 * l0);
  });

  it('wasm = ref bit for bit over 20 steps (3×5, 37×101, 129×3; all SinkGD kernels are bit-exact)', async () => {
    const shapes: Record<string, number[]> = { a: [3, 5], b: [37, 101], c: [129, 3] };
    const make = (backend: 'ref' | 'wasm') => createOptimizer({
      optimizer: 'sinkgd', options: { lr: 0.1, weightDecay: 0.01 }, backend,
      params: Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, { shape: s, data: randomF32(s[0] * s[1], 10 + i) }])),
    });
    const r = await make('ref'), w = await make('wasm');
    for (let t = 0; t < 20; t++) {
      const grads = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, randomF32(s[0] * s[1], 100 * t + i, t % 7 === 3 ? 1e-6 : 1)]));
      r.setGrads(grads);
      w.setGrads(grads);
      r.step();
      w.step();
    }
    for (const k of Object.keys(shapes)) expect(firstBitDiff(r.param(k), w.param(k))).toBe(-1);
  });

  it('replay runs sinkgd', async () => {
    await replayRuns('sinkgd', { lr: 0.5 });
  });
});
