/**
 * AdaDiag with Adafactor (one-sided): hand-derived first step on 3×5 / 5×3, the state formula,
 * convergence, ref/wasm agreement and replay.
 */
import { describe, expect, it } from 'vitest';
import { randomF32 } from '../helpers/rng.js';
import {
  BACKENDS, G3x5, U0, X3x5, expectClose, llama60mShapes, make, matmulRows, refWasmGap, replayRuns, runSteps, slotBytes, tr,
  trainLeastSquares, transposeRows,
} from './eigen-common.js';

// Hand derivation (lr 0.01, d 1, ε1 = f32 eps, t = 1 so the EMA weight t^−0.8 = 1): G = U0·X with X's
// rows x₀ = 3a, x₁ = 2b, x₂ = c orthogonal, so P = U0's columns (up to order and sign) and G̃ = X's rows
// (reordered and signed the same way; U below transforms along, so Δ = P·U = U0·U(X)).
//   R_i = ‖x_i‖²/5 = 72/5, 44/5, 88/5 = 14.4, 8.8, 17.6;  mean(R) = 40.8/3 = 13.6
//   C_j = (9a_j² + 4b_j² + c_j²)/3 = [26, 38, 38, 26, 76]/3 (a = [1,1,1,1,2], b = [2,−1,−1,2,−1], c = [−1,−5,−5,−1,6])
//   V̂_ij = R_i·C_j/13.6;  U_ij = X_ij/√V̂_ij;  RMS(U) = √(Σ U_ij²/15);  U ← U/max(1, RMS(U))
//   θ₁ = θ₀ − 0.01·U0·U.
function expectedDelta(): number[][] {
  const r = X3x5.map((row) => row.reduce((s, x) => s + x * x, 0) / 5);
  const rMean = (r[0] + r[1] + r[2]) / 3;
  const c = [0, 1, 2, 3, 4].map((j) => X3x5.reduce((s, row) => s + row[j] ** 2, 0) / 3);
  const u = X3x5.map((row, i) => row.map((x, j) => x / Math.sqrt((r[i] * c[j]) / rMean)));
  const rms = Math.sqrt(u.flat().reduce((s, x) => s + x * x, 0) / 15);
  const clip = Math.max(1, rms);
  return matmulRows(U0, u.map((row) => row.map((x) => x / clip)));
}

describe.each(BACKENDS)('adadiagAdafactor on %s', (backend) => {
  it('hand-derived first step on 3×5 and its transpose 5×3', async () => {
    const lr = 0.01;
    const theta0 = Array.from(randomF32(15, 3));
    const after = await runSteps('adadiagAdafactor', { lr }, { a: { shape: [3, 5], data: theta0 }, b: { shape: [5, 3], data: tr(theta0, 3, 5) } },
      [{ a: G3x5.flat(), b: transposeRows(G3x5).flat() }], backend);
    const d = expectedDelta();
    expectClose(after[0].a, theta0.map((x, i) => x - lr * d.flat()[i]), 2e-6, '3×5');
    expectClose(after[0].b, tr(theta0, 3, 5).map((x, i) => x - lr * transposeRows(d).flat()[i]), 2e-6, '5×3');
  });

  it('converges on least squares (8×12 and 12×8): loss below 2% of the initial in 150 steps', async () => {
    for (const [m, n] of [[8, 12], [12, 8]]) {
      const [l0, l1] = await trainLeastSquares('adadiagAdafactor', { lr: 0.02, updateInterval: 10 }, m, n, 150, backend);
      expect(l1, `${m}×${n}: ${l0} → ${l1}`).toBeLessThan(0.02 * l0);
    }
  });
});

describe('adadiagAdafactor', () => {
  it('stateBytes = 4·(m + n + min(m,n)²) on the LLaMA-60M matrices and on a live optimizer', async () => {
    let total = 0, formula = 0;
    for (const [m, n] of llama60mShapes()) {
      total += slotBytes('adadiagAdafactor', [m, n]);
      formula += 4 * (m + n + Math.min(m, n) ** 2);
    }
    expect(total).toBe(formula);
    // 8 · (4 · 4·(1024 + 512²) + 3 · 4·(1888 + 512²)) = 8 · (4,210,688 + 3,168,384)
    expect(total).toBe(59_032_576);
    const opt = await make('adadiagAdafactor', {}, { a: { shape: [3, 5] }, b: { shape: [5, 3] } }, 'ref');
    expect(opt.stateBytes()).toBe(2 * 4 * (8 + 9));
  });

  it('ref and wasm agree over 20 steps (relative 1e-4)', async () => {
    expect(await refWasmGap('adadiagAdafactor', { lr: 0.01, updateInterval: 3 }, [[9, 13], [13, 9], [1, 5]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs it', async () => {
    await replayRuns('adadiagAdafactor', { lr: 0.01 });
  });
});
