/**
 * Alice and Alice-0 (src/optimizers/fisher/alice.ts): a hand-derived step, GaLore = Alice without
 * tracking/switching/compensation, zero compensation at r = min(m, n), the switch's basis, stateBytes,
 * convergence, ref ≈ wasm, replay.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { replay } from '../../dist/replay.js';
import { firstBitDiff, randomF32 } from '../helpers/rng.js';
import { leastSquares } from '../helpers/problems.js';

type Backend = 'ref' | 'wasm';

function transpose(a: ArrayLike<number>, m: number, n: number): Float32Array {
  const t = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** G (3×5) with orthogonal rows (G·Gᵀ = diag(10, 6, 1.25)): left singular vectors ±e1, ±e2, ±e3. */
const A = [1, 2, 0, -1, 2], B = [2, -1, 1, 0, 0], C = [0, 0, 0, 1, 0.5];
const G = new Float32Array([...A, ...B, ...C]);

describe('alice: hand-derived first step', () => {
  for (const name of ['alice', 'alice0']) {
    for (const transposed of [false, true]) {
      it(`${name} on ${transposed ? '5×3' : '3×5'}, rank 2 = leading (no sampling), compensation on`, async () => {
        const shape = transposed ? [5, 3] : [3, 5];
        const opt = await createOptimizer({
          optimizer: name, options: { lr: 1, scale: 0.5, compensationScale: 0.4, rank: 2, leading: 2 }, backend: 'ref',
          params: { w: { shape } },
        });
        opt.setGrads({ w: transposed ? transpose(G, 3, 5) : G });
        opt.step();
        const w = transposed ? transpose(opt.param('w'), 5, 3) : opt.param('w');
        // U = [±e1, ±e2] (exact SVD at t = 1), σ = rows a, b (up to sign, which cancels in U·Ω).
        // Ω = M/(√V + ε) = 0.1σ/(√(0.1σ²) + 1e-8) ≈ √0.1·sign(σ)   (β1 = β2 = 0.9, no bias correction).
        // Residual R = G − U·σ = (0; 0; c); x = column energies = (0, 0, 0, 1, 0.25); p = 0.1·x;
        // C = √(3 − 2)·R·Diag(p)^{-1/2} = row 3: (0, 0, 0, 1/√0.1, 0.5/√0.025) = (0, 0, 0, √10, √10); η = 1.
        // W = −lr·α·(U·Ω + α_c·C) = −0.5·Ω on rows 1–2, −0.5·0.4·√10 on entries (3, 4) and (3, 5).
        const om = (s: number) => (0.1 * s) / (Math.sqrt(0.1) * Math.abs(s) + 1e-8);
        const expected = [...A.map((s) => -0.5 * om(s)), ...B.map((s) => -0.5 * om(s)), 0, 0, 0, -0.2 * Math.sqrt(10), -0.2 * Math.sqrt(10)];
        expected.forEach((e, k) => expect(w[k]).toBeCloseTo(e, 5));
        // φ = ‖C‖ = √20
        expect(opt.state('w').phi[0]).toBeCloseTo(Math.sqrt(20), 4);
        // p = 0.1·x (in the column space of G', length N = 5)
        expect(Array.from(opt.state('w').p)).toEqual(Array.from(new Float32Array([0, 0, 0, 0.1, 0.025])));
      });
    }
  }
});

describe('alice: relations', () => {
  it.each([[[6, 10], 1, 20], [[10, 6], 1, 20], [[9, 14], 5, 4]] as const)(
    'GaLore = Alice with tracking, switching and compensation off, %j, K = %i, %i steps (bit for bit on ref)',
    async (shape, K, steps) => {
      const [m, n] = shape;
      const init = randomF32(m * n, 5);
      const galore = await createOptimizer({ optimizer: 'galore', options: { lr: 0.05, rank: 3, updateInterval: K }, backend: 'ref', params: { w: { shape: [m, n], data: init } } });
      const alice = await createOptimizer({
        optimizer: 'alice', backend: 'ref', params: { w: { shape: [m, n], data: init } },
        options: {
          lr: 0.05, scale: 0.3, rank: 3, leading: 3, updateInterval: K, betas: [0.9, 0.999, 0], compensationScale: 0,
          basisUpdate: 'svd', biasCorrection: true, eps: 1e-6,
        },
      });
      // GaLore refreshes at (t − 1) mod K = 0, Alice at t = 1 and t mod K = 0: the same steps when K = 1,
      // and only t = 1 within the first K steps otherwise.
      for (let t = 0; t < steps; t++) {
        const g = randomF32(m * n, 900 + t);
        galore.setGrads({ w: g });
        alice.setGrads({ w: g });
        galore.step();
        alice.step();
      }
      expect(firstBitDiff(galore.param('w'), alice.param('w'))).toBe(-1);
    },
  );

  it.each([[6, 10], [10, 6]])('Alice with r = min(m, n) (%i×%i) has zero compensation: same as α_c = 0, φ stays 0', async (m, n) => {
    const make = (compensationScale: number) => createOptimizer({
      optimizer: 'alice', backend: 'ref', options: { lr: 0.05, rank: 6, leading: 2, compensationScale, updateInterval: 3 },
      params: { w: { shape: [m, n] } },
    });
    const a = await make(0.4), b = await make(0);
    for (let t = 0; t < 8; t++) {
      const g = randomF32(m * n, 70 + t);
      a.setGrads({ w: g });
      b.setGrads({ w: g });
      a.step();
      b.step();
    }
    expect(firstBitDiff(a.param('w'), b.param('w'))).toBe(-1);
    expect(a.state('w').phi[0]).toBe(0);
    expect(a.state('w').U.length).toBe(36);
  });

  it.each([[12, 20], [20, 12]])('the switch (%i×%i, r = 4, l = 2): U orthonormal, leading 2 = top singular pair, the rest ⟂ the top 4', async (m, n) => {
    const g = randomF32(m * n, 31);
    for (let i = 0; i < m * n; i++) g[i] *= 1 + (i % 7); // a spread-out spectrum
    const d = Math.min(m, n), r = 4;
    const gal = await createOptimizer({ optimizer: 'galore', options: { rank: r }, backend: 'wasm', params: { w: { shape: [m, n] } } });
    gal.setGrads({ w: g });
    gal.step();
    const top = gal.state('w').U; // exact top-4 left singular vectors of G' (d×4)
    for (const name of ['alice', 'alice0']) {
      for (const t of [1, 2]) {
        // t = 1: from the exact SVD; t = 2 (K = 2): one subspace-iteration step with Rayleigh–Ritz, same G
        const opt = await createOptimizer({ optimizer: name, options: { rank: r, leading: 2, updateInterval: 2, seed: 7 }, backend: 'wasm', params: { w: { shape: [m, n] } } });
        opt.setGrads({ w: g });
        for (let s = 0; s < t; s++) opt.step();
        const u = opt.state('w').U;
        const dotc = (x: Float32Array, i: number, y: Float32Array, j: number) => {
          let s = 0;
          for (let k = 0; k < d; k++) s += x[k * r + i] * y[k * r + j];
          return s;
        };
        for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) expect(Math.abs(dotc(u, i, u, j) - (i === j ? 1 : 0))).toBeLessThan(1e-5);
        if (t === 1) for (let i = 0; i < 2; i++) expect(Math.abs(dotc(u, i, top, i))).toBeGreaterThan(1 - 1e-5);
        // at t = 2 the Ritz vectors of one subspace step approximate the top pair: |cos| > 0.99
        else for (let i = 0; i < 2; i++) expect(Math.abs(dotc(u, i, top, i))).toBeGreaterThan(0.99);
        // the sampled columns lie in the complement of the (t = 1: exact) top-r subspace
        if (t === 1) for (let i = 2; i < r; i++) for (let j = 0; j < r; j++) expect(Math.abs(dotc(u, i, top, j))).toBeLessThan(1e-5);
      }
    }
  });
});

const LLAMA60M_LAYER: Record<string, number[]> = {
  q_proj: [512, 512], k_proj: [512, 512], v_proj: [512, 512], o_proj: [512, 512],
  gate_proj: [1376, 512], up_proj: [1376, 512], down_proj: [512, 1376],
};

describe('alice: stateBytes', () => {
  it.each(['alice', 'alice0'])('%s: 4·(d·r + 2·r·N + N + 1) (+ 4·r² for Alice), r = 128, on the LLaMA-60M layer shapes', async (name) => {
    const opt = await createOptimizer({
      optimizer: name, backend: 'ref',
      params: Object.fromEntries(Object.entries(LLAMA60M_LAYER).map(([k, shape]) => [k, { shape }])),
    });
    for (const [k, [m, n]] of Object.entries(LLAMA60M_LAYER)) {
      const d = Math.min(m, n), N = Math.max(m, n), r = 128;
      expect(opt.stateBytes(k)).toBe(4 * (d * r + 2 * r * N + N + 1 + (name === 'alice' ? r * r : 0)));
    }
  });
});


describe('alice: convergence and backends', () => {
  it.each([
    ['alice', 'ref', [12, 20]], ['alice', 'wasm', [20, 12]], ['alice0', 'ref', [20, 12]], ['alice0', 'wasm', [12, 20]],
  ] as const)('%s least squares on %s %j, rank 4, l = 2, K = 10: loss below 0.1% of the initial within 300 steps', async (name, backend, shape) => {
    const [m, n] = shape;
    const f = leastSquares(48, m, n, 78);
    const opt = await createOptimizer({
      optimizer: name, options: { lr: 0.1, rank: 4, leading: 2, updateInterval: 10 }, backend, params: { w: { shape: [m, n] } },
      schedule: { type: 'cosine', warmupSteps: 10, totalSteps: 300, minLrRatio: 0.01 },
    });
    const l0 = f(opt.param('w'))[0];
    for (let t = 0; t < 300; t++) {
      opt.setGrads({ w: f(opt.param('w'))[1] });
      opt.step();
    }
    expect(f(opt.param('w'))[0]).toBeLessThan(1e-3 * l0);
  });

  it.each(['alice', 'alice0'])('%s: wasm ≈ ref over 20 steps with refreshes at t = 1, 7, 14: max |Δw| ≤ 1e-4', async (name) => {
    const shapes: Record<string, number[]> = { a: [6, 10], b: [37, 21] };
    const make = (backend: Backend) => createOptimizer({
      optimizer: name, options: { lr: 0.01, rank: 4, leading: 2, updateInterval: 7 }, backend,
      params: Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, { shape: s, data: randomF32(s[0] * s[1], 20 + i) }])),
    });
    const r = await make('ref'), w = await make('wasm');
    for (let t = 0; t < 20; t++) {
      const grads = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, randomF32(s[0] * s[1], 300 * t + i)]));
      r.setGrads(grads);
      w.setGrads(grads);
      r.step();
      w.step();
    }
    for (const k of Object.keys(shapes)) {
      const a = r.param(k), b = w.param(k);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThanOrEqual(1e-4);
    }
  });

  it.each(['alice', 'alice0'])('replay runs %s', async (name) => {
    const res = await replay({
      optimizer: name, options: { lr: 1, scale: 0.5, rank: 2, leading: 1 }, backend: 'wasm',
      params: { w: { shape: [3, 5], data: Array(15).fill(0) } },
      grads: [{ w: Array.from(G) }, { w: Array.from(G) }],
    });
    expect(res.steps.length).toBe(2);
    expect(res.stateBytes).toBe(4 * (3 * 2 + 2 * 2 * 5 + 5 + 1 + (name === 'alice' ? 4 : 0)));
    expect(res.steps[1].w.every(Number.isFinite)).toBe(true);
  });
});
