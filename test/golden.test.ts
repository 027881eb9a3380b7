/**
 * Hand-derived steps for SGD (momentum, Nesterov), AdamW and Adafactor on tiny tensors, run on every
 * backend. The arithmetic is written out in f64; the library computes in f32, so values agree to ~1e-6.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../dist/index.js';

const BACKENDS = ['ref', 'wasm'] as const;

async function run(optimizer: string, options: Record<string, unknown>, params: Record<string, number[][] | number[]>, grads: Record<string, number[]>[], backend: string) {
  const init = Object.fromEntries(
    Object.entries(params).map(([k, v]) =>
      Array.isArray(v[0]) ? [k, { shape: [v.length, (v[0] as number[]).length], data: (v as number[][]).flat() }] : [k, { shape: [v.length], data: v as number[] }],
    ),
  );
  const opt = await createOptimizer({ optimizer, options, params: init, backend: backend as 'ref' | 'wasm' });
  const after: Record<string, number[]>[] = [];
  for (const g of grads) {
    opt.setGrads(g);
    opt.step();
    after.push(Object.fromEntries(opt.paramNames.map((n) => [n, Array.from(opt.param(n))])));
  }
  return { opt, after };
}

function expectClose(actual: number[], expected: number[], tol = 2e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]))));
}

describe.each(BACKENDS)('hand-derived steps on %s', (backend) => {
  it('AdamW: 3 steps, lr 0.1, betas (0.9, 0.999), eps 1e-8, weightDecay 0.1', async () => {
    const { after } = await run('adamw', { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 }, { p: [1, -2] },
      [{ p: [0.5, -1] }, { p: [0.25, 0.5] }, { p: [-0.5, 0.125] }], backend);
    // Step 1: decay θ·(1 − 0.1·0.1) = [0.99, −1.98]; m = 0.1·g = [0.05, −0.1]; v = 0.001·g² = [0.00025, 0.001]
    //   m̂ = m/(1 − 0.9) = [0.5, −1]; √v̂ = √(v/(1 − 0.999)) = [0.5, 1]; θ −= 0.1·m̂/(√v̂ + 1e-8) ≈ 0.1·[1, −1]
    //   θ₁ = [0.89, −1.88] (exactly 0.890000002, −1.880000001 with eps)
    expectClose(after[0].p, [0.890000002, -1.880000001]);
    // Step 2: θ·0.99 = [0.8811, −1.8612]; m = 0.9·m + 0.1·g = [0.07, −0.04]; v = 0.999·v + 0.001·g² = [0.00031225, 0.001249]
    //   bc1 = 1 − 0.81 = 0.19, bc2 = 1 − 0.998001 = 0.001999
    //   m̂ = [0.368421, −0.210526]; √v̂ = [√0.156203, √0.624812] = [0.395225, 0.790451]
    //   θ₂ = [0.8811 − 0.1·0.932181, −1.8612 + 0.1·0.266336] = [0.787882, −1.834566]
    expectClose(after[1].p, [0.7878820404574624, -1.8345662973609032]);
    // Step 3: m = [0.013, −0.0235]; v = [0.00056193775, 0.001263376]; bc1 = 0.271, bc2 = 0.002997001
    expectClose(after[2].p, [0.7689249131765196, -1.8028646563137636]);
  });

  it('SGD: momentum 0.9, dampening 0.1, weightDecay 0.01 (coupled), lr 0.1', async () => {
    const grads = [{ p: [0.5, 0.5, -1] }, { p: [1, -0.5, 0.25] }, { p: [0, 2, -2] }];
    const { opt, after } = await run('sgd', { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }, { p: [1, -1, 2] }, grads, backend);
    // Step 1: g + 0.01·θ = [0.51, 0.49, −0.98]; the buffer starts as that gradient (no dampening on step 1)
    //   θ₁ = θ − 0.1·buf = [0.949, −1.049, 2.098]
    expectClose(after[0].p, [0.949, -1.049, 2.098]);
    // Step 2: g + 0.01·θ₁ = [1.00949, −0.51049, 0.27098]; buf = 0.9·buf + 0.9·g = [1.367541, −0.018441, −0.638118]
    //   θ₂ = θ₁ − 0.1·buf = [0.8122459, −1.0471559, 2.1618118]
    expectClose(after[1].p, [0.8122459, -1.0471559, 2.1618118]);
    expectClose(after[2].p, [0.68843618869, -1.22455376969, 2.39729678938]);
    expectClose(Array.from(opt.state('p').momentumBuffer), [1.2380971131, 1.7739786969, -2.3548498938]);
  });

  it('SGD: Nesterov, momentum 0.9, weightDecay 0.01, lr 0.1', async () => {
    const grads = [{ p: [0.5, 0.5, -1] }, { p: [1, -0.5, 0.25] }, { p: [0, 2, -2] }];
    const { after } = await run('sgd', { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, { p: [1, -1, 2] }, grads, backend);
    // Step 1: g' = [0.51, 0.49, −0.98] = buf; step direction g' + 0.9·buf = 1.9·g' → θ₁ = θ − 0.19·g' = [0.9031, −1.0931, 2.1862]
    expectClose(after[0].p, [0.9031, -1.0931, 2.1862]);
    expectClose(after[1].p, [0.67007411, -1.03571311, 2.21392622]);
    expectClose(after[2].p, [0.549890458191, -1.408080844091, 2.639140938182]);
  });

  it('Adafactor: 2×2 matrix (factored) and a vector, 2 steps, torch defaults', async () => {
    const { opt, after } = await run('adafactor', {}, { W: [[1, 2], [-1, 0.5]], b: [0.1, -0.2] },
      [{ W: [0.5, -1, 2, 0.1], b: [1, -2] }, { W: [0.2, 0.3, -0.4, 1], b: [0.5, 0.5] }], backend);
    // Step 1 (t = 1): weight t^−0.8 = 1, so the factors are this step's means; ρ = min(0.01, 1) = 0.01
    //   W: RMS(θ) = √((1 + 4 + 1 + 0.25)/4) = 1.25 → α = 0.0125
    //      R = row means of G² = [(0.25 + 1)/2, (4 + 0.01)/2] = [0.625, 2.005]; C = column means = [2.125, 0.505]
    //      V̂_ij = R_i·C_j / mean(R) (mean(R) = 1.315); U = G/√V̂ = [[0.497523, −2.041161], [1.111108, 0.113962]]
    //      RMS(U) = 1.189686 > d = 1, so θ −= 0.0125·U/1.189686 → [[0.994773, 2.021446], [−1.011674, 0.498803]]
    expectClose(after[0].W, [0.9947725371524045, 2.0214464161420382, -1.0116743784132867, 0.49880260470064297]);
    //   b: RMS(θ) = √((0.01 + 0.04)/2) = 0.158114 → α = 0.00158114; V = g² = [1, 4]; U = g/√V = [1, −1]; RMS(U) = 1
    //      θ = [0.1 − 0.00158114, −0.2 + 0.00158114]
    expectClose(after[0].b, [0.09841886116991581, -0.19841886116991583]);
    // Step 2 (t = 2): weight 2^−0.8 = 0.574349 (≥ 0.5: torch's second lerp form), ρ = 0.01
    //   R = [0.303364, 1.186552], C = [0.961943, 0.527974], RMS(U) = 0.71 < 1 (no clipping)
    expectClose(after[1].W, [0.9907469322860291, 2.013295793265034, -1.0076033885054867, 0.4850650817792561]);
    expectClose(after[1].b, [0.09738096122635034, -0.19899518185727855]);
    expectClose(Array.from(opt.state('W').rowVar), [0.3033644606008302, 1.1865524220646126]);
    expectClose(Array.from(opt.state('W').colVar), [0.9619429155655022, 0.5279739670999407]);
    expectClose(Array.from(opt.state('b').variance), [0.5692381168761119, 1.8461905843805595]);
  });
});
