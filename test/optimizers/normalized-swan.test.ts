/**
 * SWAN (src/optimizers/normalized/swan.ts): whitened rows (Δ·Δᵀ = n·I) on well-conditioned inputs, the
 * m > n and the square (centered, rank-deficient) cases, the optional rescale, hand-derived steps,
 * stateBytes, convergence, ref ≈ wasm, replay.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { matmul, randomOrthogonal, singularValues, transpose } from '../helpers/dense.js';
import { randomF32 } from '../helpers/rng.js';
import { BACKENDS, llama60mShapes, refWasmGap, replayRuns, trainMlp } from './eigen-common.js';
import { rowNorms, trainLsq, updateOf } from './normalized-common.js';

/** max |M − target| over the entries of a k×k matrix. */
function maxDev(mat: ArrayLike<number>, target: (i: number, j: number) => number, k: number): number {
  let d = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) d = Math.max(d, Math.abs(mat[i * k + j] - target(i, j)));
  return d;
}

/** Helmert basis: (n−1)×n, orthonormal rows orthogonal to 1 (row k: k ones, −k, zeros, over √(k(k+1))). */
function helmert(n: number): Float64Array {
  const h = new Float64Array((n - 1) * n);
  for (let k = 1; k < n; k++) {
    const s = Math.sqrt(k * (k + 1));
    for (let j = 0; j < k; j++) h[(k - 1) * n + j] = 1 / s;
    h[(k - 1) * n + k] = -k / s;
  }
  return h;
}

describe('swan: whitening', () => {
  it.each([[16, 64], [24, 96], [8, 200]])('random %i×%i: Δ·Δᵀ = n·I within 1e-3·n after the default 10 iterations', async (m, n) => {
    for (const backend of BACKENDS) {
      const d = await updateOf('swan', randomF32(m * n, m + n, 3), m, n, {}, backend);
      const ddt = matmul(d, transpose(d, m, n), m, n, m);
      expect(maxDev(ddt, (i, j) => (i === j ? n : 0), m) / n).toBeLessThan(1e-3);
      // rows keep GradNorm's centering: Δ·1 = 0
      for (let i = 0; i < m; i++) expect(Math.abs(d.slice(i * n, (i + 1) * n).reduce((a, b) => a + b, 0))).toBeLessThan(1e-3 * Math.sqrt(n));
    }
    // 2 iterations do not whiten (so the check above can fail)
    const d2 = await updateOf('swan', randomF32(m * n, m + n, 3), m, n, { nsSteps: 2 });
    expect(maxDev(matmul(d2, transpose(d2, m, n), m, n, m), (i, j) => (i === j ? n : 0), m) / n).toBeGreaterThan(0.05);
  });

  it('m > n (64×16): whitening on the 16×16 Gram; row centering leaves 1 in the null space, so ΔᵀΔ = m·(I − 11ᵀ/n)', async () => {
    const m = 64, n = 16;
    for (const backend of BACKENDS) {
      const d = await updateOf('swan', randomF32(m * n, 7), m, n, {}, backend);
      const dtd = matmul(transpose(d, m, n), d, n, m, n);
      expect(maxDev(dtd, (i, j) => m * ((i === j ? 1 : 0) - 1 / n), n) / m).toBeLessThan(2e-3);
    }
  });

  it('square and centered: rank n − 1, the null direction stays out of Δ (pseudo-inverse behaviour)', async () => {
    // G = D·Hᵀ·Q·H + c·1ᵀ (H Helmert, Q random orthogonal, D row scales, c row offsets): GradNorm gives
    // G̃ = k·Hᵀ·Q·H (rows centered, equal norms), singular values k (n − 1 times) and 0, left and right
    // null vector 1/√n. Its polar factor on the range is Hᵀ·Q·H, so Δ = √n·Hᵀ·Q·H and
    // Δ·Δᵀ = n·Hᵀ·H = n·I − 11ᵀ.
    const n = 12;
    const h = helmert(n), q = randomOrthogonal(n - 1, 5);
    const core = matmul(matmul(transpose(h, n - 1, n), q, n, n - 1, n - 1), h, n, n - 1, n);
    const g = Float32Array.from(core, (x, idx) => (1 + (Math.floor(idx / n) % 4)) * x + 0.3 * Math.floor(idx / n));
    for (const backend of BACKENDS) {
      const d = await updateOf('swan', g, n, n, {}, backend);
      const ddt = matmul(d, transpose(d, n, n), n, n, n);
      expect(maxDev(ddt, (i, j) => (i === j ? n : 0) - 1, n) / n).toBeLessThan(1e-3);
      // with rescale, Δ is scaled to ‖Δ‖_F = √(n·n): by √(n/(n − 1)) here
      const r = await updateOf('swan', g, n, n, { rescale: true }, backend);
      expect(Math.hypot(...r)).toBeCloseTo(n, 4);
      expect(r[0] / d[0]).toBeCloseTo(Math.sqrt(n / (n - 1)), 4);
    }
    // A random square gradient: still rank n − 1 (Δ·1 = 0, smallest singular value ≈ 0), but its small
    // singular values are not whitened in 10 iterations; more iterations get closer.
    const rs = randomF32(n * n, 8);
    const d = await updateOf('swan', rs, n, n, { nsSteps: 10 });
    const sv = singularValues(d, n, n);
    expect(sv[n - 1]).toBeLessThan(1e-2 * Math.sqrt(n));
    const d40 = await updateOf('swan', rs, n, n, { nsSteps: 40 });
    const sv40 = singularValues(d40, n, n);
    expect(sv40[n - 1]).toBeLessThan(1e-2 * Math.sqrt(n));
    for (const s of sv40.slice(0, n - 1)) expect(Math.abs(s / Math.sqrt(n) - 1)).toBeLessThan(1e-3);
  });

  it('rescale: ‖Δ‖_F = √(mn) exactly, rows of norm √n at convergence either way', async () => {
    const m = 16, n = 64;
    const g = randomF32(m * n, 21);
    const r = await updateOf('swan', g, m, n, { rescale: true });
    expect(Math.hypot(...r) / Math.sqrt(m * n)).toBeCloseTo(1, 6);
    const d = await updateOf('swan', g, m, n);
    for (const x of rowNorms(d, m, n)) expect(x / Math.sqrt(n)).toBeCloseTo(1, 3);
  });
});

describe('swan: hand-derived steps', () => {
  it('3×5: rows with orthogonal deviations → Δ = G̃, W = −1e-3·G̃ (defaults)', async () => {
    // G rows = offset + scale·h_k with Helmert directions h1 = [1,−1,0,0,0], h2 = [1,1,−2,0,0], h3 = [1,1,1,−3,0]:
    //   [3, −1, 1, 1, 1] = 1 + 2·h1;  [−1, −1, −4, −2, −2] = −2 + h2;  [0.75, 0.75, 0.75, −0.25, 0.5] = 0.5 + 0.25·h3.
    // GradNorm: mean = offset, population std = scale·‖h_k‖/√5, so G̃_k = √5·h_k/‖h_k‖ (norm √5, rows orthogonal).
    // G̃·G̃ᵀ = 5·I → Y₀ = 5I/‖5I‖_F = I/√3 (converged after 10 steps), (G̃·G̃ᵀ)^{-1/2} = I/√5,
    // Δ = √5·(I/√5)·G̃ = G̃;  W = 0 − 0.02·0.05·G̃.
    const g = [3, -1, 1, 1, 1, -1, -1, -4, -2, -2, 0.75, 0.75, 0.75, -0.25, 0.5];
    const hs = [[1, -1, 0, 0, 0], [1, 1, -2, 0, 0], [1, 1, 1, -3, 0]];
    const gt = hs.flatMap((h) => h.map((x) => (Math.sqrt(5) * x) / Math.hypot(...h)));
    for (const backend of BACKENDS) {
      const opt = await createOptimizer({ optimizer: 'swan', backend, params: { w: { shape: [3, 5] } } });
      opt.setGrads({ w: g });
      opt.step();
      opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(-1e-3 * gt[k], 8));
    }
  });

  it('5×3: m > n, rank n − 1 after centering → Δ = √(5/6)·G̃, W = −1e-3·Δ (defaults)', async () => {
    // Rows (n = 3): [5, −1, 2] = 2 + 3·[1, −1, 0] → G̃ = h1 = √(3/2)·[1, −1, 0];
    //   [−1.5, −1.5, 0] = −1 − 0.5·[1, 1, −2] → −h2 with h2 = [1, 1, −2]/√2;
    //   [0, 4, 2] = 2 − 2·[1, −1, 0] → −h1;  [8, 8, 5] = 7 + [1, 1, −2] → h2;  [3, 3, 3] constant → 0.
    // G̃ᵀ·G̃ = 2·h1·h1ᵀ + 2·h2·h2ᵀ = 6·P with P = I − 11ᵀ/3 (h1, h2 orthogonal, norm √3, centered).
    // ‖6P‖_F = 6√2, Y₀ = P/√2; on the range Z → 2^{1/4}, so (G̃ᵀG̃)^{+1/2} = P/√6 and
    // Δ = √m·G̃·P/√6 = √(5/6)·G̃ (G̃·P = G̃);  ΔᵀΔ = 5·P.  W = −0.001·Δ.
    const g = [5, -1, 2, -1.5, -1.5, 0, 0, 4, 2, 8, 8, 5, 3, 3, 3];
    const h1 = [1, -1, 0].map((x) => x * Math.sqrt(1.5)), h2 = [1, 1, -2].map((x) => x / Math.SQRT2);
    const gt = [...h1, ...h2.map((x) => -x), ...h1.map((x) => -x), ...h2, 0, 0, 0];
    for (const backend of BACKENDS) {
      const opt = await createOptimizer({ optimizer: 'swan', backend, params: { w: { shape: [5, 3] } } });
      opt.setGrads({ w: g });
      opt.step();
      opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(-1e-3 * Math.sqrt(5 / 6) * gt[k], 7));
    }
  });
});

describe('swan: state', () => {
  it('stateBytes = 0 for every LLaMA-60M matrix; vectors go to AdamW', async () => {
    const params: Record<string, { shape: number[] }> = Object.fromEntries(llama60mShapes().map((s, i) => [`layers.${i}.weight`, { shape: s }]));
    params['layers.0.bias'] = { shape: [512] };
    const opt = await createOptimizer({ optimizer: 'swan', backend: 'ref', params });
    for (const name of Object.keys(params)) expect(opt.stateBytes(name)).toBe(name.endsWith('bias') ? 8 * 512 : 0);
    expect(opt.stateBytes()).toBe(8 * 512);
  });

  it('bad options are clear errors', async () => {
    const make = (options: Record<string, unknown>) => createOptimizer({ optimizer: 'swan', options, backend: 'ref', params: { w: { shape: [3, 5] } } });
    await expect(make({ nsBeta: 1 })).rejects.toThrow(/swan option nsBeta must be a number in \(0, 1\)/);
    await expect(make({ nsSteps: 0 })).rejects.toThrow(/swan option nsSteps must be an integer >= 1/);
    await expect(make({ nsSteps: 101 })).rejects.toThrow(/nsSteps must be at most 100/);
  });
});

describe('swan: convergence and backends', () => {
  // GradNorm centers every row, so Δ·1 = 0 and W·1 never moves from 0: the reachable floor is the least
  // loss with centered rows (about 9% of the initial loss here).
  it.each(BACKENDS)('least squares 12×20 on %s: within 2% of the centered-rows floor within 200 steps', async (backend) => {
    const [l0, l1, floor] = await trainLsq('swan', { lr: 1, scale: 0.05 }, 12, 20, 200, backend);
    expect(floor).toBeGreaterThan(0.01 * l0);
    expect(l1 - floor).toBeLessThan(0.02 * (l0 - floor));
    expect(l1).toBeGreaterThanOrEqual(floor * (1 - 1e-6));
  });

  it.each(BACKENDS)('MLP classifier on %s: loss below 15% of the initial within 150 steps', async (backend) => {
    const [l0, l1] = await trainMlp('swan', { lr: 1, scale: 0.05 }, 150, backend);
    expect(l1, `${l0} → ${l1}`).toBeLessThan(0.15 * l0);
  });

  it('ref and wasm agree over 20 steps (gemm and Newton–Schulz within f32 rounding)', async () => {
    expect(await refWasmGap('swan', { lr: 0.01 }, [[9, 13], [13, 9], [16, 16]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs swan', async () => {
    await replayRuns('swan', { lr: 0.5 });
  });
});
