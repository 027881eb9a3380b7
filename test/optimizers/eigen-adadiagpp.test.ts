/**
 * AdaDiag++ (two-sided): hand-derived first step on 3×5 / 5×3, the first-step relation −η·U·Vᵀ (polar
 * factor, f64 reference), the state formula, convergence, ref/wasm agreement and replay.
 */
import { describe, expect, it } from 'vitest';
import { randomF32 } from '../helpers/rng.js';
import {
  BACKENDS, G3x5, ROWS_A, ROWS_B, ROWS_C, U0, expectClose, llama60mShapes, make, matmulRows, mm, polar, refWasmGap, replayRuns,
  runSteps, slotBytes, tr, trainLeastSquares, transposeRows,
} from './eigen-common.js';

// Hand derivation (lr 0.01, eps 1e-8): G = U0·X, X = [3a; 2b; c] with orthogonal rows, so
// G = U0·Σ·W with Σ = diag(3√8, 2√11, √88) and W = [a/√8; b/√11; c/√88] (orthonormal rows). At t = 1 the
// full SVD gives P (3×3) and Q (5×5), G̃ = Pᵀ·G·Q = [Σ | 0] (set exactly), M̂ = G̃, √V̂ = |G̃|, so
// N = [I | 0] (σ/(σ + 1e-8) = 1 − O(1e-9)) and Δ = P·N·Qᵀ = U_s·V_sᵀ = U0·W, the polar factor of G:
//   θ₁ = θ₀ − η·U0·W  (signs and order of the singular pairs cancel in U_s·V_sᵀ).
// For Gᵀ (5×3): Δ = (U0·W)ᵀ.
const W = [ROWS_A.map((x) => x / Math.sqrt(8)), ROWS_B.map((x) => x / Math.sqrt(11)), ROWS_C.map((x) => x / Math.sqrt(88))];
const DELTA = matmulRows(U0, W);

describe.each(BACKENDS)('adadiagpp on %s', (backend) => {
  it('hand-derived first step on 3×5 and its transpose 5×3', async () => {
    const lr = 0.01;
    const theta0 = Array.from(randomF32(15, 3));
    const theta0T = tr(theta0, 3, 5);
    const after = await runSteps('adadiagpp', { lr }, { a: { shape: [3, 5], data: theta0 }, b: { shape: [5, 3], data: theta0T } },
      [{ a: G3x5.flat(), b: transposeRows(G3x5).flat() }], backend);
    const d = DELTA.flat(), dT = transposeRows(DELTA).flat();
    expectClose(after[0].a, theta0.map((x, i) => x - lr * d[i]), 2e-6, '3×5');
    expectClose(after[0].b, theta0T.map((x, i) => x - lr * dT[i]), 2e-6, '5×3');
  });

  it('first step = −η·U_s·V_sᵀ (f64 polar factor, eps 1e-8) on random 6×9 and 9×6, relative 1e-5', async () => {
    const lr = 1;
    for (const [m, n] of [[6, 9], [9, 6]]) {
      const g = randomF32(m * n, 21);
      const opt = await make('adadiagpp', { lr, eps: 1e-8 }, { w: { shape: [m, n] } }, backend);
      opt.setGrads({ w: g });
      opt.step();
      const ref = polar(g, m, n).map((x) => -lr * x);
      expectClose(opt.param('w'), ref, 1e-5, `${m}×${n}`);
      // Both bases are orthogonal (full SVD).
      for (const [name, k] of [['basisL', m], ['basisR', n]] as const) {
        const b = Array.from(opt.state('w')[name]);
        expectClose(mm(tr(b, k, k), b, k, k, k), Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)), 1e-6, name);
      }
    }
  });

  it('converges on least squares (8×12 and 12×8): loss below 2% of the initial in 150 steps', async () => {
    for (const [m, n] of [[8, 12], [12, 8]]) {
      for (const momentum of ['keep', 'rotate']) {
        const [l0, l1] = await trainLeastSquares('adadiagpp', { lr: 0.02, updateInterval: 10, momentum }, m, n, 150, backend);
        expect(l1, `${m}×${n} ${momentum}: ${l0} → ${l1}`).toBeLessThan(0.02 * l0);
      }
    }
  });
});

describe('adadiagpp', () => {
  it('stateBytes = 4·(2mn + m² + n²) on the LLaMA-60M matrices and on a live optimizer', async () => {
    let total = 0, formula = 0;
    for (const [m, n] of llama60mShapes()) {
      total += slotBytes('adadiagpp', [m, n]);
      formula += 4 * (2 * m * n + m * m + n * n);
    }
    expect(total).toBe(formula);
    // 8 · (4 · 4·4·512² + 3 · 4·(2·1376·512 + 1376² + 512²)) = 8 · (16,777,216 + 42,774,528)
    expect(total).toBe(476_413_952);
    const opt = await make('adadiagpp', {}, { a: { shape: [3, 5] }, b: { shape: [5, 3] } }, 'ref');
    expect(opt.stateBytes()).toBe(2 * 4 * (2 * 15 + 9 + 25));
  });

  it('ref and wasm agree over 20 steps (relative 1e-4)', async () => {
    expect(await refWasmGap('adadiagpp', { lr: 0.01, updateInterval: 3 }, [[9, 13], [13, 9], [1, 5]], 20)).toBeLessThan(1e-4);
    expect(await refWasmGap('adadiagpp', { lr: 0.01, updateInterval: 3, momentum: 'rotate' }, [[9, 13]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs it', async () => {
    await replayRuns('adadiagpp', { lr: 0.01 });
  });
});
