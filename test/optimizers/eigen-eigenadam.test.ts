/**
 * Eigen-Adam (one-sided SOAP): hand-derived steps on 3×5 and 5×3, the identity-basis relation to AdamW,
 * the state formula, convergence, ref/wasm agreement and replay.
 */
import { describe, expect, it } from 'vitest';
import { randomF32 } from '../helpers/rng.js';
import {
  BACKENDS, G3x5, expectClose, llama60mShapes, make, refWasmGap, replayRuns, runSteps, slotBytes, trainLeastSquares, transposeRows,
} from './eigen-common.js';

// Hand derivation (eps 1e-8, betas (0.9, 0.999, 0.999), bias correction): G = U0·X with U0 =
// [[1,2,2],[2,1,−2],[2,−2,1]]/3 orthogonal and X's rows 3a, 2b, c mutually orthogonal (a = [1,1,1,1,2],
// b = [2,−1,−1,2,−1], c = [−1,−5,−5,−1,6]), so S = 0.001·G·Gᵀ = U0·diag(0.072, 0.044, 0.088)·U0ᵀ and
// eigh gives U = U0's columns reordered (88, 72, 44), each with its largest entry positive (as in U0).
// G̃ = Uᵀ·G = X's rows (reordered), no zero entry (|G̃| ≥ 1). Step 1: M = 0.1·G, M̃ = 0.1·G̃,
// V = 0.001·G̃², M̂ = G̃, √V̂ = |G̃|, N = G̃/(|G̃| + 1e-8) = sign(G̃) (to 1e-8). Δ = U·N = U0·sign(X),
// independent of the order:
//   sign(a) = [1,1,1,1,1], sign(b) = [1,−1,−1,1,−1], sign(c) = [−1,−1,−1,−1,1]
//   row 0 = (sa + 2sb + 2sc)/3 = ([1,1,1,1,1] + [2,−2,−2,2,−2] + [−2,−2,−2,−2,2])/3 = [1,−3,−3,1,1]/3
//   row 1 = (2sa + sb − 2sc)/3 = ([2,2,2,2,2] + [1,−1,−1,1,−1] + [2,2,2,2,−2])/3 = [5,3,3,5,−1]/3
//   row 2 = (2sa − 2sb + sc)/3 = ([2,2,2,2,2] + [−2,2,2,−2,2] + [−1,−1,−1,−1,1])/3 = [−1,3,3,−1,5]/3
// θ₁ = θ₀ − η·Δ. Step 2 with the same G (no refresh, K = 10): S = (0.999·0.001 + 0.001)·G·Gᵀ has the
// same eigenvectors but U is not recomputed anyway; M = 0.19·G → M̂ = G; V = 0.001999·G̃² → √V̂ = |G̃|;
// again N = sign(G̃): θ₂ = θ₀ − 2η·Δ.
const DELTA = [[1, -3, -3, 1, 1], [5, 3, 3, 5, -1], [-1, 3, 3, -1, 5]].map((r) => r.map((x) => x / 3));

describe.each(BACKENDS)('eigenadam on %s', (backend) => {
  it('hand-derived steps on 3×5 and its transpose 5×3', async () => {
    const lr = 0.01;
    const theta0 = Array.from(randomF32(15, 3));
    const g = G3x5.flat();
    const gT = transposeRows(G3x5).flat();
    const theta0T = transposeRows([0, 1, 2].map((i) => theta0.slice(5 * i, 5 * i + 5))).flat();
    const after = await runSteps('eigenadam', { lr }, { a: { shape: [3, 5], data: theta0 }, b: { shape: [5, 3], data: theta0T } },
      [{ a: g, b: gT }, { a: g, b: gT }], backend);
    const d = DELTA.flat();
    const dT = transposeRows(DELTA).flat();
    // f32 rounding of G (entries /3) perturbs G̃ by ~1e-7 relative; N stays sign(G̃) to ~1e-8.
    expectClose(after[0].a, theta0.map((x, i) => x - lr * d[i]), 2e-6, 'step 1 (3×5)');
    expectClose(after[0].b, theta0T.map((x, i) => x - lr * dT[i]), 2e-6, 'step 1 (5×3)');
    expectClose(after[1].a, theta0.map((x, i) => x - 2 * lr * d[i]), 3e-6, 'step 2 (3×5)');
    expectClose(after[1].b, theta0T.map((x, i) => x - 2 * lr * dT[i]), 3e-6, 'step 2 (5×3)');
  });

  it('with the basis frozen to the identity it equals AdamW (20 steps, f32 rounding)', async () => {
    const shapes = [[7, 11], [11, 7]];
    const params = Object.fromEntries(shapes.map((s, i) => [`w${i}`, { shape: s, data: randomF32(s[0] * s[1], 70 + i) }]));
    const opts = { lr: 0.01, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 };
    const a = await make('eigenadam', { ...opts, betas: [0.9, 0.99, 0.5], identityBasis: true }, params, backend);
    const b = await make('adamw', opts, params, backend);
    for (let t = 0; t < 20; t++) {
      const g = Object.fromEntries(shapes.map((s, i) => [`w${i}`, randomF32(s[0] * s[1], 300 + 10 * t + i)]));
      a.setGrads(g);
      b.setGrads(g);
      a.step();
      b.step();
    }
    // AdamW rounds f32(−η/bc1·m)/denom where Eigen-Adam rounds (m/bc1)/denom then ·(−η): an ulp of the
    // update per step; over 20 steps of size ≤ 0.01 that is < 1e-7 absolute on |θ| ≲ 3.
    for (const n of a.paramNames) expectClose(a.param(n), b.param(n), 2e-6, n);
    for (const n of a.paramNames) expectClose(a.state(n).expAvg, b.state(n).expAvg, 1e-7, `${n} m`);
  });

  it('converges on least squares (8×12 and 12×8): loss below 2% of the initial in 150 steps', async () => {
    for (const [m, n] of [[8, 12], [12, 8]]) {
      const [l0, l1] = await trainLeastSquares('eigenadam', { lr: 0.02, updateInterval: 5 }, m, n, 150, backend);
      expect(l1, `${m}×${n}: ${l0} → ${l1}`).toBeLessThan(0.02 * l0);
    }
  });
});

describe('eigenadam', () => {
  it('power-iteration refresh re-sorts the basis by estimated eigenvalue and permutes V with it (SOAP)', async () => {
    // betas (0.9, 0.999, 0): S = G·Gᵀ of the current gradient; K = 2 (refresh at t = 1, 3).
    // t = 1: G₁ = [[2,0,0],[0,1,0]], S = diag(4, 1), eigh → U = I; G̃ = G₁, V = 0.001·G₁² = [[0.004,0,0],[0,0.001,0]].
    // t = 2: G₂ = 0: V ← 0.999·V.
    // t = 3: G₃ = [[0,0,1],[0,3,0]], S = diag(1, 9); diag(UᵀSU) = (1, 9) → order (1, 0): U's columns and
    //   V's rows swap, V = 0.999·[[0,0.001,0],[0.004,0,0]]; U ← orth(S·U·Π) = orth([[0,1],[9,0]]) = ±swap,
    //   G̃₃ = Uᵀ·G₃ = ±[[0,3,0],[0,0,1]], V ← 0.999·V + 0.001·G̃₃²
    //   = [[0, 0.999²·0.001 + 0.009, 0], [0.999²·0.004, 0, 0.001]].
    const opt = await make('eigenadam', { betas: [0.9, 0.999, 0], updateInterval: 2 }, { w: { shape: [2, 3] } }, 'ref');
    for (const g of [[2, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 3, 0]]) {
      opt.setGrads({ w: g });
      opt.step();
    }
    const d2 = 0.999 ** 2;
    expectClose(opt.state('w').expAvgSq, [0, d2 * 0.001 + 0.009, 0, d2 * 0.004, 0, 0.001], 1e-9, 'V');
    expectClose(Array.from(opt.state('w').basis).map(Math.abs), [0, 1, 1, 0], 1e-7, '|U|');
  });

  it('stateBytes = 4·(2mn + 2·min(m,n)²) on the LLaMA-60M matrices and on a live optimizer', async () => {
    let total = 0, formula = 0;
    for (const [m, n] of llama60mShapes()) {
      total += slotBytes('eigenadam', [m, n]);
      formula += 4 * (2 * m * n + 2 * Math.min(m, n) ** 2);
    }
    expect(total).toBe(formula);
    // 8 layers × (4 × 4·(2·512² + 2·512²) + 3 × 4·(2·1376·512 + 2·512²)) = 8·(16,777,216 + 23,199,744)
    expect(total).toBe(319_815_680);
    const opt = await make('eigenadam', {}, { a: { shape: [3, 5] }, b: { shape: [5, 3] } }, 'ref');
    expect(opt.stateBytes()).toBe(2 * 4 * (2 * 15 + 2 * 9));
  });

  it('ref and wasm agree over 20 steps (relative 1e-4)', async () => {
    const gap = await refWasmGap('eigenadam', { lr: 0.01, updateInterval: 3 }, [[9, 13], [13, 9], [1, 5]], 20);
    expect(gap).toBeLessThan(1e-4);
  });

  it('replay runs it', async () => {
    await replayRuns('eigenadam', { lr: 0.01 });
  });

  it('rejects bad options', async () => {
    await expect(make('eigenadam', { betas: [0.9, 0.999] }, { a: { shape: [3, 5] } }, 'ref')).rejects.toThrow(/betas/);
    await expect(make('eigenadam', { updateInterval: 0 }, { a: { shape: [3, 5] } }, 'ref')).rejects.toThrow(/updateInterval/);
  });
});
