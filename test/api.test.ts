import { describe, expect, it } from 'vitest';
import {
  createOptimizer, registerOptimizer, scheduleFactor, KernelFlag,
  type OptimizerConfig, type OptimizerDef,
} from '../dist/index.js';
import { expectError } from './helpers/errors.js';
import { randomF32 } from './helpers/rng.js';

const base = (over: Partial<OptimizerConfig> = {}): OptimizerConfig => ({
  optimizer: 'adamw',
  params: { w: { shape: [3, 5], data: randomF32(15, 1) }, b: { shape: [5] } },
  backend: 'ref',
  ...over,
});

describe('bad configuration is rejected with an error naming what is wrong', () => {
  it.each([
    [{ optimizer: 'adamx' }, 'UNKNOWN_OPTIMIZER', /unknown optimizer "adamx".*adamw/],
    [{ options: { learningRate: 0.1 } }, 'UNKNOWN_OPTION', /unknown option "learningRate" for adamw; known options: lr, betas/],
    [{ options: { lr: -1 } }, 'BAD_OPTION', /adamw option lr must be a number in \[0, Infinity\], got -1/],
    [{ options: { betas: [1, 0.9] } }, 'BAD_OPTION', /adamw option betas must be \[a number in \[0, 1\)/],
    [{ options: { betas: [0.9] } }, 'BAD_OPTION', /betas must be an array of two numbers/],
    [{ options: { eps: Number.NaN } }, 'BAD_OPTION', /eps must be a finite number/],
    [{ optimizer: 'sgd', options: { nesterov: true } }, 'BAD_OPTION', /nesterov requires momentum > 0/],
    [{ optimizer: 'adafactor', options: { d: 0.5 } }, 'BAD_OPTION', /adafactor option d must be a number in \[1/],
    [{ optimizer: 'adafactor', options: { beta2Decay: 0.5 } }, 'BAD_OPTION', /beta2Decay/],
    [{ params: { w: { shape: [0, 3] } } }, 'BAD_SHAPE', /parameter "w": shape must be an array of positive integers/],
    [{ params: { w: { shape: [2.5] } } }, 'BAD_SHAPE', /parameter "w"/],
    [{ params: { w: { shape: [2, 2], data: [1, 2, 3] } } }, 'BAD_LENGTH', /parameter "w": expected 4 values for shape \[2, 2\], got 3/],
    [{ params: { w: { shape: [3], data: [1, Number.NaN, 3] } } }, 'BAD_VALUE', /parameter "w": element 1 is NaN/],
    [{ backend: 'gpu' as never }, 'UNKNOWN_BACKEND', /unknown backend "gpu"/],
    [{ clipGradNorm: -1 }, 'BAD_OPTION', /clipGradNorm must be a positive finite number/],
    [{ nonFinite: 'warn' as never }, 'BAD_OPTION', /nonFinite must be/],
    [{ schedule: { type: 'cosine', warmupSteps: 10, totalSteps: 5 } }, 'BAD_OPTION', /totalSteps must be an integer > warmupSteps/],
    [{ schedule: { type: 'cosine', totalSteps: 5, floor: 0 } as never }, 'UNKNOWN_OPTION', /unknown schedule option "floor"/],
    [{ learningRate: 1 } as never, 'UNKNOWN_OPTION', /unknown config field "learningRate"/],
    [{ rules: [{ match: 'b', optimizer: 'sgd', options: { momentum: -1 } }] }, 'BAD_OPTION', /sgd \(rule 0\) option momentum/],
  ])('%j', async (over, code, text) => {
    await expectError(createOptimizer(base(over as Partial<OptimizerConfig>)), code, text);
  });
});

describe('bad input at run time changes nothing', () => {
  it('setGrads / setParams validate names, lengths and values before writing', async () => {
    const opt = await createOptimizer(base());
    const before = opt.save();
    await expectError(() => opt.setGrads({ b: [1, 2, 3, 4, 5], x: [1] }), 'UNKNOWN_PARAM', /unknown parameter "x"; known: w, b/);
    await expectError(() => opt.setGrads({ b: [1, 2, 3, 4, 5], w: [1, 2] }), 'BAD_LENGTH', /gradient "w": expected 15 values for shape \[3, 5\], got 2/);
    expect(Array.from(opt.grad('b'))).toEqual([0, 0, 0, 0, 0]);
    await expectError(() => opt.setParams({ b: [1, 2, Infinity, 4, 5] }), 'BAD_VALUE', /parameter "b": element 2 is Infinity/);
    expect(opt.save()).toEqual(before);
    await expectError(() => opt.param('nope'), 'UNKNOWN_PARAM', /"nope"/);
  });

  it('a non-finite gradient throws naming the parameter and element, and nothing is updated', async () => {
    const opt = await createOptimizer(base());
    opt.setGrads({ w: randomF32(15, 2), b: randomF32(5, 3) });
    opt.step();
    const before = opt.save();
    opt.setGrads({ w: randomF32(15, 4) });
    opt.grad('b')[3] = Number.NaN;
    await expectError(() => opt.step(), 'NON_FINITE_GRAD', /gradient of "b" has a non-finite value \(NaN at element 3\)/);
    expect(opt.save()).toEqual(before);
    expect(opt.stepCount).toBe(1);
  });

  it("nonFinite: 'skip' skips the step for all params and counts it", async () => {
    const opt = await createOptimizer(base({ nonFinite: 'skip' }));
    const snapshot = () => ({ params: opt.getParams(), w: structuredClone(opt.state('w')), b: structuredClone(opt.state('b')) });
    const before = snapshot();
    opt.grad('w')[0] = Infinity;
    const info = opt.step();
    expect(info.skipped).toBe(true);
    expect(opt.skippedSteps).toBe(1);
    expect(opt.stepCount).toBe(0);
    expect(snapshot()).toEqual(before);
    opt.grad('w')[0] = 1;
    expect(opt.step().skipped).toBe(false);
    expect(opt.stepCount).toBe(1);
  });
});

describe('stateBytes equals each optimizer’s documented formula', () => {
  const params = { m: { shape: [6, 10] }, t: { shape: [2, 3, 4] }, v: { shape: [7] }, s: { shape: [] } };
  it.each([
    ['sgd', {}, { m: 0, t: 0, v: 0, s: 0 }],
    ['sgd', { momentum: 0.9 }, { m: 4 * 60, t: 4 * 24, v: 4 * 7, s: 4 }],
    ['adam', {}, { m: 8 * 60, t: 8 * 24, v: 8 * 7, s: 8 }],
    ['adamw', { amsgrad: true }, { m: 12 * 60, t: 12 * 24, v: 12 * 7, s: 12 }],
    // Adafactor: 4·B·(m + n) for rank ≥ 2, 4·numel otherwise
    ['adafactor', {}, { m: 4 * (6 + 10), t: 4 * 2 * (3 + 4), v: 4 * 7, s: 4 }],
  ])('%s %j', async (optimizer, options, expected) => {
    const opt = await createOptimizer({ optimizer, options, params, backend: 'ref' });
    for (const [name, bytes] of Object.entries(expected)) expect(opt.stateBytes(name)).toBe(bytes);
    expect(opt.stateBytes()).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
  });
});

describe('routing', () => {
  // A matrix-only optimizer for routing tests: plain SGD on 2-D weights.
  const matrixSgd: OptimizerDef = {
    name: 'test-matrix',
    summary: 'SGD on matrices (test only)',
    matrixOnly: true,
    schema: { lr: { default: 0.5, check: (v) => (typeof v === 'number' ? null : 'a number'), doc: 'lr' } },
    handles: (shape) => shape.length === 2,
    slots: () => [],
    step: (ctx, p) => ctx.kernels.sgd(p.p, p.g, 0, p.size, 0, 0, 1, -ctx.lr, 0),
  };
  registerOptimizer(matrixSgd);
  const params = {
    'layers.0.attn.wq': { shape: [4, 4] },
    'layers.0.attn.wq.bias': { shape: [4] },
    'layers.0.norm.weight': { shape: [4] },
    'embed.weight': { shape: [10, 4] },
    'lm_head': { shape: [10, 4] },
    'layers.0.mlp.up': { shape: [8, 4] },
    'conv': { shape: [2, 2, 3] },
  };

  it('a matrix optimizer takes 2-D weights; biases, norms, embeddings, heads and other shapes go to AdamW', async () => {
    const opt = await createOptimizer({ optimizer: 'test-matrix', params, backend: 'ref' });
    const where = Object.fromEntries(opt.paramNames.map((n) => [n, opt.groupOf(n).optimizer]));
    expect(where).toEqual({
      'layers.0.attn.wq': 'test-matrix', 'layers.0.attn.wq.bias': 'adamw', 'layers.0.norm.weight': 'adamw',
      'embed.weight': 'adamw', 'lm_head': 'adamw', 'layers.0.mlp.up': 'test-matrix', 'conv': 'adamw',
    });
    expect(opt.groupOf('embed.weight').options.lr).toBe(1e-3);
  });

  it('rules (name, RegExp, predicate) win in order, with per-group hyperparameters', async () => {
    const opt = await createOptimizer({
      optimizer: 'adamw',
      options: { lr: 0.01, weightDecay: 0.1 },
      params,
      backend: 'ref',
      rules: [
        { match: 'lm_head', options: { weightDecay: 0 } },
        { match: /norm|bias/, options: { lr: 0.001, weightDecay: 0 } },
        { match: (p) => p.shape.length === 3, optimizer: 'sgd', options: { momentum: 0.9 } },
      ],
    });
    expect(opt.groupOf('lm_head').options).toMatchObject({ lr: 0.01, weightDecay: 0 });
    expect(opt.groupOf('layers.0.norm.weight').options).toMatchObject({ lr: 0.001, weightDecay: 0 });
    expect(opt.groupOf('layers.0.attn.wq.bias')).toBe(opt.groupOf('layers.0.norm.weight'));
    expect(opt.groupOf('conv').optimizer).toBe('sgd');
    expect(opt.groupOf('conv').options).toMatchObject({ lr: 1e-3, momentum: 0.9 });
    expect(opt.groupOf('embed.weight').options).toMatchObject({ lr: 0.01, weightDecay: 0.1 });
    expect(opt.groups.length).toBe(4);
  });

  it('fallback pattern null sends every 2-D parameter to the matrix optimizer; an impossible route is an error', async () => {
    const opt = await createOptimizer({ optimizer: 'test-matrix', params, backend: 'ref', fallback: { pattern: null, options: { lr: 0.1 } } });
    expect(opt.groupOf('embed.weight').optimizer).toBe('test-matrix');
    expect(opt.groupOf('conv').optimizer).toBe('adamw');
    expect(opt.groupOf('conv').options.lr).toBe(0.1);
    await expectError(
      createOptimizer({ optimizer: 'adamw', params, backend: 'ref', rules: [{ match: /norm/, optimizer: 'test-matrix' }] }),
      'UNROUTED_PARAM', /parameter "layers.0.norm.weight" with shape \[4\] was routed to test-matrix \(rule 0\)/,
    );
  });
});

describe('schedules and clipping', () => {
  it('linear warm-up then cosine decay to the floor', () => {
    const s = { type: 'cosine' as const, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
    expect(scheduleFactor(s, 0)).toBe(0);
    expect(scheduleFactor(s, 5)).toBe(0.5);
    expect(scheduleFactor(s, 10)).toBe(1);
    expect(scheduleFactor(s, 60)).toBeCloseTo(0.55, 12); // halfway: 0.1 + 0.9·½
    expect(scheduleFactor(s, 110)).toBeCloseTo(0.1, 12);
    expect(scheduleFactor(s, 500)).toBeCloseTo(0.1, 12);
    expect(scheduleFactor({ type: 'constant' }, 123)).toBe(1);
  });

  it('the scheduled lr is what SGD applies', async () => {
    const opt = await createOptimizer({
      optimizer: 'sgd', options: { lr: 1 }, params: { p: { shape: [1] } }, backend: 'ref',
      schedule: { type: 'cosine', warmupSteps: 2, totalSteps: 4, minLrRatio: 0 },
    });
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = opt.param('p')[0];
      opt.grad('p')[0] = -1;
      opt.step();
      seen.push(opt.param('p')[0] - before);
    }
    // factors: 0/2, 1/2, then cosine from 1 at step 2: ½(1 + cos(π·0/2)) = 1, ½(1 + cos(π/2)) = 0.5
    expect(seen).toEqual([0, 0.5, 1, 0.5]);
  });

  it('global-norm clipping scales every gradient by max/(norm + 1e-6) when the norm is larger', async () => {
    const opt = await createOptimizer({
      optimizer: 'sgd', options: { lr: 1 }, backend: 'ref', clipGradNorm: 1,
      params: { a: { shape: [2] }, b: { shape: [1] } },
    });
    opt.setGrads({ a: [3, 0], b: [4] }); // norm 5
    const info = opt.step();
    expect(info.gradNorm).toBe(5);
    const k = 1 / (5 + 1e-6);
    expect(opt.param('a')[0]).toBeCloseTo(-3 * k, 6);
    expect(opt.param('b')[0]).toBeCloseTo(-4 * k, 6);
    opt.setGrads({ a: [0.3, 0], b: [0.4] }); // norm 0.5: untouched
    opt.step();
    expect(opt.param('b')[0]).toBeCloseTo(-4 * k - 0.4, 6);
  });
});

describe('save and load', () => {
  const cfg = (backend: 'ref' | 'wasm', over: Partial<OptimizerConfig> = {}): OptimizerConfig => ({
    optimizer: 'adamw',
    options: { lr: 0.01, amsgrad: true },
    params: { w: { shape: [7, 9], data: randomF32(63, 7) }, b: { shape: [9], data: randomF32(9, 8) } },
    rules: [{ match: 'b', optimizer: 'sgd', options: { lr: 0.1, momentum: 0.9 } }],
    schedule: { type: 'cosine', warmupSteps: 3, totalSteps: 30 },
    backend,
    ...over,
  });
  const grads = (i: number) => ({ w: randomF32(63, 50 + i), b: randomF32(9, 90 + i) });

  it.each([['ref', 'ref'], ['ref', 'wasm'], ['wasm', 'ref']] as const)('save on %s, load on %s, continue: same params as uninterrupted training', async (from, to) => {
    const a = await createOptimizer(cfg(from));
    for (let i = 0; i < 10; i++) { a.setGrads(grads(i)); a.step(); }
    const blob = a.save();
    for (let i = 10; i < 20; i++) { a.setGrads(grads(i)); a.step(); }

    const b = await createOptimizer(cfg(to, { params: { w: { shape: [7, 9] }, b: { shape: [9] } } }));
    b.load(blob);
    expect(b.stepCount).toBe(10);
    for (let i = 10; i < 20; i++) { b.setGrads(grads(i)); b.step(); }
    expect(b.getParams()).toEqual(a.getParams());
    expect(b.state('w')).toEqual(a.state('w'));
  });

  it('save({ params: false }) restores state only; loaded hyperparameters replace the current ones', async () => {
    const a = await createOptimizer(cfg('ref'));
    a.setGrads(grads(0));
    a.step();
    const b = await createOptimizer(cfg('ref', { options: { lr: 0.5, amsgrad: true } }));
    const paramsBefore = b.getParams();
    b.load(a.save({ params: false }));
    expect(b.getParams()).toEqual(paramsBefore);
    expect(b.state('w')).toEqual(a.state('w'));
    expect(b.groupOf('w').options.lr).toBe(0.01);
  });

  it('mismatched, truncated or corrupted blobs are rejected and nothing changes', async () => {
    const a = await createOptimizer(cfg('ref'));
    a.setGrads(grads(0));
    a.step();
    const blob = a.save();
    const other = async (over: Partial<OptimizerConfig>) => (await createOptimizer(cfg('ref', over))).save();
    const target = await createOptimizer(cfg('ref'));
    target.setGrads(grads(5));
    target.step();
    target.step();
    const before = target.save();

    const corrupted = blob.slice();
    corrupted[corrupted.length - 20] ^= 0x40;
    const cases: [Uint8Array, RegExp][] = [
      [blob.slice(0, blob.length - 9), /checksum mismatch|truncated/],
      [blob.slice(0, 10), /too short/],
      [corrupted, /checksum mismatch/],
      [new Uint8Array(64), /bad magic/],
      [await other({ params: { w: { shape: [9, 7] }, b: { shape: [9] } } }), /parameter "w" has shape \[9, 7\] in the blob but \[7, 9\] here/],
      [await other({ params: { w: { shape: [7, 9] }, c: { shape: [9] } } }), /missing from the blob: \[b\]; not in this optimizer: \[c\]/],
      [await other({ optimizer: 'adafactor', options: {} }), /"w" is updated by adafactor in the blob but by adamw here/],
      [await other({ options: { lr: 0.01 } }), /state slots \[expAvg:63, expAvgSq:63\] in the blob but \[expAvg:63, expAvgSq:63, maxExpAvgSq:63\]/],
    ];
    for (const [bad, text] of cases) {
      await expectError(() => target.load(bad), 'BAD_STATE', text);
      expect(target.save()).toEqual(before);
    }
  });
});

it('KernelFlag values are distinct bits', () => {
  const v = Object.values(KernelFlag);
  expect(new Set(v).size).toBe(v.length);
  for (const x of v) expect(x & (x - 1)).toBe(0);
});

describe('adding parameters between steps', () => {
  it('grows the arena; new parameters start at their own step 1, old ones are unaffected; save/load keeps that', async () => {
    const grads = (t: number) => ({ w: randomF32(15, 300 + t), b: randomF32(5, 400 + t) });
    const opt = await createOptimizer({ optimizer: 'adamw', options: { lr: 0.01 }, params: { w: { shape: [3, 5], data: randomF32(15, 1) } }, backend: 'wasm' });
    const alone = await createOptimizer({ optimizer: 'adamw', options: { lr: 0.01 }, params: { w: { shape: [3, 5], data: randomF32(15, 1) } }, backend: 'wasm' });
    for (let t = 0; t < 3; t++) {
      opt.setGrads({ w: grads(t).w });
      alone.setGrads({ w: grads(t).w });
      opt.step();
      alone.step();
    }
    const oldView = opt.param('w');
    const before = opt.arena.buffer.byteLength;
    opt.addParams({ b: { shape: [5], data: [1, 2, 3, 4, 5] }, big: { shape: [300, 300] } });
    expect(opt.arena.buffer.byteLength).toBeGreaterThan(before);
    expect(oldView.length).toBe(0); // the old view is detached by the growth; take new ones
    expect(opt.groupOf('b')).toBe(opt.groupOf('w'));
    const fresh = await createOptimizer({ optimizer: 'adamw', options: { lr: 0.01 }, params: { b: { shape: [5], data: [1, 2, 3, 4, 5] } }, backend: 'wasm' });
    for (let t = 3; t < 6; t++) {
      opt.setGrads(grads(t));
      alone.setGrads({ w: grads(t).w });
      fresh.setGrads({ b: grads(t).b });
      opt.step();
      alone.step();
      fresh.step();
    }
    expect(opt.param('w')).toEqual(alone.param('w'));
    expect(opt.param('b')).toEqual(fresh.param('b'));
    // Save and load into an optimizer declared with all parameters at once: identical continuation.
    const again = await createOptimizer({ optimizer: 'adamw', options: { lr: 0.01 }, params: { w: { shape: [3, 5] }, b: { shape: [5] }, big: { shape: [300, 300] } }, backend: 'wasm' });
    again.load(opt.save());
    for (const o of [opt, again]) {
      o.setGrads(grads(9));
      o.step();
    }
    expect(again.param('b')).toEqual(opt.param('b'));
  });

  it('rejects duplicates, bad shapes and sizes past 4 GiB without changing anything', async () => {
    const opt = await createOptimizer({ optimizer: 'sgd', params: { w: { shape: [2] } }, backend: 'ref' });
    const bytes = opt.arena.buffer.byteLength;
    await expectError(() => opt.addParams({ w: { shape: [2] } }), 'DUPLICATE_PARAM', /parameter "w" already exists/);
    await expectError(() => opt.addParams({ x: { shape: [0] } }), 'BAD_SHAPE', /parameter "x"/);
    await expectError(() => opt.addParams({ x: { shape: [2] }, huge: { shape: [40000, 40000] } }), 'ARENA_TOO_LARGE', /the arena needs \d+ bytes/);
    expect(opt.paramNames).toEqual(['w']);
    expect(opt.arena.buffer.byteLength).toBe(bytes);
  });
});
