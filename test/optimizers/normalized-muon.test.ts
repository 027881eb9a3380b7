/**
 * Muon (src/optimizers/normalized/muon.ts): singular values of the update in the published band and
 * equal to an f64 quintic iteration, hand-derived steps with momentum and Nesterov, the shape factor,
 * stateBytes, convergence, ref ≈ wasm, replay.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { matmul, singularValues, transpose } from '../helpers/dense.js';
import { randomF32 } from '../helpers/rng.js';
import { BACKENDS, llama60mShapes, refWasmGap, replayRuns, trainMlp } from './eigen-common.js';
import { maxDiff, trainLsq, updateOf } from './normalized-common.js';

/** Muon's quintic Newton–Schulz in f64 (X ← G/(‖G‖_F + 1e-7), 5 times X ← a·X + (b·A + c·A²)·X, A = X·Xᵀ). */
function ns5F64(g: ArrayLike<number>, m: number, n: number): Float64Array {
  const wide = m <= n;
  const [r, c] = wide ? [m, n] : [n, m];
  let x = wide ? Float64Array.from(g) : transpose(g, m, n);
  const norm = Math.hypot(...x) + 1e-7;
  x = x.map((v) => v / norm);
  for (let s = 0; s < 5; s++) {
    const a = matmul(x, transpose(x, r, c), r, c, r);
    const b = matmul(a, a, r, r, r).map((v, i) => 2.0315 * v - 4.775 * a[i]);
    const bx = matmul(b, x, r, r, c);
    x = x.map((v, i) => 3.4445 * v + bx[i]);
  }
  return wide ? x : transpose(x, r, c);
}

describe('muon: the orthogonalized update', () => {
  it.each([[32, 48], [48, 32], [20, 100]])('random %i×%i: singular values of Δ/s(m, n) in the published band (0.5, 1.5)', async (m, n) => {
    const g = randomF32(m * n, m * n, 0.01);
    const s = Math.sqrt(Math.max(1, m / n));
    for (const backend of BACKENDS) {
      const d = (await updateOf('muon', g, m, n, {}, backend)).map((x) => x / s);
      const sv = singularValues(d, m, n);
      // muon.py: "S' is diagonal with S'_ii ~ Uniform(0.5, 1.5)"
      for (const x of sv) {
        expect(x).toBeGreaterThan(0.5);
        expect(x).toBeLessThan(1.5);
      }
      // the quintic does not converge to U·Vᵀ: the spread is real
      expect(sv[0] - sv[sv.length - 1]).toBeGreaterThan(0.05);
      // and it is the quintic: equal to the f64 iteration within f32 rounding (first step: U ∝ G)
      expect(maxDiff(d, ns5F64(g, m, n))).toBeLessThan(2e-4);
    }
  });

  it('shape factor: aspect max(1, m/n)^½ (default) or rms 0.2·√max(m, n)', async () => {
    const g = randomF32(15, 3);
    for (const [m, n] of [[3, 5], [5, 3]]) {
      const a = await updateOf('muon', g, m, n);
      const r = await updateOf('muon', g, m, n, { scaling: 'rms' });
      const want = (0.2 * Math.sqrt(5)) / Math.sqrt(Math.max(1, m / n));
      for (let k = 0; k < 15; k++) expect(r[k]).toBeCloseTo(a[k] * want, 6);
    }
  });
});

describe('muon: hand-derived steps', () => {
  // Rows r1 = [1, 1, 1, 1, 0], r2 = [1, −1, 1, −1, 0], r3 = [1, 1, −1, −1, 0] are orthogonal with norm 2, so
  // G = [r1; r2; r3] = 2·Q with Q·Qᵀ = I: singular values 2, 2, 2, ‖G‖_F = 2√3 and X₀ = G/‖G‖_F = Q/√3.
  // On each singular value the quintic is φ(x) = 3.4445x − 4.775x³ + 2.0315x⁵:
  //   1/√3 = 0.577350 → 1.200055 → 0.937434 → 0.766031 → 1.028042 → 0.685785 = φ⁵,
  // so NS₅(G) = 0.685785·Q for any positive multiple of G (and −0.685785·Q for a negative one).
  const PHI5 = 0.6857849207555402;
  const Q = [1, 1, 1, 1, 0, 1, -1, 1, -1, 0, 1, 1, -1, -1, 0].map((x) => x / 2);
  const tr35 = (a: number[]) => Array.from(transpose(a, 3, 5));

  it.each([[3, 5], [5, 3]])('%i×%i, two steps: G then −G/2, with and without Nesterov (lr 0.02, μ 0.95)', async (m, n) => {
    const q = m === 3 ? Q : tr35(Q);
    const s = Math.sqrt(Math.max(1, m / n)); // 1 for 3×5, √(5/3) for 5×3
    for (const nesterov of [true, false]) {
      const opt = await createOptimizer({ optimizer: 'muon', options: { nesterov }, backend: 'ref', params: { w: { shape: [m, n] } } });
      // Step 1, G₁ = 2Q: M = lerp(0, G₁, 0.05) = 0.1Q; U = lerp(G₁, M, 0.95) = 2Q − 0.95·1.9Q = 0.195Q
      // (Nesterov) or M = 0.1Q: both ∝ +Q, so W₁ = −0.02·s·φ⁵·Q.
      opt.setGrads({ w: q.map((x) => 2 * x) });
      opt.step();
      const w1 = Array.from(opt.param('w'));
      w1.forEach((x, k) => expect(x).toBeCloseTo(-0.02 * s * PHI5 * q[k], 6));
      expect(opt.state('w').momentum[0]).toBeCloseTo(0.1 * q[0], 7);
      // Step 2, G₂ = −Q: M = lerp(0.1Q, −Q, 0.05) = 0.1Q − 0.055Q = 0.045Q (> 0);
      // Nesterov: U = lerp(−Q, 0.045Q, 0.95) = −Q + 0.95·1.045Q = −0.00725Q (< 0) → W₂ = W₁ + 0.02·s·φ⁵·Q = 0;
      // plain: U = M ∝ +Q → W₂ = 2·W₁.
      opt.setGrads({ w: q.map((x) => -x) });
      opt.step();
      opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(nesterov ? 0 : 2 * w1[k], 6));
      expect(opt.state('w').momentum[0]).toBeCloseTo(0.045 * q[0], 7);
    }
  });

  it('weight decay is decoupled: W ← W·(1 − lr·λ) − lr·s·NS₅(U)', async () => {
    const opt = await createOptimizer({
      optimizer: 'muon', options: { lr: 0.1, weightDecay: 0.5 }, backend: 'wasm',
      params: { w: { shape: [3, 5], data: Array(15).fill(1) } },
    });
    opt.setGrads({ w: Q.map((x) => 2 * x) });
    opt.step();
    // 1·(1 − 0.05) − 0.1·φ⁵·Q
    opt.param('w').forEach((x, k) => expect(x).toBeCloseTo(0.95 - 0.1 * PHI5 * Q[k], 6));
  });
});

describe('muon: state', () => {
  it('stateBytes = 4·m·n for every LLaMA-60M matrix (the momentum); vectors go to AdamW', async () => {
    const params: Record<string, { shape: number[] }> = Object.fromEntries(llama60mShapes().map((s, i) => [`layers.${i}.weight`, { shape: s }]));
    params['norm.weight'] = { shape: [512] };
    const opt = await createOptimizer({ optimizer: 'muon', backend: 'ref', params });
    let total = 8 * 512;
    for (const [name, { shape }] of Object.entries(params)) {
      if (shape.length === 2) {
        expect(opt.stateBytes(name)).toBe(4 * shape[0] * shape[1]);
        total += 4 * shape[0] * shape[1];
      } else {
        expect(opt.groupOf(name).optimizer).toBe('adamw');
      }
    }
    expect(opt.stateBytes()).toBe(total);
  });

  it('bad options are clear errors', async () => {
    const make = (options: Record<string, unknown>) => createOptimizer({ optimizer: 'muon', options, backend: 'ref', params: { w: { shape: [3, 5] } } });
    await expect(make({ scaling: 'spectral' })).rejects.toThrow(/muon option scaling must be one of "aspect", "rms"/);
    await expect(make({ momentum: 1 })).rejects.toThrow(/muon option momentum must be a number in \[0, 1\)/);
  });
});

describe('muon: convergence and backends', () => {
  it.each(BACKENDS)('least squares 12×20 on %s: loss below 2% of the initial within 200 steps', async (backend) => {
    const [l0, l1] = await trainLsq('muon', { lr: 0.3 }, 12, 20, 200, backend);
    expect(l1).toBeLessThan(0.02 * l0);
  });

  it.each(BACKENDS)('MLP classifier on %s: loss below 15% of the initial within 150 steps', async (backend) => {
    const [l0, l1] = await trainMlp('muon', { lr: 0.1 }, 150, backend);
    expect(l1, `${l0} → ${l1}`).toBeLessThan(0.15 * l0);
  });

  it('ref and wasm agree over 20 steps (gemm within f32 rounding)', async () => {
    expect(await refWasmGap('muon', { lr: 0.01 }, [[9, 13], [13, 9], [16, 16]], 20)).toBeLessThan(1e-4);
  });

  it('replay runs muon', async () => {
    await replayRuns('muon', {});
  });
});
