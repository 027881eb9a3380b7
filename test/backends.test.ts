/**
 * wasm equals ref, bit for bit, over 100 random steps on odd sizes, for every optimizer and the option
 * combinations that change the kernel path (the elementwise kernels round in the same order, and the
 * reductions sum in the same fixed order).
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer, type Optimizer } from '../dist/index.js';
import { firstBitDiff, randomF32 } from './helpers/rng.js';

const SHAPES: Record<string, number[]> = {
  scalar: [],
  v1: [1],
  v7: [7],
  v37: [37],
  m1x1: [1, 1],
  m3x5: [3, 5],
  m5x3: [5, 3],
  m37x101: [37, 101],
  m129x3: [129, 3],
  t2x3x7: [2, 3, 7],
};

const CONFIGS: [string, Record<string, unknown>][] = [
  ['sgd', { lr: 0.05 }],
  ['sgd', { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }],
  ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, maximize: true }],
  ['adam', { lr: 0.01, weightDecay: 0.01 }],
  ['adamw', { lr: 0.01 }],
  ['adamw', { lr: 0.01, amsgrad: true, maximize: true, betas: [0.3, 0.99] }],
  ['adafactor', {}],
  ['adafactor', { lr: 0.05, weightDecay: 0.1, eps: [1e-30, 1e-3], d: 1.5, maximize: true }],
];

async function make(backend: 'ref' | 'wasm', optimizer: string, options: Record<string, unknown>): Promise<Optimizer> {
  const params = Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape], i) => [name, { shape, data: randomF32(shape.reduce((a, b) => a * b, 1), 100 + i) }]),
  );
  return createOptimizer({
    optimizer, options, params, backend,
    schedule: { type: 'cosine', warmupSteps: 5, totalSteps: 100 },
    clipGradNorm: 20,
  });
}

describe('wasm matches ref bit for bit', () => {
  it.each(CONFIGS)('%s %j: 100 steps', async (optimizer, options) => {
    const ref = await make('ref', optimizer, options);
    const wasm = await make('wasm', optimizer, options);
    expect(ref.backend).toBe('ref');
    expect(wasm.backend).toBe('wasm');
    for (let step = 0; step < 100; step++) {
      const grads = Object.fromEntries(ref.paramNames.map((n, i) => [n, randomF32(ref.param(n).length, 1000 * step + i, step % 7 === 3 ? 10 : 1)]));
      ref.setGrads(grads);
      wasm.setGrads(grads);
      const a = ref.step();
      const b = wasm.step();
      expect(b.gradNorm).toBe(a.gradNorm);
    }
    for (const n of ref.paramNames) {
      const pr = ref.param(n), pw = wasm.param(n);
      const i = firstBitDiff(pr, pw);
      expect(i, `${n}[${i}]: ref ${pr[i]} vs wasm ${pw[i]}`).toBe(-1);
      for (const [slot, v] of Object.entries(ref.state(n))) {
        const j = firstBitDiff(v, wasm.state(n)[slot]);
        expect(j, `${n}/${slot}[${j}]`).toBe(-1);
      }
      expect(pr.every(Number.isFinite)).toBe(true);
    }
  });
});
