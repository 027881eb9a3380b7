/**
 * The pool backend: results equal single-thread wasm bit for bit at 1, 2 and 3 threads (every split
 * kernel and 20 steps of every optimizer); a worker that dies or throws mid-step fails that step with
 * params and state unchanged, and the next step works; the process exits after close().
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { createBackend, type Backend } from '../dist/backends/index.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { createOptimizer, type Optimizer, type StepInfo } from '../dist/index.js';
import type { Kernels } from '../dist/kernels.js';
import { GEMM_SCRATCH_BYTES } from '../dist/kernels/gemm.js';
import { deal } from '../dist/backends/pool/updates.js';
import { firstBitDiff, randomF32 } from './helpers/rng.js';

const THREADS = [1, 2, 3];

describe.each(THREADS)('pool kernels at %i threads equal single-thread wasm', (threads) => {
  const arena = new Arena({ shared: true, initialBytes: 48 << 20 });
  let pool: Backend;
  let wasm: Kernels;
  beforeAll(async () => {
    const helperScratch = Array.from({ length: threads - 1 }, () => arena.alloc(GEMM_SCRATCH_BYTES));
    pool = await createBackend('pool', arena, undefined, { threads, helperScratch, minWork: 256 });
    wasm = instantiateWasm(await loadWasmModule(undefined, 'mt'), arena.memory);
  });
  afterAll(() => pool.pool!.close());

  const put = (data: Float32Array) => {
    const p = arena.alloc(4 * data.length);
    arena.f32(p, data.length).set(data);
    return p;
  };
  const n = 5003, m = 37, w = 301;

  /** Run a call on copies of its buffers, once on wasm here and once on the pool; compare everything. */
  async function same(name: keyof Kernels, buffers: Float32Array[], args: (p: number[]) => number[]) {
    const a = buffers.map(put), b = buffers.map(put);
    const ra = (wasm[name] as (...x: number[]) => number | void)(...args(a));
    const rb = await pool.pool!.kernel(name, args(b));
    if (ra !== undefined) expect(Object.is(ra, rb), `${name} returned ${ra} vs ${rb}`).toBe(true);
    buffers.forEach((x, i) => {
      const d = firstBitDiff(arena.f32(a[i], x.length), arena.f32(b[i], x.length));
      expect(d, `${name}: buffer ${i} differs at ${d}`).toBe(-1);
    });
  }

  it('elementwise kernels', async () => {
    const v = () => randomF32(n, n + Math.floor(Math.random() * 1e6));
    const pos = () => v().map(Math.abs);
    await same('scale', [v()], ([x]) => [x, n, 0.37]);
    await same('axpy', [v(), v()], ([y, x]) => [y, x, n, -1.5]);
    await same('copy', [v(), v()], ([d, s]) => [d, s, n]);
    await same('fill', [v()], ([x]) => [x, n, 2.5]);
    await same('fillUniform', [v()], ([x]) => [x, n, 99, 7]);
    await same('sgd', [v(), v(), v()], ([p, g, b]) => [p, g, b, n, 0.01, 0.9, 0.9, -0.1, 8 | 4]);
    await same('adam', [v(), v(), v(), pos(), pos()], ([p, g, mm, vv, vx]) => [p, g, mm, vv, vx, n, 0, 0.99, 0.1, 0.9, 0.999, 0.001, 0.3, 1e-8, -0.01, 2 | 64]);
    await same('lerp', [v(), v()], ([x, y]) => [x, y, n, 0.1, 0.9, 2]);
    await same('adamDirection', [v(), v(), v(), pos()], ([d, g, mm, vv]) => [d, g, mm, vv, n, 0.1, 0.9, 0.999, 0.001, 2, 0.5, 1e-8, 2]);
    await same('adafactorVecVar', [pos(), v()], ([vv, g]) => [vv, g, n, 0.3, 0.7, 2]);
    await same('adafactorVecApply', [v(), v(), pos()], ([p, g, vv]) => [p, g, vv, n, 1e-30, -0.01]);
    await same('maxAbs', [v()], ([x]) => [x, n]);
    await same('sumsq', [v()], ([x]) => [x, n]);
  });

  it('row, column and gemm splits', async () => {
    const mat = () => randomF32(m * w, Math.floor(Math.random() * 1e6));
    const vec = (len: number) => randomF32(len, Math.floor(Math.random() * 1e6)).map((x) => Math.abs(x) + 0.1);
    await same('rowSumsq', [new Float32Array(m), mat()], ([o, a]) => [o, a, m, w, w]);
    await same('colSumsq', [new Float32Array(w), new Float32Array(2 * w + 4), mat()], ([o, acc, a]) => [o, acc + ((acc & 7) ? 8 - (acc & 7) : 0), a, m, w, w]);
    await same('rowMeanStd', [new Float32Array(m), new Float32Array(m), mat()], ([mu, sd, a]) => [mu, sd, a, m, w, w, 0]);
    await same('scaleRowsCols', [new Float32Array(m * w), mat(), vec(m), vec(w)], ([o, a, r, c]) => [o, w, a, w, r, c, m, w]);
    await same('adafactorRowVar', [vec(m), mat()], ([r, g]) => [r, g, m, w, 0.2, 0.8, 2]);
    await same('adafactorFactoredApply', [mat(), mat(), vec(m), vec(w)], ([p, g, r, c]) => [p, g, r, c, m, w, 1.3, 1e-30, -0.01]);
    const k = 45;
    const scratch = arena.alloc(GEMM_SCRATCH_BYTES);
    await same('gemm', [new Float32Array(m * w), randomF32(m * k, 1), randomF32(k * w, 2)], ([c, a, b]) => [c, w, a, k, 0, b, w, 0, m, w, k, 1, 0, scratch]);
    await same('gemm', [randomF32(m * w, 3), randomF32(k * m, 4), randomF32(w * k, 5)], ([c, a, b]) => [c, w, a, m, 1, b, k, 1, m, w, k, -0.5, 2, scratch]);
    // syrk: diagonal blocks, gemm blocks and their mirror images; C not symmetric before (β ≠ 0), strides wider than n.
    for (const sn of [101, 64]) {
      const ld = sn + 3;
      await same('syrk', [randomF32(sn * ld, 6), randomF32(sn * k, 7)], ([c, a]) => [c, ld, a, k, 0, sn, k, 0.25, 0.75, scratch]);
      await same('syrk', [randomF32(sn * ld, 8), randomF32(k * sn, 9)], ([c, a]) => [c, ld, a, sn, 1, sn, k, -1.5, 0, scratch]);
      await same('syrk', [randomF32(sn * ld, 10), randomF32(sn * k, 11)], ([c, a]) => [c, ld, a, k, 0, sn, k, 0, 2, scratch]);
    }
  });
});

const SHAPES = { 'w1': [256, 257], 'w2': [129, 517], 'b': [257], 't': [3, 40, 50] };
const CONFIGS: [string, Record<string, unknown>][] = [
  ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true }],
  ['adamw', { lr: 0.01, amsgrad: true }],
  ['adam', { lr: 0.01, weightDecay: 0.01 }],
  ['adafactor', { weightDecay: 0.1 }],
];

function params() {
  return Object.fromEntries(Object.entries(SHAPES).map(([k, s], i) => [k, { shape: s, data: randomF32(s.reduce((a, b) => a * b, 1), 10 + i) }]));
}

async function train(opt: Optimizer<StepInfo> | Optimizer<Promise<StepInfo>>, steps: number) {
  for (let t = 0; t < steps; t++) {
    opt.setGrads(Object.fromEntries(Object.entries(SHAPES).map(([k, s], i) => [k, randomF32(s.reduce((a, b) => a * b, 1), 1000 * t + i)])));
    await opt.step();
  }
}

describe('pool optimizer steps equal single-thread wasm', () => {
  it.each(CONFIGS)('%s %j: 20 steps at 1, 2 and 3 threads', async (optimizer, options) => {
    const ref = await createOptimizer({ optimizer, options, params: params(), backend: 'wasm', clipGradNorm: 50 });
    await train(ref, 20);
    for (const threads of THREADS) {
      const opt = await createOptimizer({ optimizer, options, params: params(), backend: 'pool', threads, clipGradNorm: 50 });
      try {
        await train(opt, 20);
        expect(opt.stepCount).toBe(20);
        for (const name of Object.keys(SHAPES)) {
          const d = firstBitDiff(ref.param(name), opt.param(name));
          expect(d, `${threads} threads, ${name}[${d}]`).toBe(-1);
          for (const [slot, v] of Object.entries(ref.state(name))) expect(firstBitDiff(v, opt.state(name)[slot]), `${name}/${slot}`).toBe(-1);
        }
      } finally {
        await opt.close();
      }
    }
  });
});

describe('pool: matrix optimizers equal single-thread wasm', () => {
  // Small ranks and intervals so refreshes (SVD, eigh, QR, subspace iteration) happen within 12 steps.
  const MATRIX: [string, Record<string, unknown>][] = [
    ['racs', {}],
    ['galore', { rank: 8, updateInterval: 5 }],
    ['alice', { rank: 8, leading: 4, updateInterval: 5 }],
    ['eigenadam', { updateInterval: 5 }],
    ['soap', { updateInterval: 5 }],
    ['shampoo', { updateInterval: 5 }],
    ['adadiag', { updateInterval: 5 }],
    ['adadiagpp', { updateInterval: 5 }],
    ['adadiagAdafactor', { updateInterval: 5 }],
    ['sinkgd', {}],
    ['swan', {}],
    ['muon', {}],
  ];
  const shapes = { 'a.weight': [96, 160], 'b.weight': [160, 48], 'a.bias': [160] };
  const init = () => Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, { shape: sh, data: randomF32(sh.reduce((x, y) => x * y, 1), 40 + i, 0.1) }]));
  it.each(MATRIX)('%s %j: 12 steps at 2 threads', async (optimizer, options) => {
    const a = await createOptimizer({ optimizer, options, params: init(), backend: 'wasm' });
    const b = await createOptimizer({ optimizer, options, params: init(), backend: 'pool', threads: 2 });
    try {
      for (let t = 0; t < 12; t++) {
        const g = Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, randomF32(sh.reduce((x, y) => x * y, 1), 500 * t + i)]));
        a.setGrads(g);
        b.setGrads(g);
        a.step();
        await b.step();
      }
      for (const k of Object.keys(shapes)) expect(firstBitDiff(a.param(k), b.param(k)), k).toBe(-1);
    } finally {
      await b.close();
    }
  });
});

describe('a failing worker fails the step and changes nothing', () => {
  it.each(['exit', 'throw'] as const)('a helper that %ss mid-step: clear error, state unchanged, next step works', async (mode) => {
    const opt = await createOptimizer({ optimizer: 'adamw', params: params(), backend: 'pool', threads: 2 });
    try {
      await train(opt, 2);
      const snapshot = () => ({ p: opt.getParams(), s: Object.fromEntries(Object.keys(SHAPES).map((k) => [k, structuredClone(opt.state(k))])) });
      const before = snapshot();
      opt.injectFault(0, mode);
      await expect(opt.step()).rejects.toMatchObject({ code: 'WORKER_FAILED', message: expect.stringMatching(/pool worker #1 failed.*params and state were restored/) });
      expect(opt.stepCount).toBe(2);
      const after = snapshot();
      for (const k of Object.keys(SHAPES)) {
        expect(firstBitDiff(before.p[k], after.p[k])).toBe(-1);
        for (const slot of Object.keys(before.s[k])) expect(firstBitDiff(before.s[k][slot], after.s[k][slot])).toBe(-1);
      }
      // The next step works (with a replaced worker after `exit`) and equals the step the failed one would have been.
      const twin = await createOptimizer({ optimizer: 'adamw', params: params(), backend: 'wasm' });
      await train(twin, 2);
      await opt.step();
      twin.step();
      for (const k of Object.keys(SHAPES)) expect(firstBitDiff(twin.param(k), opt.param(k))).toBe(-1);
      expect(opt.stepCount).toBe(3);
    } finally {
      await opt.close();
    }
  });

  it('calls during a running step and after close are rejected', async () => {
    const opt = await createOptimizer({ optimizer: 'sgd', params: params(), backend: 'pool', threads: 2 });
    const p = opt.step();
    expect(() => opt.setGrads({ b: new Float32Array(257) })).toThrow(/while a step is running/);
    await p;
    await opt.close();
    expect(() => opt.step()).toThrow(/closed/);
  });
});

describe('pool: whole parameter updates dealt to the threads', () => {
  it('deal: longest first, each to the least-loaded thread, ties to the lowest', () => {
    // loads after each: 5→[5,0] 4→[5,4] 3→[5,7] 3→[8,7] 3→[8,10]; then 1 (index 5) → [9,10]
    expect(deal([5, 4, 3, 3, 3, 1], 2)).toEqual([0, 1, 1, 0, 1, 0]);
    expect(deal([2, 2, 2], 3)).toEqual([0, 1, 2]);
    expect(deal([7], 4)).toEqual([0]);
  });

  // Six matrices of different costs (none above a fair share, so all are dealt whole), refreshes every
  // 3 steps: decompositions of different matrices run on different threads at once.
  const shapes: Record<string, number[]> = {
    m0: [40, 60], m1: [64, 24], m2: [32, 32], m3: [48, 80], m4: [20, 70], m5: [56, 40], bias: [64],
  };
  const init = () => Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, { shape: sh, data: randomF32(sh.reduce((x, y) => x * y, 1), 70 + i, 0.1) }]));
  const CASES: [string, Record<string, unknown>][] = [
    ['shampoo', { updateInterval: 3 }],
    ['soap', { updateInterval: 3 }],
    ['alice', { rank: 6, leading: 2, updateInterval: 3 }],
    ['adadiagpp', { updateInterval: 3 }],
    ['adamw', {}],
  ];
  it.each(CASES)('%s %j: 8 steps at 2 and 3 threads equal single-thread wasm', async (optimizer, options) => {
    const a = await createOptimizer({ optimizer, options, params: init(), backend: 'wasm', clipGradNorm: 5 });
    const grads = (t: number) => Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, randomF32(sh.reduce((x, y) => x * y, 1), 900 * t + i)]));
    for (let t = 0; t < 8; t++) {
      a.setGrads(grads(t));
      a.step();
    }
    for (const threads of [2, 3]) {
      const b = await createOptimizer({ optimizer, options, params: init(), backend: 'pool', threads, clipGradNorm: 5 });
      try {
        for (let t = 0; t < 8; t++) {
          b.setGrads(grads(t));
          await b.step();
        }
        for (const k of Object.keys(shapes)) {
          expect(firstBitDiff(a.param(k), b.param(k)), `${threads} threads, ${k}`).toBe(-1);
          for (const [slot, v] of Object.entries(a.state(k))) expect(firstBitDiff(v, b.state(k)[slot]), `${k}/${slot}`).toBe(-1);
        }
      } finally {
        await b.close();
      }
    }
  });

  it('an error in an update run by a helper keeps its code and names the worker; nothing changes', async () => {
    const b = await createOptimizer({ optimizer: 'adadiag', params: init(), backend: 'pool', threads: 2, nonFinite: 'ignore' });
    try {
      const before = b.getParams();
      // With these costs m3 (the costliest) is the leader's and m0 a helper's.
      const g = Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, randomF32(sh.reduce((x, y) => x * y, 1), 5 + i)]));
      g.m0[7] = NaN;
      b.setGrads(g);
      await expect(b.step()).rejects.toMatchObject({ code: 'BAD_VALUE', message: expect.stringMatching(/^pool worker #1: svd on a 40×60 matrix failed/) });
      const after = b.getParams();
      for (const k of Object.keys(shapes)) expect(firstBitDiff(before[k], after[k]), k).toBe(-1);
      expect(b.stepCount).toBe(0);
    } finally {
      await b.close();
    }
  });

  it.each(['exit', 'throw'] as const)('a helper that %ss during the dealt updates fails the step; nothing changes; the next step works', async (mode) => {
    const b = await createOptimizer({ optimizer: 'shampoo', options: { updateInterval: 3 }, params: init(), backend: 'pool', threads: 2 });
    const a = await createOptimizer({ optimizer: 'shampoo', options: { updateInterval: 3 }, params: init(), backend: 'wasm' });
    try {
      const g = Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, randomF32(sh.reduce((x, y) => x * y, 1), 50 + i)]));
      b.setGrads(g);
      a.setGrads(g);
      const before = b.getParams();
      b.injectFault(0, mode, 'updates');
      await expect(b.step()).rejects.toMatchObject({ code: 'WORKER_FAILED', message: expect.stringMatching(/pool worker #1 failed during parameter updates; params and state were restored/) });
      for (const k of Object.keys(shapes)) expect(firstBitDiff(before[k], b.getParams()[k]), k).toBe(-1);
      await b.step();
      a.step();
      for (const k of Object.keys(shapes)) expect(firstBitDiff(a.param(k), b.param(k)), k).toBe(-1);
    } finally {
      await b.close();
    }
  });
});

describe('pool: adding parameters', () => {
  /** AdamW on wasm and on a 2-thread pool, 2 steps, then a 400×300 parameter added to both with its gradient set. */
  async function grownPair() {
    const a = await createOptimizer({ optimizer: 'adamw', params: params(), backend: 'wasm' });
    const b = await createOptimizer({ optimizer: 'adamw', params: params(), backend: 'pool', threads: 2 });
    await train(a, 2);
    await train(b, 2);
    const extra = { late: { shape: [400, 300], data: randomF32(120000, 77) } };
    a.addParams(extra);
    b.addParams(extra);
    for (const o of [a, b]) o.grad('late').set(randomF32(120000, 78));
    return { a, b };
  }

  it('after growth the workers see the new memory and results still equal wasm', async () => {
    const { a, b } = await grownPair();
    try {
      await train(a, 2);
      await train(b, 2);
      for (const k of [...Object.keys(SHAPES), 'late']) expect(firstBitDiff(a.param(k), b.param(k)), k).toBe(-1);
    } finally {
      await b.close();
    }
  });
  it.each(['exit', 'throw'] as const)('after growth a helper that throws, then one that %ss, during the updates: nothing changes (added parameter included)', async (mode) => {
    const { a, b } = await grownPair();
    try {
      const names = [...Object.keys(SHAPES), 'late'];
      const snapshot = () => ({ p: b.getParams(), s: Object.fromEntries(names.map((k) => [k, structuredClone(b.state(k))])) });
      const before = snapshot();
      for (const m of ['throw', mode] as const) {
        b.injectFault(0, m, 'updates');
        await expect(b.step()).rejects.toMatchObject({ code: 'WORKER_FAILED' });
        const after = snapshot();
        for (const k of names) {
          expect(firstBitDiff(before.p[k], after.p[k]), k).toBe(-1);
          for (const slot of Object.keys(before.s[k])) expect(firstBitDiff(before.s[k][slot], after.s[k][slot]), `${k}/${slot}`).toBe(-1);
        }
      }
      a.step();
      await b.step();
      for (const k of names) expect(firstBitDiff(a.param(k), b.param(k)), k).toBe(-1);
      expect(b.stepCount).toBe(3);
    } finally {
      await b.close();
    }
  });
});

describe('lifecycle', () => {
  it('a process that closes its pool exits by itself', () => {
    const script = `
      import { createOptimizer } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const opt = await createOptimizer({ optimizer: 'adamw', params: { w: { shape: [300, 300] } }, backend: 'pool', threads: 2 });
      opt.grad('w').fill(1);
      await opt.step();
      await opt.close();
      console.log('closed', opt.stepCount);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('closed 1');
  });

  it('`await using` closes the pool', async () => {
    let stepped = 0;
    {
      await using opt = await createOptimizer({ optimizer: 'sgd', params: { w: { shape: [4] } }, backend: 'pool', threads: 2 });
      await opt.step();
      stepped = opt.stepCount;
      expect(() => opt.injectFault(5, 'exit')).not.toThrow();
    }
    expect(stepped).toBe(1);
  });

  it('an arena over 4 GiB is a clear error naming the sizes', async () => {
    await expect(createOptimizer({ optimizer: 'adamw', params: { huge: { shape: [40000, 20000] } }, backend: 'pool', threads: 2 }))
      .rejects.toThrow(/the arena needs \d+ bytes \(\d+ pages of 64 KiB\) but wasm32 memory is limited to 4 GiB/);
  });
});
