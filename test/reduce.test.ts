/**
 * Reductions and scalings: wasm equals ref bit for bit on odd sizes, strided views, aliasing and
 * special values; hand-checked values; property tests over random shapes and values.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { refKernels } from '../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import type { Kernels } from '../dist/kernels.js';
import { REDUCE_KERNELS } from '../dist/kernels/reduce.js';
import { firstBitDiff, randomF32 } from './helpers/rng.js';

const arena = new Arena({ initialBytes: 64 << 20 });
let ref: Kernels;
let wasm: Kernels;
beforeAll(async () => {
  ref = refKernels(arena.memory);
  wasm = instantiateWasm(await loadWasmModule(), arena.memory);
});

/** Copy `data` into a fresh arena region (optionally misaligned by `skew` bytes); returns its pointer. */
function put(data: ArrayLike<number>, skew = 0): number {
  const p = arena.alloc(4 * data.length + 16) + skew;
  new Float32Array(arena.buffer, p, data.length).set(data);
  return p;
}
const view = (p: number, n: number) => new Float32Array(arena.buffer, p, n);

/** Run `fn` on ref and wasm over separate copies of the same inputs; outputs and returns must match bitwise. */
function both(inputs: Float32Array[], outLens: number[], fn: (k: Kernels, ins: number[], outs: number[]) => number | void, skew = 0) {
  const run = (k: Kernels) => {
    const ins = inputs.map((x) => put(x, skew));
    const outs = outLens.map((n) => put(new Float32Array(n).fill(-7), skew));
    const ret = fn(k, ins, outs);
    return { ret, outs: outs.map((p, i) => view(p, outLens[i]).slice()), ins: ins.map((p, i) => view(p, inputs[i].length).slice()) };
  };
  const a = run(ref);
  const b = run(wasm);
  if (a.ret !== undefined) expect(Object.is(a.ret, b.ret) || (Number.isNaN(a.ret) && Number.isNaN(b.ret as number)), `return ${a.ret} vs ${b.ret}`).toBe(true);
  [...a.outs, ...a.ins].forEach((x, i) => {
    const y = [...b.outs, ...b.ins][i];
    const d = firstBitDiff(x, y);
    expect(d, `buffer ${i} element ${d}: ref ${x[d]} vs wasm ${y[d]}`).toBe(-1);
  });
  return a;
}

const SHAPES: [number, number][] = [[1, 1], [1, 7], [7, 1], [3, 5], [37, 101], [129, 3], [4, 4], [2, 9], [64, 33]];

describe('reductions: wasm = ref bit for bit', () => {
  it.each(SHAPES)('%i×%i, with a padded row stride and misaligned pointers', (m, n) => {
    for (const [lda, skew] of [[n, 0], [n + 3, 4], [n + 1, 8]]) {
      const a = randomF32(m * lda, m * 1000 + n, 3);
      const r = randomF32(m, 7), c = randomF32(n, 8);
      both([a], [m], (k, [pa], [o]) => k.rowSumsq(o, pa, m, n, lda), skew);
      both([a, new Float32Array(2 * n + 2)], [n], (k, [pa, acc], [o]) => k.colSumsq(o, acc + ((acc & 7) ? 8 - (acc & 7) : 0), pa, m, n, lda), skew);
      both([a], [m, m], (k, [pa], [mu, sd]) => k.rowMeanStd(mu, sd, pa, m, n, lda, 0), skew);
      both([a], [m, m], (k, [pa], [mu, sd]) => k.rowMeanStd(mu, sd, pa, m, n, lda, 1), skew);
      for (const [useR, useC] of [[1, 1], [1, 0], [0, 1], [0, 0]]) {
        both([a, r, c], [m * (n + 2)], (k, [pa, pr, pc], [o]) => k.scaleRowsCols(o, n + 2, pa, lda, useR ? pr : 0, useC ? pc : 0, m, n), skew);
        // In place (out = A, same stride).
        both([a, r, c], [], (k, [pa, pr, pc]) => k.scaleRowsCols(pa, lda, pa, lda, useR ? pr : 0, useC ? pc : 0, m, n), skew);
      }
      both([a], [], (k, [pa]) => k.maxAbs(pa, m * lda), skew);
      both([a, a.map((x) => x * 0.5 + 1)], [], (k, [x, y]) => k.dot(x, y, m * lda), skew);
      // Two SR-Sinkhorn rounds from a non-trivial b (the second round reads the first's b).
      both([a, c.map(Math.abs), new Float32Array(2 * n + 2)], [m], (k, [pa, pb, acc], [pa2]) => {
        const acc8 = acc + ((acc & 7) ? 8 - (acc & 7) : 0);
        k.sinkhornRound(pa2, pb, acc8, pa, m, n, lda, n, m);
        k.sinkhornRound(pa2, pb, acc8, pa, m, n, lda, n, m);
      }, skew);
      both([a, r, c.map(Math.abs)], [m * (n + 2)], (k, [pa, mu, sd], [o]) => k.rowStandardize(o, n + 2, pa, lda, mu, sd, m, n, 0.25), skew);
      both([a, r, c.map(Math.abs)], [], (k, [pa, mu, sd]) => k.rowStandardize(pa, lda, pa, lda, mu, sd, m, n, 1e-30), skew);
      // Three f32 SinkGD rounds from a non-trivial β, with the scale s = 1/4 and s = 2^40 (every row-block
      // size and column tail of the blocked loops).
      for (const s of [0.25, 2 ** 40]) {
        both([a, c.map(Math.abs), new Float32Array(n)], [m], (k, [pa, pb, acc], [al]) => {
          let mx = 0;
          for (let l = 0; l < 3; l++) mx += k.sinkgdRound(al, pb, acc, pa, m, n, lda, n, m, s, l === 1 ? 1 : 0);
          return mx;
        }, skew);
      }
    }
  });

  it('sinkgdRound: zero rows and columns, tiny and huge entries, NaN; scales past the f32 range give 0', () => {
    const m = 6, n = 11;
    for (const [tag, fill] of [['zeros', 0], ['tiny', 1e-44], ['huge', 3e38], ['NaN', Number.NaN]] as const) {
      const a = randomF32(m * n, 98, 2);
      for (let j = 0; j < n; j++) a[2 * n + j] = fill; // row 2
      for (let i = 0; i < m; i++) a[i * n + 4] = tag === 'NaN' ? a[i * n + 4] : fill; // column 4
      const s = tag === 'huge' ? 2 ** -127 : 1;
      const out = both([a, new Float32Array(n).fill(s), new Float32Array(n)], [m], (k, [pa, pb, acc], [al]) => {
        k.sinkgdRound(al, pb, acc, pa, m, n, n, n, m, s, 0);
        return k.sinkgdRound(al, pb, acc, pa, m, n, n, n, m, s, 1);
      });
      const [alpha] = out.outs;
      const beta = out.ins[1];
      if (tag === 'zeros') {
        expect(alpha[2]).toBe(0);
        expect(beta[4]).toBe(0);
      }
      // 1e-44² is 0 in f32: that row and column count as zero
      if (tag === 'tiny') expect(alpha[2]).toBe(0);
      if (tag === 'NaN') expect(Number.isNaN(alpha[2])).toBe(true);
      if (tag !== 'NaN') for (const x of [...alpha, ...beta]) expect(Number.isFinite(x)).toBe(true);
    }
    // s = 2^100 on a row of norm 1: α = 2^100·√n overflows f32 and becomes 0
    const big = both([Float32Array.from([1, 0]), Float32Array.from([2 ** 100, 2 ** 100]), new Float32Array(2)], [1],
      (k, [g, b, acc], [al]) => k.sinkgdRound(al, b, acc, g, 1, 2, 2, 2 ** 60, 1, 2 ** 100, 0));
    expect(big.outs[0][0]).toBe(0);
  });

  it('sinkhornRound: zero rows and columns, tiny and huge entries, NaN', () => {
    const m = 5, n = 7;
    for (const [tag, fill] of [['zeros', 0], ['tiny', 1e-44], ['huge', 3e38], ['NaN', Number.NaN]] as const) {
      const a = randomF32(m * n, 99, 2);
      for (let j = 0; j < n; j++) a[2 * n + j] = fill; // row 2
      for (let i = 0; i < m; i++) a[i * n + 4] = tag === 'NaN' ? a[i * n + 4] : fill; // column 4
      const out = both([a, new Float32Array(n).fill(1), new Float32Array(2 * n + 2)], [m], (k, [pa, pb, acc], [pa2]) => {
        k.sinkhornRound(pa2, pb, acc + ((acc & 7) ? 8 - (acc & 7) : 0), pa, m, n, n, n, m);
      });
      const [rowScale] = out.outs;
      const b = out.ins[1];
      if (tag === 'zeros') {
        expect(rowScale[2]).toBe(0);
        expect(b[4]).toBe(0);
      }
      if (tag === 'NaN') expect(Number.isNaN(rowScale[2])).toBe(true);
      if (tag !== 'NaN') for (const x of [...rowScale, ...b]) expect(Number.isFinite(x)).toBe(true);
    }
  });

  it('special values: ±0, ±Inf, NaN, subnormals, huge', () => {
    const specials = Float32Array.from([0, -0, 1e-45, -1e-40, 3e38, -3e38, Infinity, -Infinity, Number.NaN, 1, -2, 0.5, 7]);
    for (let len = 1; len <= specials.length; len++) {
      const x = specials.slice(0, len);
      both([x], [1], (k, [p], [o]) => k.rowSumsq(o, p, 1, len, len));
      both([x], [], (k, [p]) => k.maxAbs(p, len));
      both([x, x], [], (k, [p, q]) => k.dot(p, q, len));
      both([x], [1, 1], (k, [p], [mu, sd]) => k.rowMeanStd(mu, sd, p, 1, len, len, 0));
    }
  });
});

describe('reductions: hand-checked values', () => {
  it('row and column sums of squares, mean/std, scaling, max-abs, dot', () => {
    // A = [[1, 2], [3, 4]]: rows 1+4 = 5, 9+16 = 25; columns 1+9 = 10, 4+16 = 20
    const a = both([Float32Array.from([1, 2, 3, 4])], [2], (k, [p], [o]) => k.rowSumsq(o, p, 2, 2, 2));
    expect(Array.from(a.outs[0])).toEqual([5, 25]);
    const c = both([Float32Array.from([1, 2, 3, 4]), new Float32Array(6)], [2], (k, [p, acc], [o]) => k.colSumsq(o, acc + ((acc & 7) ? 8 - (acc & 7) : 0), p, 2, 2, 2));
    expect(Array.from(c.outs[0])).toEqual([10, 20]);
    // [1, 2, 3, 4]: mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25, sample 5/3
    const s = both([Float32Array.from([1, 2, 3, 4])], [1, 1, 1, 1], (k, [p], [m0, s0, m1, s1]) => {
      k.rowMeanStd(m0, s0, p, 1, 4, 4, 0);
      k.rowMeanStd(m1, s1, p, 1, 4, 4, 1);
    });
    expect(s.outs.map((x) => x[0])).toEqual([2.5, Math.fround(Math.sqrt(1.25)), 2.5, Math.fround(Math.sqrt(5 / 3))]);
    // out_ij = r_i·a_ij·c_j with r = [2, −1], c = [10, 0.5]: [[20, 2], [−30, −2]]
    const sc = both([Float32Array.from([1, 2, 3, 4]), Float32Array.from([2, -1]), Float32Array.from([10, 0.5])], [4],
      (k, [p, r, cc], [o]) => k.scaleRowsCols(o, 2, p, 2, r, cc, 2, 2));
    expect(Array.from(sc.outs[0])).toEqual([20, 2, -30, -2]);
    expect(both([Float32Array.from([-3, 2, 1, -0.5, 2.5])], [], (k, [p]) => k.maxAbs(p, 5)).ret).toBe(3);
    expect(both([Float32Array.from([1, 2, 3, 4, 5]), Float32Array.from([4, 5, 6, 7, 8])], [], (k, [x, y]) => k.dot(x, y, 5)).ret).toBe(4 + 10 + 18 + 28 + 40);
    expect(both([Float32Array.from([1, Number.NaN, 3])], [], (k, [p]) => k.maxAbs(p, 3)).ret).toBeNaN();
    expect(both([new Float32Array(0)], [], (k, [p]) => k.maxAbs(p, 0)).ret).toBe(0);
    // rowStandardize of [1, 2, 3, 4] with mean 2.5, std √1.25: (x − 2.5)/√1.25 = ±1.3416…, ±0.4472…
    const st = both([Float32Array.from([1, 2, 3, 4]), Float32Array.from([2.5]), Float32Array.from([Math.sqrt(1.25)])], [4],
      (k, [p, mu, sd], [o]) => k.rowStandardize(o, 4, p, 4, mu, sd, 1, 4, 1e-30));
    const r = Math.fround(1 / Math.fround(Math.sqrt(1.25)));
    expect(Array.from(st.outs[0])).toEqual([-1.5, -0.5, 0.5, 1.5].map((x) => Math.fround(x * r)));
    // std below eps is floored: (x − 0)·(1/0.5)
    const fl = both([Float32Array.from([1, -3]), Float32Array.from([0]), Float32Array.from([1e-3])], [2],
      (k, [p, mu, sd], [o]) => k.rowStandardize(o, 2, p, 2, mu, sd, 1, 2, 0.5));
    expect(Array.from(fl.outs[0])).toEqual([2, -6]);
    // One SR-Sinkhorn round on G = [[3, 4], [0, 0], [6, 8]] from b = 1: rows 25, 0, 100 → a = [√2/5, 0, √2/10];
    // a_i·g_i = [0.6√2, 0.8√2] for rows 0 and 2 → column sums 2·0.72 = 1.44 and 2·1.28 = 2.56 →
    // b = [√3/1.2, √3/1.6] (columns to norm √3, rows to √2).
    const sk = both([Float32Array.from([3, 4, 0, 0, 6, 8]), Float32Array.from([1, 1]), new Float32Array(6)], [3],
      (k, [g, b, acc], [a]) => k.sinkhornRound(a, b, acc + ((acc & 7) ? 8 - (acc & 7) : 0), g, 3, 2, 2, 2, 3));
    expect(Array.from(sk.outs[0])).toEqual([Math.fround(Math.sqrt(2) / 5), 0, Math.fround(Math.sqrt(2) / 10)]);
    const bOut = Array.from(sk.ins[1]);
    expect(bOut[0]).toBeCloseTo(Math.sqrt(3) / 1.2, 6);
    expect(bOut[1]).toBeCloseTo(Math.sqrt(3) / 1.6, 6);
  });

  it('sinkgdRound: the f32 round on s·G carries s in α and β', () => {
    // G = [[3, 4], [0, 0], [6, 8]], s = 1/8, β = s·1: the row sums of (g·β)² are 25/64, 0, 100/64 →
    // a = [√2·8/5, 0, √2·8/10], α = s·a = [√2/5, 0, √2/10] (as with s = 1); (g·α)² columns: 2·0.72 = 1.44 and
    // 2·1.28 = 2.56 → b = [√3/1.2, √3/1.6], β = s·b.
    const sk = both([Float32Array.from([3, 4, 0, 0, 6, 8]), Float32Array.from([0.125, 0.125]), new Float32Array(2)], [3],
      (k, [g, b, acc], [a]) => k.sinkgdRound(a, b, acc, g, 3, 2, 2, 2, 3, 0.125, 1));
    expect(sk.ret).toBe(8);
    expect(Array.from(sk.outs[0])).toEqual([Math.fround(Math.sqrt(2) / 5), 0, Math.fround(Math.sqrt(2) / 10)]);
    const beta = Array.from(sk.ins[1]);
    expect(beta[0]).toBeCloseTo(Math.sqrt(3) / 1.2 / 8, 6);
    expect(beta[1]).toBeCloseTo(Math.sqrt(3) / 1.6 / 8, 6);
    // acc keeps the column sums of squares of Diag(α)·G (f32 sums of f32 squares)
    expect(sk.ins[2][0]).toBeCloseTo(1.44, 6);
    expect(sk.ins[2][1]).toBeCloseTo(2.56, 6);
  });

  it('the lane order is the documented one: (s0 + s1) + (s2 + s3)', () => {
    // Products 2^54, 0, 2, 2 by lane: (2^54 + 0) + (2 + 2) = 2^54 + 4 exactly, while a left-to-right sum
    // loses each 2 (2^54 + 2 is a tie that rounds to the even 2^54).
    const x = Float32Array.from([2 ** 27, 0, 1, 1]), y = Float32Array.from([2 ** 27, 0, 2, 2]);
    expect(both([x, y], [], (k, [p, q]) => k.dot(p, q, 4)).ret).toBe(2 ** 54 + 4);
    expect(((2 ** 54 + 0) + 2) + 2).toBe(2 ** 54);
  });

  it('covers every reduce kernel', () => {
    expect([...REDUCE_KERNELS].sort()).toEqual(['colSumsq', 'dot', 'maxAbs', 'rowMeanStd', 'rowStandardize', 'rowSumsq', 'scaleRowsCols', 'sinkgdRound', 'sinkhornRound']);
  });
});

describe('reductions: properties over random shapes and values', () => {
  const matrix = fc.record({
    m: fc.integer({ min: 1, max: 24 }),
    n: fc.integer({ min: 1, max: 40 }),
    pad: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 0, max: 1e6 }),
    scale: fc.constantFrom(1e-20, 1e-3, 1, 1e3, 1e15),
  });

  it('wasm = ref, and the sums agree with an f64 evaluation within f32 rounding', () => {
    fc.assert(
      fc.property(matrix, ({ m, n, pad, seed, scale }) => {
        const lda = n + pad;
        const a = randomF32(m * lda, seed, scale);
        const rows = both([a], [m], (k, [p], [o]) => k.rowSumsq(o, p, m, n, lda)).outs[0];
        const cols = both([a, new Float32Array(2 * n + 2)], [n], (k, [p, acc], [o]) => k.colSumsq(o, acc + ((acc & 7) ? 8 - (acc & 7) : 0), p, m, n, lda)).outs[0];
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += a[i * lda + j] ** 2;
          if (Math.abs(rows[i] - s) > 1e-6 * s + 2e-45) return false; // f32 output: relative rounding, subnormal spacing
        }
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += a[i * lda + j] ** 2;
          if (Math.abs(cols[j] - s) > 1e-6 * s + 2e-45) return false;
        }
        const total = rows.reduce((x, y) => x + y, 0);
        const d = both([a.subarray(0, m * lda)], [], (k, [p]) => k.dot(p, p, m * lda)).ret as number;
        let full = 0;
        for (let i = 0; i < m * lda; i++) full += a[i] ** 2;
        return Math.abs(d - full) <= 1e-12 * full && (pad > 0 || Math.abs(total - full) <= 1e-6 * full + 1e-43);
      }),
      { numRuns: 60, seed: 42 },
    );
  });

  it('scaleRowsCols equals r_i·a_ij·c_j; rowMeanStd standardizes each row', () => {
    fc.assert(
      fc.property(matrix, ({ m, n, seed }) => {
        const a = randomF32(m * n, seed);
        const r = randomF32(m, seed + 1), c = randomF32(n, seed + 2);
        const out = both([a, r, c], [m * n], (k, [p, pr, pc], [o]) => k.scaleRowsCols(o, n, p, n, pr, pc, m, n)).outs[0];
        const ms = both([a], [m, m], (k, [p], [mu, sd]) => k.rowMeanStd(mu, sd, p, m, n, n, 0)).outs;
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) {
            if (out[i * n + j] !== Math.fround(Math.fround(r[i] * a[i * n + j]) * c[j])) return false;
            s += a[i * n + j];
          }
          if (Math.abs(ms[0][i] - s / n) > 1e-6 * (1 + Math.abs(s / n))) return false;
          let v = 0;
          for (let j = 0; j < n; j++) v += (a[i * n + j] - s / n) ** 2;
          if (Math.abs(ms[1][i] - Math.sqrt(v / n)) > 1e-6 * (1 + Math.sqrt(v / n))) return false;
        }
        return true;
      }),
      { numRuns: 60, seed: 7 },
    );
  });
});
