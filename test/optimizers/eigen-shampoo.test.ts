/**
 * Shampoo: hand-derived steps on 3×5 / 5×3, the first step ≈ −η·polar(G) (K = 1), the state formula,
 * convergence, ref/wasm agreement and replay.
 */
import { describe, expect, it } from 'vitest';
import { randomF32 } from '../helpers/rng.js';
import { BACKENDS, expectClose, llama60mShapes, make, polar, refWasmGap, replayRuns, runSteps, slotBytes, tr, trainLeastSquares } from './eigen-common.js';

describe.each(BACKENDS)('shampoo on %s', (backend) => {
  it('hand-derived steps on 3×5 and its transpose 5×3 (diagonal G, K = 1)', async () => {
    // G = [[3,0,0,0,0],[0,2,0,0,0],[0,0,1,0,0]], ε = 1e-4. Step 1: L = ε·I + G·Gᵀ = diag(9, 4, 1) + ε,
    // R = diag(9, 4, 1, 0, 0) + ε: diagonal, so eigh's V = I and L^{-1/4}·G·R^{-1/4} is diagonal with
    // entries g_ii·(g_ii² + ε)^{-1/2}: 3/√9.0001, 2/√4.0001, 1/√1.0001 = 0.9999944, 0.9999875, 0.99995.
    // Step 2 (same G, refreshed since K = 1): L = ε·I + 2·G·Gᵀ → 3/√18.0001, 2/√8.0001, 1/√2.0001
    //   = 0.7071058, 0.7071046, 0.7070891 (the sum, not an EMA, halves the square root's growth).
    const lr = 0.01, eps = 1e-4;
    const g = [3, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0];
    const theta0 = Array.from(randomF32(15, 6));
    const after = await runSteps('shampoo', { lr, eps, updateInterval: 1 },
      { a: { shape: [3, 5], data: theta0 }, b: { shape: [5, 3], data: tr(theta0, 3, 5) } },
      [0, 1].map(() => ({ a: g, b: tr(g, 3, 5) })), backend);
    const d1 = g.map((x) => (x === 0 ? 0 : x / Math.sqrt(x * x + eps)));
    const d2 = g.map((x) => (x === 0 ? 0 : x / Math.sqrt(2 * x * x + eps)));
    const th1 = theta0.map((x, i) => x - lr * d1[i]);
    const th2 = th1.map((x, i) => x - lr * d2[i]);
    expectClose(after[0].a, th1, 2e-7, 'step 1');
    expectClose(after[1].a, th2, 3e-7, 'step 2');
    expectClose(after[1].b, tr(th2, 3, 5), 3e-7, 'step 2 (5×3)');
  });

  it('first step (K = 1, ε 1e-6) ≈ −η·U·Vᵀ, the polar factor of G (f64), on random 6×9 and 9×6', async () => {
    // L^{-1/4}·G·R^{-1/4} = U·diag(σ/√(σ² + ε))·Vᵀ: relative deviation ε/(2σ²) ≲ 1e-5 for σ ≳ 0.3, plus
    // the null space of the larger Gram (eigenvalue ε, where G has no component).
    for (const [m, n] of [[6, 9], [9, 6]]) {
      const g = randomF32(m * n, 31);
      const opt = await make('shampoo', { lr: 1, eps: 1e-6, updateInterval: 1 }, { w: { shape: [m, n] } }, backend);
      opt.setGrads({ w: g });
      opt.step();
      expectClose(opt.param('w'), polar(g, m, n).map((x) => -x), 1e-4, `${m}×${n}`);
    }
  });

  it('converges on least squares (8×12 and 12×8): loss below 2% of the initial in 150 steps', async () => {
    // The statistics are running sums, so the step shrinks like 1/√t (AdaGrad-like): lr 0.2 (measured
    // final/initial 3e-7 and 2e-5; lr 0.5 diverges).
    for (const [m, n] of [[8, 12], [12, 8]]) {
      const [l0, l1] = await trainLeastSquares('shampoo', { lr: 0.2, updateInterval: 5 }, m, n, 150, backend);
      expect(l1, `${m}×${n}: ${l0} → ${l1}`).toBeLessThan(0.02 * l0);
    }
  });
});

describe('shampoo', () => {
  it('stateBytes = 4·2·(m² + n²) on the LLaMA-60M matrices and on a live optimizer', async () => {
    let total = 0, formula = 0;
    for (const [m, n] of llama60mShapes()) {
      total += slotBytes('shampoo', [m, n]);
      formula += 8 * (m * m + n * n);
    }
    expect(total).toBe(formula);
    // 8 · (4 · 8·2·512² + 3 · 8·(1376² + 512²)) = 8 · (16,777,216 + 51,732,480)
    expect(total).toBe(548_077_568);
    const opt = await make('shampoo', {}, { a: { shape: [3, 5] }, b: { shape: [5, 3] } }, 'ref');
    expect(opt.stateBytes()).toBe(2 * 8 * (9 + 25));
  });

  it('ref and wasm agree over 20 steps (relative 1e-4)', async () => {
    expect(await refWasmGap('shampoo', { lr: 0.01, updateInterval: 3 }, [[9, 13], [13, 9], [1, 5]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs it', async () => {
    await replayRuns('shampoo', { lr: 0.01 });
  });

  it('rejects eps = 0', async () => {
    await expect(make('shampoo', { eps: 0 }, { a: { shape: [3, 5] } }, 'ref')).rejects.toThrow(/eps/);
  });
});
