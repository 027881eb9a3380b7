/**
 * The webgpu backend against `ref`: every WGSL kernel on the shared shape tables, and every optimizer
 * over 20 steps (those with decompositions with refreshes every 5 steps, on small shapes); readbacks,
 * uploads and host decompositions counted per step. Skipped, saying why, when this machine has no WebGPU adapter (on a
 * GPU-less Linux box Dawn's OpenGL ES backend on Mesa llvmpipe serves; see `.ci/run`).
 *
 * Tolerances (WGSL arithmetic is f32 but not bit-identical to `ref`: division and sqrt may be off by
 * a few ulp, and sums are f32 tree or sequential sums instead of f64 lane sums):
 * - elementwise kernels: |x − x_ref| ≤ 4 ulp(max(|x|, |x_ref|)) (exactly equal when both are 0);
 *   p + coeff·u updates also 2e-7 absolute (inputs are O(1): 4 ulp of the added term);
 * - sums over k terms (row/column sums of squares, means, Sinkhorn scales) and what is computed from
 *   them: relative 2·(k + 4)·2⁻²⁴ (the sequential f32 bound, a factor 2 of slack), more where the
 *   kernel adds a square root or a division on top;
 * - gemm and syrk: the kernel set's documented bound (src/kernels/gemm.ts), with |A|, |B| products
 *   formed by `ref` itself;
 * - the fused sums of squares returned to the host (adafactor*Sumsq, racs*Sq): the sum bound above
 *   (f32 sums on the device, f64 on `ref`), plus 1e-6 relative where a reciprocal square root is in
 *   each term;
 * - optimizers after 20 steps: |p − p_ref| ≤ 4e-6·max(1, |p_ref|) (SGD, Adam, AdamW: elementwise
 *   roundings only), 2e-5·max(1, |p_ref|) for SinkGD, Muon, SWAN, Adafactor and RACS (f32 sums inside
 *   their scales and norms, f32 GEMM in Newton–Schulz) and 1e-4·max(1, |p_ref|) where decompositions
 *   run (on wasm, whose eigenvectors `test/linalg.test.ts` holds within 2e-5 of `ref`'s, then rotate
 *   20 steps of updates); state slots within 4× that. Seen on llvmpipe: at most 3.5e-7 for all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { refKernels } from '../dist/backends/ref.js';
import { acquireDevice, setWebGpuDevice } from '../dist/backends/webgpu/device.js';
import { webgpuKernels, HOST_KERNELS, READBACK_KERNELS } from '../dist/backends/webgpu/kernels.js';
import { GpuRuntime } from '../dist/backends/webgpu/runtime.js';
import { FisheroptError } from '../dist/errors.js';
import { createOptimizer, type Optimizer, type StepInfo } from '../dist/optimizer.js';
import { optimizerNames, registerOptimizer } from '../dist/optimizers/index.js';
import { trainSpirals } from '../dist/demo/spirals.js';
import { KernelFlag, KERNEL_NAMES, type Kernels } from '../dist/kernels.js';
import { randomF32 } from './helpers/rng.js';
import { GEMM_SHAPES, MATRICES, SIZES } from './helpers/shapes.js';

const got = await acquireDevice();
if (!got.device) console.warn(`test/webgpu.test.ts: WebGPU tests skipped: ${got.reason}`);
const F = KernelFlag;
const ULP4 = 4;
/** p + coeff·u with u from a reciprocal square root: 4 ulp of u's term can exceed 4 ulp of p after cancellation. */
const APPLY: Tol = { ulps: 4, abs: 2e-7 };

const ulp = (x: number): number => {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
};

type Tol = { ulps?: number; rel?: number; abs?: number };

/** The first index where `gpu` and `ref` differ beyond `tol`, or −1. */
function mismatch(gpuv: Float32Array, refv: Float32Array, tol: Tol): number {
  for (let i = 0; i < refv.length; i++) {
    const a = gpuv[i], b = refv[i];
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) return i;
      continue;
    }
    if (!Number.isFinite(b) || !Number.isFinite(a)) {
      if (a !== b) return i;
      continue;
    }
    const d = Math.abs(a - b);
    const big = Math.max(Math.abs(a), Math.abs(b));
    const allowed = Math.max((tol.ulps ?? 0) * ulp(big), (tol.rel ?? 0) * big, tol.abs ?? 0);
    if (d > allowed) return i;
  }
  return -1;
}

describe.skipIf(!got.device)('webgpu kernels against ref', () => {
  const arena = new Arena({ initialBytes: 12 << 20 });
  const base = arena.alloc(11 << 20);
  let top = base;
  let rt: GpuRuntime;
  let gpu: Kernels;
  const covered = new Set<string>();

  beforeAll(() => {
    rt = new GpuRuntime(got.device!, got.description, arena.memory);
    gpu = webgpuKernels(rt).kernels;
  });
  afterAll(() => rt?.destroy());

  const put = (data: ArrayLike<number>): number => {
    const p = top;
    new Float32Array(arena.buffer, p, data.length).set(data);
    top += Math.ceil((4 * data.length) / 16) * 16 + 16;
    if (top > base + (11 << 20)) throw new Error('test arena too small');
    return p;
  };
  const rand = (n: number, seed: number, scale = 1): number => put(randomF32(n, seed, scale));
  const pos = (n: number, seed: number): number => put(randomF32(n, seed).map((x) => Math.abs(x) + 0.01));

  interface Case {
    label: string;
    run: (k: Kernels) => void;
    /** Buffers to compare: [ptr, count, tolerance]. */
    out: [number, number, Tol][];
  }

  /** Run every case on ref (over a copy of the arena) and on the device, then compare the outputs. */
  async function check(kernel: string, cases: Case[]): Promise<void> {
    covered.add(kernel);
    rt.upload(base, top - base);
    const refMem = { buffer: arena.buffer.slice(0) };
    const ref = refKernels(refMem);
    for (const c of cases) {
      c.run(ref);
      c.run(gpu);
    }
    await rt.download([[base, top - base]]);
    for (const c of cases) {
      for (const [p, n, tol] of c.out) {
        const g = new Float32Array(arena.buffer, p, n), r = new Float32Array(refMem.buffer, p, n);
        const i = mismatch(g, r, tol);
        if (i >= 0) expect.fail(`${kernel} ${c.label}: element ${i} is ${g[i]} on webgpu, ${r[i]} on ref (tolerance ${JSON.stringify(tol)})`);
      }
    }
    top = base;
  }

  const vec = (kernel: string, make: (n: number, s: number) => Case) => check(kernel, SIZES.map((n, s) => make(n, 100 * s + 1)));
  const mat = (kernel: string, make: (m: number, n: number, s: number) => Case) =>
    check(kernel, MATRICES.map(([m, n], s) => make(m, n, 100 * s + 7)));
  const sumTol = (k: number, extra = 0): Tol => ({ rel: 2 * (k + 4) * 2 ** -24 + extra, ulps: ULP4 });

  it('elementwise: scale, axpy, copy, fill, fillUniform, addDiag, lerp', async () => {
    await vec('scale', (n, s) => { const x = rand(n, s); return { label: `n=${n}`, run: (k) => k.scale(x, n, 0.37), out: [[x, n, { ulps: 0 }]] }; });
    await vec('axpy', (n, s) => {
      const y = rand(n, s), x = rand(n, s + 1);
      return { label: `n=${n}`, run: (k) => k.axpy(y, x, n, -1.7), out: [[y, n, { ulps: 1 }]] };
    });
    await vec('copy', (n, s) => {
      const x = rand(n + 8, s), y = rand(n, s + 1), z = rand(n + 8, s + 2);
      // disjoint, and overlapping in both directions (memmove)
      return { label: `n=${n}`, run: (k) => { k.copy(y, x, n); k.copy(z + 8, z, n); k.copy(x, x + 12, n); }, out: [[y, n, {}], [z, n + 8, {}], [x, n + 8, {}]] };
    });
    await vec('fill', (n) => { const x = put(new Float32Array(n + 4)); return { label: `n=${n}`, run: (k) => k.fill(x, n, 2.5), out: [[x, n + 4, {}]] }; });
    await vec('fillUniform', (n, s) => {
      const x = put(new Float32Array(n));
      return { label: `n=${n}`, run: (k) => k.fillUniform(x, n, 0xdeadbeef + s, 12345), out: [[x, n, {}]] };
    });
    await check('addDiag', MATRICES.filter(([m, n]) => m === n || m * n > 0).map(([m, n], s) => {
      const d = Math.min(m, n), a = rand(m * n, s);
      return { label: `${m}x${n}`, run: (k) => k.addDiag(a, n, d, 3.25), out: [[a, m * n, { ulps: 0 }]] };
    }));
    await check('lerp', [0.1, 0.574, 1.0].flatMap((w, wi) => SIZES.map((n, s) => {
      const a = rand(n, s + 10 * wi), b = rand(n, s + 500);
      const flags = Math.abs(w) < 0.5 ? F.LERP_SMALL : 0;
      return { label: `w=${w} n=${n}`, run: (k) => k.lerp(a, b, n, w, Math.fround(1 - w), flags), out: [[a, n, { ulps: 0 }]] };
    })));
  });

  it('fused updates: sgd (every flag), adam (L2, decoupled, amsgrad, maximize), adamDirection', async () => {
    const sgdFlags = [0, F.L2, F.MOMENTUM | F.FIRST, F.MOMENTUM, F.MOMENTUM | F.NESTEROV | F.L2, F.MAXIMIZE | F.MOMENTUM];
    await check('sgd', sgdFlags.flatMap((flags, fi) => SIZES.map((n, s) => {
      const p = rand(n, s), g = rand(n, s + 1), buf = rand(n, s + 2);
      return { label: `flags=${flags} n=${n}`, run: (k) => k.sgd(p, g, flags & F.MOMENTUM ? buf : 0, n, 0.01, 0.9, 0.8, -0.05 * (fi + 1), flags), out: [[p, n, { ulps: ULP4 }], [buf, n, { ulps: ULP4 }]] };
    })));
    const adamFlags = [F.LERP_SMALL, F.LERP_SMALL | F.L2, F.LERP_SMALL | F.AMSGRAD, F.MAXIMIZE | F.AMSGRAD, F.LERP_SMALL | F.MAXIMIZE];
    await check('adam', adamFlags.flatMap((flags) => SIZES.map((n, s) => {
      const p = rand(n, s), g = rand(n, s + 1), m = rand(n, s + 2, 0.1), v = pos(n, s + 3), vmax = pos(n, s + 4);
      const a1 = Math.fround(1 - 0.9);
      return {
        label: `flags=${flags} n=${n}`,
        run: (k) => k.adam(p, g, m, v, flags & F.AMSGRAD ? vmax : 0, n, 0.01, 0.999, a1, Math.fround(1 - a1), 0.999, 0.001, Math.sqrt(1 - 0.999 ** 3), 1e-8, -1e-3 / (1 - 0.9 ** 3), flags),
        out: [[p, n, { ulps: ULP4 }], [m, n, { ulps: ULP4 }], [v, n, { ulps: ULP4 }], [vmax, n, { ulps: ULP4 }]],
      };
    })));
    await check('adamDirection', [F.LERP_SMALL, F.KEEP_M].flatMap((flags) => SIZES.map((n, s) => {
      const d = put(new Float32Array(n)), g = rand(n, s), m = rand(n, s + 2, 0.1), v = pos(n, s + 3);
      const a1 = Math.fround(0.1);
      return {
        label: `flags=${flags} n=${n}`,
        run: (k) => k.adamDirection(d, g, m, v, n, a1, Math.fround(1 - a1), 0.99, 0.01, 1 / (1 - 0.9 ** 2), Math.sqrt(1 - 0.99 ** 2), 1e-8, flags),
        out: [[d, n, { ulps: ULP4 }], [m, n, { ulps: ULP4 }], [v, n, { ulps: ULP4 }]],
      };
    })));
  });

  it('adafactor kernels: row, column and vector second moments, factored and vector applies', async () => {
    const w = 0.2, omw = Math.fround(1 - w), flags = F.LERP_SMALL;
    await mat('adafactorFactoredVar', (m, n, s) => {
      const r = pos(m, s), c = pos(n, s + 1), g = rand(m * n, s + 2), acc = put(new Float32Array(2 * n + 2));
      return { label: `${m}x${n}`, run: (k) => k.adafactorFactoredVar(r, c, g, (acc + 7) & ~7, m, n, w, omw, flags), out: [[r, m, sumTol(n)], [c, n, sumTol(m)]] };
    });
    covered.add('adafactorRowVar').add('adafactorColVar');
    await mat('adafactorFactoredApply', (m, n, s) => {
      const p = rand(m * n, s), g = rand(m * n, s + 1), r = pos(m, s + 2), c = pos(n, s + 3);
      return { label: `${m}x${n}`, run: (k) => k.adafactorFactoredApply(p, g, r, c, m, n, 0.7, 1e-30, -0.01), out: [[p, m * n, APPLY]] };
    });
    await vec('adafactorVecVar', (n, s) => { const v = pos(n, s), g = rand(n, s + 1); return { label: `n=${n}`, run: (k) => k.adafactorVecVar(v, g, n, 0.3, Math.fround(0.7), F.LERP_SMALL), out: [[v, n, { ulps: ULP4 }]] }; });
    await vec('adafactorVecApply', (n, s) => {
      const p = rand(n, s), g = rand(n, s + 1), v = pos(n, s + 2);
      return { label: `n=${n}`, run: (k) => k.adafactorVecApply(p, g, v, n, 1e-30, -0.01), out: [[p, n, APPLY]] };
    });
  });

  it('reductions and scalings: rowSumsq, colSumsq, rowMeanStd, normScale, scaleRowsCols, rowStandardize, sinkhornRound, sinkgdRound', async () => {
    await mat('rowSumsq', (m, n, s) => { const a = rand(m * n, s), o = put(new Float32Array(m)); return { label: `${m}x${n}`, run: (k) => k.rowSumsq(o, a, m, n, n), out: [[o, m, sumTol(n)]] }; });
    await mat('colSumsq', (m, n, s) => {
      const a = rand(m * n, s), o = put(new Float32Array(n)), acc = put(new Float32Array(2 * n + 2));
      return { label: `${m}x${n}`, run: (k) => k.colSumsq(o, (acc + 7) & ~7, a, m, n, n), out: [[o, n, sumTol(m)]] };
    });
    await mat('rowMeanStd', (m, n, s) => {
      // offset rows (mean ≫ spread) to test that the deviation is taken from the mean
      const a = put(randomF32(m * n, s).map((x, i) => x + (i % 3))), mean = put(new Float32Array(m)), std = put(new Float32Array(m));
      return { label: `${m}x${n}`, run: (k) => k.rowMeanStd(mean, std, a, m, n, n, 1), out: [[mean, m, sumTol(n, 1e-6)], [std, m, sumTol(n, 1e-5)]] };
    });
    await vec('normScale', (n, s) => {
      const x = put(randomF32(n, s).map((v, i) => (i % 5 === 0 ? 0 : Math.abs(v)))), o = put(new Float32Array(n));
      return { label: `n=${n}`, run: (k) => k.normScale(o, x, n, 7), out: [[o, n, { ulps: ULP4 }]] };
    });
    await mat('scaleRowsCols', (m, n, s) => {
      const a = rand(m * n, s), r = rand(m, s + 1), c = rand(n, s + 2), o1 = put(new Float32Array(m * n)), o2 = put(new Float32Array(m * n));
      return { label: `${m}x${n}`, run: (k) => { k.scaleRowsCols(o1, n, a, n, r, c, m, n); k.scaleRowsCols(o2, n, a, n, 0, c, m, n); k.scaleRowsCols(a, n, a, n, r, 0, m, n); }, out: [[o1, m * n, {}], [o2, m * n, {}], [a, m * n, {}]] };
    });
    await mat('rowStandardize', (m, n, s) => {
      const a = rand(m * n, s), mean = rand(m, s + 1, 0.1), std = pos(m, s + 2), o = put(new Float32Array(m * n));
      return { label: `${m}x${n}`, run: (k) => k.rowStandardize(o, n, a, n, mean, std, m, n, 0.05), out: [[o, m * n, { ulps: ULP4 }]] };
    });
    await mat('sinkhornRound', (m, n, s) => {
      const g = rand(m * n, s), a = put(new Float32Array(m)), b = put(new Float32Array(n).fill(1)), acc = put(new Float32Array(2 * n + 2));
      // two rounds: the second starts from the first's column scales
      const run = (k: Kernels) => { for (let r = 0; r < 2; r++) k.sinkhornRound(a, b, (acc + 7) & ~7, g, m, n, n, n, m); };
      return { label: `${m}x${n}`, run, out: [[a, m, sumTol(m + n, 1e-5)], [b, n, sumTol(m + n, 1e-5)]] };
    });
    // SinkGD's f32 round on s·G, the scale carried by the vectors; 2^120 makes some scales overflow to 0
    // (max|g| is a readback, covered by the sinkgd optimizer case below)
    for (const sc of [2 ** -3, 2 ** 4, 2 ** 120]) {
      await mat('sinkgdRound', (m, n, s) => {
        const g = rand(m * n, s), a = put(new Float32Array(m)), b = put(new Float32Array(n).fill(sc)), acc = put(new Float32Array(n));
        const run = (k: Kernels) => { for (let r = 0; r < 2; r++) k.sinkgdRound(a, b, acc, g, m, n, n, n, m, sc, 0); };
        return { label: `${m}x${n} s=${sc}`, run, out: [[a, m, sumTol(m + n, 1e-5)], [b, n, sumTol(m + n, 1e-5)]] };
      });
    }
  });

  it('fisher kernels: racsColSq (bit for bit: f32 sums in the same order), racsFixedPass, racsFinalPass, racsRsqrt, racsScaledApply', async () => {
    await mat('racsColSq', (m, n, s) => { const g = rand(m * n, s), acc = put(new Float32Array(n)); return { label: `${m}x${n}`, run: (k) => k.racsColSq(acc, g, m, n), out: [[acc, n, {}]] }; });
    // q_i sums n products (tree sum here), acc_j then sums m products of those q (sequential)
    await mat('racsFixedPass', (m, n, s) => {
      const g = rand(m * n, s), w = pos(n, s + 1), q = put(new Float32Array(m)), acc = put(new Float32Array(n));
      return { label: `${m}x${n}`, run: (k) => k.racsFixedPass(q, acc, g, w, m, n, 0.37), out: [[q, m, sumTol(n)], [acc, n, sumTol(m, sumTol(n).rel!)]] };
    });
    await mat('racsFinalPass', (m, n, s) => {
      const g = rand(m * n, s), w = pos(n, s + 1), c = rand(n, s + 2), q = put(new Float32Array(m)), t = put(new Float32Array(m));
      return { label: `${m}x${n}`, run: (k) => k.racsFinalPass(q, t, g, w, c, m, n, 1.7), out: [[q, m, sumTol(n)], [t, m, sumTol(n)]] };
    });
    await vec('racsRsqrt', (n, s) => { const x = rand(n, s), o = put(new Float32Array(n)); return { label: `n=${n}`, run: (k) => k.racsRsqrt(o, x, n, 0.01), out: [[o, n, { ulps: ULP4 }]] }; });
    await mat('racsScaledApply', (m, n, s) => {
      const p = rand(m * n, s), g = rand(m * n, s + 1), r = rand(m, s + 2), c = rand(n, s + 3);
      return { label: `${m}x${n}`, run: (k) => k.racsScaledApply(p, g, r, c, m, n, -0.3), out: [[p, m * n, { ulps: 1 }]] };
    });
  });

  /** Elementwise bound of gemm (src/kernels/gemm.ts) with Σ|a||b| and |β·c| formed by ref on absolute values. */
  async function gemmCase(kernel: 'gemm' | 'syrk', m: number, n: number, k: number, tA: number, tB: number, alpha: number, beta: number, seed: number) {
    const lda = (tA ? m : k) + 3, ldb = (tB ? k : n) + 1, ldc = n + 2;
    const aRows = tA ? k : m, bRows = tB ? n : k;
    const A = randomF32(aRows * lda, seed), B = randomF32(bRows * ldb, seed + 1);
    const C = beta === 0 ? new Float32Array(m * ldc).fill(NaN) : randomF32(m * ldc, seed + 2); // β = 0: C must not be read
    const abs = (x: Float32Array) => x.map(Math.abs);
    const pa = put(A), pb = put(B), pc = put(C);
    const qa = put(abs(A)), qb = put(abs(B)), qc = put(abs(C));
    covered.add(kernel);
    rt.upload(base, top - base);
    const refMem = { buffer: arena.buffer.slice(0) };
    const ref = refKernels(refMem);
    const run = (kk: Kernels, c: number, a: number, b: number, al: number, be: number) =>
      kernel === 'gemm' ? kk.gemm(c, ldc, a, lda, tA, b, ldb, tB, m, n, k, al, be, 0) : kk.syrk(c, ldc, a, lda, tA, n, k, al, be, 0);
    run(ref, pc, pa, pb, alpha, beta);
    run(ref, qc, qa, qb, Math.abs(alpha), Math.abs(beta));
    run(gpu, pc, pa, pb, alpha, beta);
    await rt.download([[pc, 4 * m * ldc]]);
    const g = new Float32Array(arena.buffer, pc, m * ldc), r = new Float32Array(refMem.buffer, pc, m * ldc), bound = new Float32Array(refMem.buffer, qc, m * ldc);
    const gamma = 2 * (k + 4) * 2 ** -24, eta = (k + 4) * 2 ** -149;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < ldc; j++) {
        const e = i * ldc + j;
        const label = `${kernel} ${m}×${n}×${k} tA=${tA} tB=${tB} α=${alpha} β=${beta} at (${i}, ${j})`;
        if (j >= n) {
          if (!Object.is(g[e], C[e])) expect.fail(`${label}: padding written`);
          continue;
        }
        const same = Number.isNaN(r[e]) ? Number.isNaN(g[e]) : Math.abs(g[e] - r[e]) <= gamma * bound[e] * 1.0001 + eta;
        if (!same) expect.fail(`${label}: ${g[e]} on webgpu, ${r[e]} on ref, bound ${gamma * bound[e] + eta}`);
        if (kernel === 'syrk' && i < n && j < n && !Object.is(g[e], g[j * ldc + i])) expect.fail(`${label}: not symmetric`);
      }
    }
    top = base;
  }

  it('gemm: the shape table, all transposes, padded strides, α and β (β = 0 never reads C)', async () => {
    let seed = 1;
    for (const [m, n, k] of GEMM_SHAPES) {
      for (const [tA, tB] of [[0, 0], [1, 0], [0, 1], [1, 1]]) await gemmCase('gemm', m, n, k, tA, tB, 1.25, tA ? 0.5 : 0, seed++);
    }
    await gemmCase('gemm', 7, 9, 0, 0, 0, 1, -2, seed++); // k = 0: C ← β·C
    await gemmCase('gemm', 7, 9, 5, 0, 1, 0, 0.5, seed++); // α = 0: A and B not read
  });

  it('syrk: Gram of rows and columns on the table\'s shapes, exactly symmetric', async () => {
    let seed = 1000;
    for (const [n, , k] of GEMM_SHAPES.filter(([m]) => m <= 520)) {
      for (const t of [0, 1]) await gemmCase('syrk', n, n, k, t, 1 - t, 0.9, t ? 0.1 : 0, seed++);
    }
  });

  it('outside a step, kernels that return a host scalar and the host decompositions throw BACKEND_UNAVAILABLE naming themselves', () => {
    for (const name of [...READBACK_KERNELS, ...HOST_KERNELS]) {
      expect(() => (gpu[name] as (...a: number[]) => number)(16, 16, 16, 16, 4, 4, 16, 16, 4, 0, 16))
        .toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(new RegExp(`kernel ${name} .*outside an optimizer step`)) }));
    }
  });

  it('a WebGPU validation error surfaces as DEVICE_ERROR at the next sync, and the runtime keeps working', async () => {
    rt.record('fill', [base / 4, 1, 0], [rt.maxGroups + 1, 1]); // more workgroups than the device allows
    await expect(rt.sync()).rejects.toMatchObject({ code: 'DEVICE_ERROR', message: expect.stringMatching(/WebGPU error: .*/) });
    await vec('fill', (n) => { const x = put(new Float32Array(n)); return { label: `again n=${n}`, run: (k) => k.fill(x, n, -1), out: [[x, n, {}]] }; });
  });

  it('host scalars (sumsq, maxAbs, dot) inside a step: read back and replayed, several per step and per parameter', async () => {
    registerOptimizer({
      name: 'test-scalars',
      summary: 'uses every readback kernel, and their values, in its update',
      matrixOnly: false,
      schema: {},
      handles: () => true,
      slots: () => [],
      step(ctx, p) {
        const k = ctx.kernels, n = p.size;
        const s = k.sumsq(p.g, n);
        k.axpy(p.p, p.g, n, -0.01 * Math.sqrt(s / n));
        const mx = k.maxAbs(p.g, n);
        k.scale(p.p, n, 1 / (1 + 0.01 * mx));
        const d = k.dot(p.g, p.p, n); // reads p after the two updates above
        k.axpy(p.p, p.g, n, -1e-4 * d);
      },
    });
    const { gpuOpt, refOpt } = await pair('test-scalars', {}, { clipGradNorm: 80 });
    covered.add('sumsq').add('maxAbs').add('dot');
    try {
      for (let t = 1; t <= 5; t++) {
        const g = gradsAt(t, t === 3 ? 10 : 1);
        gpuOpt.setGrads(g);
        refOpt.setGrads(g);
        const [a, b] = [await gpuOpt.step(), refOpt.step()];
        expect(Math.abs(a.gradNorm! - b.gradNorm!)).toBeLessThanOrEqual(1e-5 * b.gradNorm!);
      }
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 2e-5, 'after 5 steps with 9 host scalars each');
    } finally {
      await gpuOpt.close();
    }
  });

  it('the fisher and adafactor sums of squares inside a step, on the shape table (f32 sums against ref\'s f64)', async () => {
    registerOptimizer({
      name: 'test-sums',
      summary: 'stores adafactorFactoredSumsq, adafactorVecSumsq, racsNormSq and racsScaledSumsq of its gradient',
      matrixOnly: false,
      schema: {},
      handles: (shape) => shape.length === 2,
      slots: ([m, n]) => [{ name: 'out', length: 4 }, { name: 'r', length: m }, { name: 'c', length: n }, { name: 'v', length: m * n }],
      step(ctx, p) {
        const k = ctx.kernels, [m, n] = p.shape, { out, r, c, v } = p.slots;
        k.fillUniform(r, m, 3, 0);
        k.racsRsqrt(r, r, m, 0.01); // positive, in [1, 10]
        k.fillUniform(c, n, 4, 0);
        k.racsRsqrt(c, c, n, 0.01);
        k.fillUniform(v, m * n, 5, 0);
        k.racsRsqrt(v, v, m * n, 0.01);
        const sums = [
          k.adafactorFactoredSumsq(p.g, r, c, m, n, 0.7, 1e-6), k.adafactorVecSumsq(p.g, v, m * n, 1e-6), k.racsNormSq(r, r, m), k.racsScaledSumsq(p.g, r, c, m, n),
        ];
        sums.forEach((x, i) => k.fill(out + 4 * i, 1, x));
      },
    });
    const shapes = MATRICES.filter(([m, n]) => m * n > 0);
    const params = Object.fromEntries(shapes.map(([m, n], i) => [`p${i}`, { shape: [m, n], data: randomF32(m * n, 40 + i) }]));
    const grads = Object.fromEntries(shapes.map(([m, n], i) => [`p${i}`, randomF32(m * n, 50 + i)]));
    const gpuOpt = (await createOptimizer({ optimizer: 'test-sums', params, backend: 'webgpu' })) as Optimizer<Promise<StepInfo>>;
    const refOpt = await createOptimizer({ optimizer: 'test-sums', params, backend: 'ref' });
    for (const name of ['adafactorFactoredSumsq', 'adafactorVecSumsq', 'racsNormSq', 'racsScaledSumsq']) covered.add(name);
    try {
      gpuOpt.setGrads(grads);
      refOpt.setGrads(grads);
      await gpuOpt.step();
      refOpt.step();
      await gpuOpt.download();
      shapes.forEach(([m, n], i) => {
        const g = gpuOpt.state(`p${i}`).out, r = refOpt.state(`p${i}`).out;
        const tols = [sumTol(m * n, 1e-6), sumTol(m * n, 1e-6), sumTol(m), sumTol(m * n)];
        tols.forEach((tol, j) => {
          if (mismatch(g.subarray(j, j + 1), r.subarray(j, j + 1), tol) >= 0) expect.fail(`sum ${j} of ${m}x${n}: ${g[j]} on webgpu, ${r[j]} on ref`);
        });
      });
    } finally {
      await gpuOpt.close();
    }
  });

  it('covers every kernel the backend implements', () => {
    const { implemented } = webgpuKernels(rt);
    expect(implemented.filter((n) => !covered.has(n))).toEqual([]);
    expect(implemented.length + HOST_KERNELS.length).toBe(KERNEL_NAMES.length);
  });
});

// ----------------------------------------------------------------------------------------------------
// Optimizers

const SHAPES: Record<string, number[]> = { w: [37, 101], u: [64, 5], b: [7] };
/** For the optimizers with decompositions or many readbacks per step: small, both orientations, a batch of matrices, a vector. */
const SMALL: Record<string, number[]> = { w: [12, 20], u: [16, 5], t: [2, 3, 4], b: [7] };

async function pair(optimizer: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}, shapes = SHAPES) {
  const params = Object.fromEntries(Object.entries(shapes).map(([name, shape], i) => [name, { shape, data: randomF32(shape.reduce((a, b) => a * b, 1), 10 + i) }]));
  const gpuOpt = (await createOptimizer({ optimizer, options, params, backend: 'webgpu', ...extra })) as Optimizer<Promise<StepInfo>>;
  const refOpt = await createOptimizer({ optimizer, options, params, backend: 'ref', ...extra });
  return { gpuOpt, refOpt };
}

const gradsAt = (step: number, scale = 1, shapes = SHAPES): Record<string, Float32Array> =>
  Object.fromEntries(Object.entries(shapes).map(([name, shape], i) => [name, randomF32(shape.reduce((a, b) => a * b, 1), 1000 * step + i, scale)]));

/** Optimizer tolerances relative to max(1, |p_ref|) after 20 steps (see the header). */
const TOL = { sums: 2e-5, decomp: 1e-4 };

/** The device runtime behind an optimizer (for its transfer counters). */
const runtimeOf = (opt: Optimizer<Promise<StepInfo>>): GpuRuntime => (opt as unknown as { gpu: GpuRuntime }).gpu;

function expectClose(gpuOpt: Optimizer<Promise<StepInfo>>, refOpt: Optimizer, rel: number, what: string): void {
  for (const name of gpuOpt.paramNames) {
    const g = gpuOpt.param(name), r = refOpt.param(name);
    for (let i = 0; i < r.length; i++) {
      if (!(Math.abs(g[i] - r[i]) <= rel * Math.max(1, Math.abs(r[i])))) {
        expect.fail(`${what}: ${name}[${i}] is ${g[i]} on webgpu, ${r[i]} on ref`);
      }
    }
  }
}

describe.skipIf(!got.device)('webgpu optimizers against ref over 20 steps', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['sgd', { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }, 4e-6],
    ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, maximize: true }, 4e-6],
    ['adam', { lr: 1e-2, weightDecay: 0.1, amsgrad: true }, 4e-6],
    ['adamw', { lr: 1e-2, betas: [0.8, 0.99] }, 4e-6],
    ['sinkgd', { lr: 0.05, iterations: 3, weightDecay: 0.01 }, 2e-5],
    // host scalars (Frobenius norms) by readback and replay; Newton–Schulz through gemm and syrk
    ['muon', { lr: 0.02 }, 2e-5],
    ['swan', { lr: 0.02 }, 2e-5],
  ];
  // On SMALL shapes: host reads (row means, limiter φ) and sums of squares by readback; decompositions
  // on the host at refresh steps (K = 5: refreshes at steps 1, 6, 11, 16 or 5, 10, 15, 20).
  const more: [string, Record<string, unknown>, number][] = [
    ['adafactor', { lr: 1e-2, weightDecay: 0.01 }, TOL.sums],
    ['racs', { lr: 0.2, scale: 0.05 }, TOL.sums],
    ['galore', { lr: 0.05, rank: 3, updateInterval: 5 }, TOL.decomp],
    ['alice', { lr: 0.05, rank: 3, leading: 2, updateInterval: 5 }, TOL.decomp],
    ['alice0', { lr: 0.05, rank: 3, leading: 2, updateInterval: 5 }, TOL.decomp],
    ['eigenadam', { lr: 0.01, updateInterval: 5 }, TOL.decomp],
    ['adadiag', { lr: 0.01, updateInterval: 5 }, TOL.decomp],
    ['adadiagpp', { lr: 0.01, updateInterval: 5 }, TOL.decomp],
    ['soap', { lr: 0.01, updateInterval: 5 }, TOL.decomp],
    // ε = 1e-2: with the default 1e-4, λ^{-1/4} of eigenvalues at the floor amplifies eigh's round-off
    // (wasm and ref differ by 2e-3 after 20 steps on the CPU already)
    ['shampoo', { lr: 0.05, updateInterval: 5, eps: 1e-2 }, TOL.decomp],
    ['adadiagAdafactor', { lr: 0.02, updateInterval: 5 }, TOL.decomp],
  ];
  it.each([...cases.map((c) => [...c, SHAPES] as const), ...more.map((c) => [...c, SMALL] as const)])('%s %j, with clipping, a schedule and state', async (optimizer, options, rel, shapes) => {
    const extra = { clipGradNorm: 80, schedule: { type: 'cosine', warmupSteps: 3, totalSteps: 20 } };
    const { gpuOpt, refOpt } = await pair(optimizer, options, extra, shapes);
    try {
      expect(gpuOpt.backend).toBe('webgpu');
      for (let t = 1; t <= 20; t++) {
        const g = gradsAt(t, t % 4 === 0 ? 10 : 1, shapes); // every 4th step is clipped (clip at 80 on SHAPES)
        gpuOpt.setGrads(g);
        refOpt.setGrads(g);
        const [a, b] = [await gpuOpt.step(), refOpt.step()];
        expect(a.step).toBe(b.step);
        expect(a.lrFactor).toBe(b.lrFactor);
        expect(Math.abs(a.gradNorm! - b.gradNorm!)).toBeLessThanOrEqual(1e-5 * b.gradNorm!);
      }
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, rel, `${optimizer} after 20 steps`);
      for (const name of gpuOpt.paramNames) {
        const sg = gpuOpt.state(name), sr = refOpt.state(name);
        for (const slot of Object.keys(sr)) {
          const i = mismatch(sg[slot], sr[slot], { rel: rel * 4, abs: rel });
          if (i >= 0) expect.fail(`${optimizer} state ${name}/${slot}[${i}]: ${sg[slot][i]} vs ${sr[slot][i]}`);
        }
      }
    } finally {
      await gpuOpt.close();
    }
  });

  it('grad() views are uploaded at every step; parameters need download(); save/load and setParams reach the device', async () => {
    const { gpuOpt, refOpt } = await pair('adamw', { lr: 1e-2 });
    try {
      for (let t = 1; t <= 3; t++) {
        const g = gradsAt(t);
        for (const name of gpuOpt.paramNames) {
          gpuOpt.grad(name).set(g[name]);
          refOpt.grad(name).set(g[name]);
        }
        await gpuOpt.step();
        refOpt.step();
      }
      expect(() => gpuOpt.param('w')).toThrow(/download/);
      expect(() => gpuOpt.getParams()).toThrow(FisheroptError);
      expect(() => gpuOpt.save()).toThrow(/download/);
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 4e-6, 'after grad() views');
      gpuOpt.setGrads(gradsAt(4));
      refOpt.setGrads(gradsAt(4));
      await gpuOpt.step();
      refOpt.step();
      gpuOpt.load(refOpt.save({ params: false })); // state only: the device keeps its newer parameters
      expect(() => gpuOpt.param('w')).toThrow(/download/);
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 4e-6, 'after loading state without parameters');
      const blob = refOpt.save();
      gpuOpt.load(blob); // ref's state and params, bit for bit, onto the device
      const w = randomF32(37 * 101, 5);
      gpuOpt.setParams({ w });
      refOpt.setParams({ w });
      const g = gradsAt(9);
      gpuOpt.setGrads(g);
      refOpt.setGrads(g);
      await gpuOpt.step();
      refOpt.step();
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 4e-6, 'after load and setParams');
    } finally {
      await gpuOpt.close();
    }
  });

  it('non-finite gradients: throw names the element and changes nothing; skip skips on the device (also mid-replay, and before host decompositions upload)', async () => {
    const runs = [['adam', 'throw'], ['adam', 'skip'], ['muon', 'throw'], ['muon', 'skip'], ['soap', 'throw'], ['soap', 'skip']] as const;
    for (const [optimizer, nonFinite] of runs) {
      const shapes = optimizer === 'soap' ? SMALL : SHAPES;
      const { gpuOpt, refOpt } = await pair(optimizer, { lr: 1e-2 }, { nonFinite }, shapes);
      try {
        const g = gradsAt(1, 1, shapes);
        g.u[17] = NaN;
        gpuOpt.setGrads(g);
        refOpt.setGrads(g);
        if (nonFinite === 'throw') {
          await expect(gpuOpt.step()).rejects.toThrow(/gradient of "u" has a non-finite value \(NaN at element 17\)/);
          expect(() => refOpt.step()).toThrow(/element 17/);
        } else {
          const info = await gpuOpt.step();
          expect(info).toMatchObject({ step: 0, skipped: true });
          expect(gpuOpt.skippedSteps).toBe(1);
        }
        await gpuOpt.download();
        expectClose(gpuOpt, refOpt, 0, 'after a non-finite gradient');
        for (const v of Object.values(gpuOpt.state('w'))) expect(v.every((x) => x === 0)).toBe(true);
        // the device is usable afterwards: a finite step matches ref
        gpuOpt.setGrads(gradsAt(2, 1, shapes));
        refOpt.setGrads(gradsAt(2, 1, shapes));
        await gpuOpt.step();
        refOpt.step();
        await gpuOpt.download();
        expectClose(gpuOpt, refOpt, 2e-5, `${optimizer} after a finite step`);
      } finally {
        await gpuOpt.close();
      }
    }
  });

  it('nonFinite: ignore without clipping: steps need no readback and still match', async () => {
    const { gpuOpt, refOpt } = await pair('sgd', { lr: 0.1, momentum: 0.5 }, { nonFinite: 'ignore' });
    try {
      for (let t = 1; t <= 5; t++) {
        gpuOpt.setGrads(gradsAt(t));
        refOpt.setGrads(gradsAt(t));
        expect(await gpuOpt.step()).toEqual(refOpt.step());
      }
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 4e-6, 'ignore');
    } finally {
      await gpuOpt.close();
    }
  });

  it('addParams grows the device arena and keeps existing values', async () => {
    const { gpuOpt, refOpt } = await pair('adamw', { lr: 1e-2 });
    try {
      gpuOpt.setGrads(gradsAt(1));
      refOpt.setGrads(gradsAt(1));
      await gpuOpt.step();
      refOpt.step();
      expect(() => gpuOpt.addParams({ z: { shape: [3] } })).toThrow(/download/);
      await gpuOpt.download();
      const big = { z: { shape: [512, 1024], data: randomF32(512 * 1024, 77) } };
      gpuOpt.addParams(big);
      refOpt.addParams(big);
      const g = { ...gradsAt(2), z: randomF32(512 * 1024, 78) };
      gpuOpt.setGrads(g);
      refOpt.setGrads(g);
      await gpuOpt.step();
      refOpt.step();
      await gpuOpt.download();
      expectClose(gpuOpt, refOpt, 4e-6, 'after addParams');
    } finally {
      await gpuOpt.close();
    }
  });

  it('readbacks per step: one per host scalar or host read, plus the status; steady steps move no decomposition data', async () => {
    const perStep = async (optimizer: string, options: Record<string, unknown>, steps: number) => {
      const { gpuOpt, refOpt } = await pair(optimizer, options, { clipGradNorm: 80 }, SMALL);
      const rt = runtimeOf(gpuOpt);
      const out: { readbacks: number; uploads: number; hostKernels: number }[] = [];
      try {
        for (let t = 1; t <= steps; t++) {
          gpuOpt.setGrads(gradsAt(t, 1, SMALL));
          refOpt.setGrads(gradsAt(t, 1, SMALL));
          const before = { ...rt.stats };
          await gpuOpt.step();
          refOpt.step();
          out.push({ readbacks: rt.stats.readbacks - before.readbacks, uploads: rt.stats.uploads - before.uploads, hostKernels: rt.stats.hostKernels - before.hostKernels });
        }
        await gpuOpt.download();
        expectClose(gpuOpt, refOpt, TOL.decomp, `${optimizer} after ${steps} steps`);
      } finally {
        await gpuOpt.close();
      }
      return out;
    };
    // Adafactor: RMS(θ), the row mean and Σu² for each of w and u; RMS(θ) and per matrix of the batch t
    // the row mean and Σu²; RMS(θ) and Σu² for b; the status.
    for (const s of await perStep('adafactor', { lr: 1e-2 }, 3)) expect(s).toEqual({ readbacks: 3 + 3 + (1 + 2 * 2) + 2 + 1, uploads: 0, hostKernels: 0 });
    // RACS (5 iterations) on w and u: 2·4 norms in the fixed point, the last ŝ norm, ‖G̃‖² and φ; b on AdamW.
    for (const s of await perStep('racs', { lr: 0.2 }, 3)) expect(s).toEqual({ readbacks: 2 * 11 + 1, uploads: 0, hostKernels: 0 });
    // Refresh steps (t = 1, 4 with K = 3) run decompositions on the host; the other steps read only the status.
    for (const optimizer of ['soap', 'shampoo', 'galore']) {
      const stats = await perStep(optimizer, { lr: 1e-2, updateInterval: 3, ...(optimizer === 'shampoo' ? { eps: 1e-2 } : {}) }, 5);
      stats.forEach((s, i) => {
        const refresh = i === 0 || i === 3;
        if (refresh) expect(s.hostKernels, `${optimizer} step ${i + 1}`).toBeGreaterThan(0);
        // Shampoo: one eigh per side of w and u, each run once however often the step is replayed
        if (refresh && optimizer === 'shampoo') expect(s.hostKernels).toBe(4);
        if (refresh) expect(s.uploads, `${optimizer} step ${i + 1}`).toBeGreaterThan(0);
        else expect(s, `${optimizer} step ${i + 1}`).toEqual({ readbacks: 1, uploads: 0, hostKernels: 0 });
      });
    }
  });

  it('every built-in optimizer passes the probe at creation; one that reads StepContext.memory fails there, clearly', async () => {
    registerOptimizer({
      name: 'test-memory-read',
      summary: 'reads the arena through StepContext.memory',
      matrixOnly: false,
      schema: {},
      handles: () => true,
      slots: () => [],
      step(ctx, p) {
        ctx.kernels.axpy(p.p, p.g, p.size, -new Float32Array(ctx.memory.buffer, p.g, 1)[0]);
      },
    });
    await expect(createOptimizer({ optimizer: 'test-memory-read', params: { w: { shape: [8, 4] } }, backend: 'webgpu' }))
      .rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/optimizer "test-memory-read" reads StepContext.memory .* through StepContext.host/) });
    for (const optimizer of optimizerNames().filter((n) => !n.startsWith('test-'))) {
      const opt = await createOptimizer({ optimizer, params: { w: { shape: [6, 4] }, b: { shape: [3] } }, backend: 'webgpu' });
      await opt.close();
    }
  });

});

describe.skipIf(!got.device)('webgpu end to end', () => {
  it('the spirals MLP trains on webgpu as on wasm (Muon and its AdamW fallback, 40 steps)', async () => {
    const cfg = { optimizer: 'muon', steps: 40 } as const;
    const [gpuRun, wasmRun] = [await trainSpirals({ ...cfg, backend: 'webgpu' }), await trainSpirals({ ...cfg, backend: 'wasm' })];
    expect(gpuRun.backend).toBe('webgpu');
    expect(gpuRun.loss).toBeLessThan(0.8 * gpuRun.initialLoss);
    expect(Math.abs(gpuRun.loss - wasmRun.loss)).toBeLessThanOrEqual(1e-3 * wasmRun.loss);
  });
});

describe.skipIf(!got.device)('webgpu device loss', () => {
  it('after the device is lost, calls fail with DEVICE_LOST', async () => {
    setWebGpuDevice(undefined);
    const own = await acquireDevice(); // a device of its own, to lose
    try {
      const opt = (await createOptimizer({ optimizer: 'sgd', params: { w: { shape: [4] } }, backend: 'webgpu' })) as Optimizer<Promise<StepInfo>>;
      own.device!.destroy();
      await own.device!.lost;
      await expect(opt.step()).rejects.toMatchObject({ code: 'DEVICE_LOST', message: expect.stringMatching(/the WebGPU device was lost \(destroyed/) });
      expect(() => opt.setGrads({ w: [1, 2, 3, 4] })).toThrow(/device was lost/);
      await opt.close();
    } finally {
      setWebGpuDevice(got.device, got.description);
    }
  });
});

describe('webgpu fallback', () => {
  it('without a device, backend webgpu runs on wasm, says why, and step() still returns a promise', async () => {
    const warn = console.warn;
    const seen: string[] = [];
    console.warn = (m: string) => seen.push(m);
    setWebGpuDevice(null);
    try {
      const opt = await createOptimizer({ optimizer: 'adamw', params: { w: { shape: [3], data: [1, 2, 3] } }, backend: 'webgpu' });
      expect(opt.backend).toBe('wasm');
      expect(opt.fallbackReason).toMatch(/webgpu backend is unavailable .*setWebGpuDevice\(null\).*using wasm/);
      expect(seen.join('\n')).toMatch(/fisheropt: the webgpu backend is unavailable/);
      opt.setGrads({ w: [1, 1, 1] });
      const p = opt.step();
      expect(p).toBeInstanceOf(Promise);
      expect((await p).step).toBe(1);
      await opt.download(); // no-op off the device
      expect(opt.param('w')[0]).toBeLessThan(1);
    } finally {
      console.warn = warn;
      setWebGpuDevice(got.device ?? null, got.device ? got.description : undefined);
    }
  });
});
