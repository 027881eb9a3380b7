/**
 * Every eigen optimizer trains a small two-layer MLP classifier (eigen-common.ts `trainMlp`: 4-16-3 on
 * three Gaussian blobs, 120 points) on every backend (ref, wasm, pool at 2 threads): the loss falls
 * below 15% of its initial value (0.977) within 150 steps. Measured final losses: 0.005
 * (adadiagAdafactor) to 0.069 (shampoo, adadiagpp); pool's equal wasm's, and ref's agree with them to
 * 3 digits except adadiagpp (0.069 on ref, 0.067 on wasm).
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, trainMlp } from './eigen-common.js';

const ALL_BACKENDS = [...BACKENDS, 'pool'] as const;

const CONFIGS: [string, Record<string, unknown>][] = [
  ['eigenadam', { lr: 0.01, updateInterval: 10 }],
  ['adadiag', { lr: 0.01, updateInterval: 10 }],
  ['adadiagpp', { lr: 0.01, updateInterval: 10 }],
  ['soap', { lr: 0.01, updateInterval: 10 }],
  ['shampoo', { lr: 0.05, updateInterval: 10 }],
  ['adadiagAdafactor', { lr: 0.02, updateInterval: 10 }],
];

describe.each(ALL_BACKENDS)('MLP classifier on %s', (backend) => {
  it.each(CONFIGS)('%s %j', async (optimizer, options) => {
    const [l0, l1] = await trainMlp(optimizer, options, 150, backend);
    expect(l1, `${optimizer}: ${l0} → ${l1}`).toBeLessThan(0.15 * l0);
  });
});
