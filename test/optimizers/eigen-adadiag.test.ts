/**
 * AdaDiag (one-sided): hand-derived steps on 3×5 / 5×3, the first-step relation −η·P·sign(PᵀG), the
 * moment options, the state formula, convergence, ref/wasm agreement and replay.
 */
import { describe, expect, it } from 'vitest';
import { randomF32 } from '../helpers/rng.js';
import {
  BACKENDS, G3x5, expectClose, llama60mShapes, make, mm, refWasmGap, replayRuns, runSteps, slotBytes, tr, trainLeastSquares, transposeRows,
} from './eigen-common.js';

// Hand derivation (lr 0.01, betas (0.9, 0.999), eps 1e-8): G = U0·X as in eigen-common (X's rows 3a, 2b,
// c orthogonal, no zero entry), so G = U0·Σ·W with W = X's normalized rows: the left singular vectors
// are U0's columns (in the order σ² = 88, 72, 44, signs by svd's convention), P = U (3×3) and
// G̃ = Pᵀ·G = X's rows (reordered, possibly negated). Step 1: M̂ = G̃, √V̂ = |G̃|, N = sign(G̃) (to 1e-8);
// Δ = P·sign(Pᵀ·G) is invariant to the order and sign of P's columns, = U0·sign(X):
//   row 0 = (sa + 2sb + 2sc)/3 = [1,−3,−3,1,1]/3;  row 1 = (2sa + sb − 2sc)/3 = [5,3,3,5,−1]/3;
//   row 2 = (2sa − 2sb + sc)/3 = [−1,3,3,−1,5]/3   (sa = sign(a) = [1,1,1,1,1], sb = [1,−1,−1,1,−1],
//   sc = [−1,−1,−1,−1,1]).
// Step 2, same G, no refresh (T = 200): G̃ = Pᵀ·G again, M = 0.19·G̃ → M̂ = G̃, V = 0.001999·G̃² → √V̂ = |G̃|,
// N = sign(G̃): θ₂ = θ₀ − 2·η·Δ. For 5×3 (Gᵀ) the basis is the right singular basis of Gᵀ: Δ is transposed.
const DELTA = [[1, -3, -3, 1, 1], [5, 3, 3, 5, -1], [-1, 3, 3, -1, 5]].map((r) => r.map((x) => x / 3));

describe.each(BACKENDS)('adadiag on %s', (backend) => {
  it('hand-derived steps on 3×5 and its transpose 5×3', async () => {
    const lr = 0.01;
    const theta0 = Array.from(randomF32(15, 3));
    const theta0T = tr(theta0, 3, 5);
    const g = G3x5.flat(), gT = transposeRows(G3x5).flat();
    const after = await runSteps('adadiag', { lr }, { a: { shape: [3, 5], data: theta0 }, b: { shape: [5, 3], data: theta0T } },
      [{ a: g, b: gT }, { a: g, b: gT }], backend);
    const d = DELTA.flat(), dT = transposeRows(DELTA).flat();
    expectClose(after[0].a, theta0.map((x, i) => x - lr * d[i]), 2e-6, 'step 1 (3×5)');
    expectClose(after[0].b, theta0T.map((x, i) => x - lr * dT[i]), 2e-6, 'step 1 (5×3)');
    expectClose(after[1].a, theta0.map((x, i) => x - 2 * lr * d[i]), 3e-6, 'step 2 (3×5)');
    expectClose(after[1].b, theta0T.map((x, i) => x - 2 * lr * dT[i]), 3e-6, 'step 2 (5×3)');
  });

  it('first step = −η·P·sign(Pᵀ·G) on random 6×9 and 9×6 (P read from the state; f64 reference)', async () => {
    const lr = 0.05;
    for (const [m, n] of [[6, 9], [9, 6]]) {
      const g = randomF32(m * n, 11);
      const opt = await make('adadiag', { lr }, { w: { shape: [m, n] } }, backend);
      opt.setGrads({ w: g });
      opt.step();
      const basis = Array.from(opt.state('w').basis);
      let delta: number[];
      if (m <= n) {
        const gt = mm(tr(basis, m, m), g, m, m, n); // Pᵀ·G, P = basis (vectors in columns)
        delta = mm(basis, gt.map(Math.sign), m, m, n);
      } else {
        const pMat = tr(basis, n, n); // stored as Vᵀ: P = V
        const gt = mm(g, pMat, m, n, n);
        delta = mm(gt.map(Math.sign), basis, m, n, n); // sign(G·P)·Pᵀ
      }
      // |G̃| entries are O(0.01–3); ε/|G̃| ≲ 1e-6 and f32 rounding ~1e-7·‖P‖ per entry.
      expectClose(opt.param('w'), delta.map((x) => -lr * x), 5e-7 * 4, `${m}×${n}`);
      // P is orthogonal.
      const ptp = mm(tr(basis, Math.min(m, n), Math.min(m, n)), basis, Math.min(m, n), Math.min(m, n), Math.min(m, n));
      const d = Math.min(m, n);
      expectClose(ptp, Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)), 1e-6, 'PᵀP');
    }
  });

  it("momentum 'rotate' equals 'keep' until the first re-refresh, then rotates M into the new basis", async () => {
    const m = 5, n = 8, T = 3;
    const params = { w: { shape: [m, n], data: randomF32(m * n, 5) } };
    const keep = await make('adadiag', { lr: 0.01, updateInterval: T }, params, backend);
    const rot = await make('adadiag', { lr: 0.01, updateInterval: T, momentum: 'rotate' }, params, backend);
    let mOld: number[] = [], pOld: number[] = [];
    for (let t = 1; t <= T + 1; t++) {
      const g = randomF32(m * n, 900 + t);
      if (t === T + 1) { mOld = Array.from(rot.state('w').expAvg); pOld = Array.from(rot.state('w').basis); }
      keep.setGrads({ w: g }); rot.setGrads({ w: g });
      keep.step(); rot.step();
      if (t <= T) expectClose(rot.param('w'), keep.param('w'), 0, `step ${t}`);
    }
    // At t = T + 1: M_rot = 0.9·(P_newᵀ·P_old·M_old) + 0.1·G̃ while M_keep = 0.9·M_old + 0.1·G̃.
    const pNew = Array.from(rot.state('w').basis);
    const gtNew = Array.from(keep.state('w').expAvg).map((x, i) => (x - 0.9 * mOld[i]) / 0.1);
    const expected = mm(mm(tr(pNew, m, m), pOld, m, m, m), mOld, m, m, n).map((x, i) => 0.9 * x + 0.1 * gtNew[i]);
    expectClose(rot.state('w').expAvg, expected, 1e-5, 'rotated M');
  });

  it('converges on least squares (8×12 and 12×8): loss below 2% of the initial in 150 steps', async () => {
    for (const [m, n] of [[8, 12], [12, 8]]) {
      for (const momentum of ['keep', 'rotate']) {
        const [l0, l1] = await trainLeastSquares('adadiag', { lr: 0.02, updateInterval: 10, momentum }, m, n, 150, backend);
        expect(l1, `${m}×${n} ${momentum}: ${l0} → ${l1}`).toBeLessThan(0.02 * l0);
      }
    }
  });
});

describe('adadiag', () => {
  it('stateBytes = 4·(2mn + min(m,n)²) on the LLaMA-60M matrices and on a live optimizer', async () => {
    let total = 0, formula = 0;
    for (const [m, n] of llama60mShapes()) {
      total += slotBytes('adadiag', [m, n]);
      formula += 4 * (2 * m * n + Math.min(m, n) ** 2);
    }
    expect(total).toBe(formula);
    // 8 · (4 · 4·3·512² + 3 · 4·(2·1376·512 + 512²)) = 8 · (12,582,912 + 20,054,016)
    expect(total).toBe(261_095_424);
    const opt = await make('adadiag', {}, { a: { shape: [3, 5] }, b: { shape: [5, 3] } }, 'ref');
    expect(opt.stateBytes()).toBe(2 * 4 * (2 * 15 + 9));
  });

  it('ref and wasm agree over 20 steps (relative 1e-4)', async () => {
    expect(await refWasmGap('adadiag', { lr: 0.01, updateInterval: 3 }, [[9, 13], [13, 9], [1, 5]], 20)).toBeLessThan(1e-4);
    expect(await refWasmGap('adadiag', { lr: 0.01, updateInterval: 3, momentum: 'rotate' }, [[9, 13], [13, 9]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs it', async () => {
    await replayRuns('adadiag', { lr: 0.01 });
  });

  it('rejects bad options', async () => {
    await expect(make('adadiag', { momentum: 'flip' }, { a: { shape: [3, 5] } }, 'ref')).rejects.toThrow(/momentum/);
  });
});
