import { describe, expect, it } from 'vitest';
import { createOptimizer, createOptimizerSync, loadWasmModule, type OptimizerConfig } from '../dist/index.js';
import { expectError } from './helpers/errors.js';
import { randomF32 } from './helpers/rng.js';

const params = () => ({ w: { shape: [6, 4], data: randomF32(24, 3) }, 'w.bias': { shape: [4], data: randomF32(4, 4) } });
const config = { optimizer: 'racs', options: { lr: 0.05 }, schedule: { type: 'cosine', warmupSteps: 2, totalSteps: 8 } } as const;

describe('createOptimizerSync', () => {
  it.each(['ref', 'wasm'] as const)('on %s builds without awaiting and steps exactly as createOptimizer', async (backend) => {
    const wasm = backend === 'wasm' ? await loadWasmModule() : undefined;
    const sync = createOptimizerSync({ ...config, params: params(), backend, wasm });
    const ref = await createOptimizer({ ...config, params: params(), backend });
    expect(sync.backend).toBe(backend);
    expect(sync.groupOf('w').optimizer).toBe('racs');
    expect(sync.groupOf('w.bias').optimizer).toBe('adamw');
    for (let s = 0; s < 5; s++) {
      const g = { w: randomF32(24, 10 + s), 'w.bias': randomF32(4, 20 + s) };
      sync.setGrads(g);
      ref.setGrads(g);
      sync.step();
      ref.step();
    }
    expect(sync.save()).toEqual(ref.save());
  });

  it.each([
    [{ backend: 'auto' }, /needs backend 'ref' or 'wasm', got "auto"/],
    [{ backend: 'pool' }, /needs backend 'ref' or 'wasm', got "pool"/],
    [{ backend: 'wasm' }, /config.wasm to be a compiled WebAssembly.Module/],
    [{ backend: 'wasm', wasm: 'fisheropt.wasm' }, /config.wasm to be a compiled WebAssembly.Module .*got "fisheropt.wasm"/],
  ])('rejects %j', async (over, text) => {
    await expectError(() => createOptimizerSync({ ...config, params: params(), ...over } as OptimizerConfig & { backend: 'ref' }), 'BAD_OPTION', text);
  });
});
