/**
 * RACS, GaLore, Alice and Alice-0 train the small two-layer MLP classifier of eigen-common.ts
 * (`trainMlp`: 4-16-3 on three Gaussian blobs, 120 points; the matrices w1 16×4 and w2 3×16 go to the
 * optimizer, the biases to AdamW) on every backend (ref, wasm, pool at 2 threads): the loss falls below
 * 10% of its initial value (0.977) within 150 steps. Rank 2 with one leading vector and K = 10 keep the
 * projections low-rank with several refreshes. Measured final losses, the same on all three backends
 * to 2 digits (pool's equal wasm's): racs 0.0035, galore 0.034, alice 0.010, alice0 0.014.
 */
import { describe, expect, it } from 'vitest';
import { trainMlp } from './eigen-common.js';

const CONFIGS: [string, Record<string, unknown>][] = [
  ['racs', { lr: 0.2, scale: 0.05 }],
  ['galore', { lr: 0.05, rank: 2, updateInterval: 10 }],
  ['alice', { lr: 0.05, rank: 2, leading: 1, updateInterval: 10 }],
  ['alice0', { lr: 0.05, rank: 2, leading: 1, updateInterval: 10 }],
];

describe.each(['ref', 'wasm', 'pool'] as const)('MLP classifier on %s', (backend) => {
  it.each(CONFIGS)('%s %j', async (optimizer, options) => {
    const [l0, l1] = await trainMlp(optimizer, options, 150, backend);
    expect(l1, `${optimizer}: ${l0} → ${l1}`).toBeLessThan(0.1 * l0);
  });
});
