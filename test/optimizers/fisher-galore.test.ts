/**
 * GaLore (src/optimizers/fisher/galore.ts): hand-derived steps, the refresh schedule, stateBytes,
 * convergence, ref ≈ wasm, replay. The relation GaLore = Alice(no tracking/switching/compensation) is in
 * fisher-alice.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { replay } from '../../dist/replay.js';
import { randomF32 } from '../helpers/rng.js';
import { leastSquares } from '../helpers/problems.js';

type Backend = 'ref' | 'wasm';

function transpose(a: ArrayLike<number>, m: number, n: number): Float32Array {
  const t = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/**
 * G (3×5) with orthogonal rows a, b, c (‖a‖² = 10, ‖b‖² = 6, ‖c‖² = 1.25): G·Gᵀ = diag(10, 6, 1.25), so the
 * left singular vectors are ±e1, ±e2, ±e3 and with rank 2, U = [±e1, ±e2], σ = UᵀG = [±a; ±b].
 */
const A = [1, 2, 0, -1, 2], B = [2, -1, 1, 0, 0], C = [0, 0, 0, 1, 0.5];
const G = new Float32Array([...A, ...B, ...C]);

/** Ω after t steps of constant σ with betas (0.9, 0.999), eps 1e-6, bias-corrected as GaLore: */
function omega(sigma: number, t: number): number {
  // M = (1 − 0.9ᵗ)σ, V = (1 − 0.999ᵗ)σ²; Ω = √(1 − 0.999ᵗ)/(1 − 0.9ᵗ)·M/(√V + ε) = √bc2·σ/(√bc2·|σ| + 1e-6)
  const bc2 = 1 - 0.999 ** t;
  return (Math.sqrt(bc2) * sigma) / (Math.sqrt(bc2) * Math.abs(sigma) + 1e-6);
}

describe('galore: hand-derived steps', () => {
  for (const transposed of [false, true]) {
    it(`two steps on ${transposed ? '5×3 (projected on the right)' : '3×5'}, rank 2`, async () => {
      const shape = transposed ? [5, 3] : [3, 5];
      const opt = await createOptimizer({ optimizer: 'galore', options: { lr: 1, scale: 0.5, rank: 2 }, backend: 'ref', params: { w: { shape } } });
      opt.setGrads({ w: transposed ? transpose(G, 3, 5) : G });
      // U·Ω = rows (Ω(a), Ω(b), 0) whatever the signs of U's columns (they cancel in U·Ω(Uᵀ·G)).
      // W₁ = −lr·α·U·Ω₁, W₂ = W₁ − lr·α·U·Ω₂ (same G, same U: no refresh before t = 201).
      const expected = (t: number) => Array.from(G, (g, k) => (k >= 10 ? 0 : -0.5 * Array.from({ length: t }, (_, s) => omega(g, s + 1)).reduce((x, y) => x + y, 0)));
      for (const t of [1, 2]) {
        opt.step();
        const w = transposed ? transpose(opt.param('w'), 5, 3) : opt.param('w');
        expected(t).forEach((e, k) => expect(w[k]).toBeCloseTo(e, 6));
      }
    });
  }

  it('refreshes when (t − 1) mod K = 0: with K = 2 the step-2 basis is still step 1\'s', async () => {
    const opt = await createOptimizer({ optimizer: 'galore', options: { lr: 1, scale: 1, rank: 2, updateInterval: 2 }, backend: 'ref', params: { w: { shape: [3, 5] } } });
    opt.setGrads({ w: G });
    opt.step(); // U = [±e1, ±e2]
    const g2 = new Float32Array(15);
    g2.set(C, 10); // only the third row: orthogonal to span(U)
    opt.setGrads({ w: g2 });
    opt.step(); // no refresh: σ = 0, row 3 of W untouched
    expect(Array.from(opt.param('w').slice(10))).toEqual([0, 0, 0, 0, 0]);
    opt.step(); // t = 3: refresh from g2 → U spans e3 (the top singular vector) and row 3 moves
    expect(Math.max(...Array.from(opt.param('w').slice(10), Math.abs))).toBeGreaterThan(0.1);
  });
});

const LLAMA60M_LAYER: Record<string, number[]> = {
  q_proj: [512, 512], k_proj: [512, 512], v_proj: [512, 512], o_proj: [512, 512],
  gate_proj: [1376, 512], up_proj: [1376, 512], down_proj: [512, 1376],
};

describe('galore: stateBytes', () => {
  it('= 4·(d·r + 2·r·N) with r = 128, d = min(m, n), N = max(m, n) on the LLaMA-60M layer shapes', async () => {
    const opt = await createOptimizer({
      optimizer: 'galore', backend: 'ref',
      params: Object.fromEntries(Object.entries(LLAMA60M_LAYER).map(([k, shape]) => [k, { shape }])),
    });
    for (const [k, [m, n]] of Object.entries(LLAMA60M_LAYER)) {
      const d = Math.min(m, n), N = Math.max(m, n);
      expect(opt.stateBytes(k)).toBe(4 * (d * 128 + 2 * 128 * N));
    }
  });
});


describe('galore: convergence and backends', () => {
  it.each([['ref', [12, 20]], ['wasm', [12, 20]], ['wasm', [20, 12]]] as const)('least squares on %s %j, rank 6, K = 5: loss below 1% of the initial within 300 steps', async (backend, shape) => {
    const [m, n] = shape;
    const f = leastSquares(48, m, n, 78);
    const opt = await createOptimizer({
      optimizer: 'galore', options: { lr: 0.2, scale: 0.5, rank: 6, updateInterval: 5 }, backend, params: { w: { shape: [m, n] } },
      schedule: { type: 'cosine', warmupSteps: 10, totalSteps: 300, minLrRatio: 0.01 },
    });
    const l0 = f(opt.param('w'))[0];
    for (let t = 0; t < 300; t++) {
      opt.setGrads({ w: f(opt.param('w'))[1] });
      opt.step();
    }
    expect(f(opt.param('w'))[0]).toBeLessThan(0.01 * l0);
  });

  it('wasm ≈ ref over 20 steps (gemm and SVD differ by rounding): max |Δw| ≤ 1e-4', async () => {
    const shapes: Record<string, number[]> = { a: [6, 10], b: [37, 21] };
    const make = (backend: Backend) => createOptimizer({
      optimizer: 'galore', options: { lr: 0.01, rank: 3, updateInterval: 7 }, backend,
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

  it('replay runs galore', async () => {
    const res = await replay({
      optimizer: 'galore', options: { lr: 1, scale: 0.5, rank: 2 }, backend: 'wasm',
      params: { w: { shape: [3, 5], data: Array(15).fill(0) } },
      grads: [{ w: Array.from(G) }],
    });
    expect(res.steps.length).toBe(1);
    expect(res.stateBytes).toBe(4 * (3 * 2 + 2 * 2 * 5));
    res.steps[0].w.forEach((x, k) => expect(x).toBeCloseTo(k >= 10 ? 0 : -0.5 * omega(G[k], 1), 5));
  });
});
