/**
 * Kernel conformance: every wasm SIMD kernel (`assembly/`) against the scalar oracle (`src/backends/ref`),
 * bit for bit, one kernel call at a time.
 *
 * Each case fills the inputs once, copies them into two separate sets of buffers in the same arena, runs
 * `ref` on one set and `wasm` on the other, and requires bit-identical buffers afterwards (first
 * differing index reported with both values), identical f64 returns (`Object.is`), untouched guard words
 * around every buffer, and untouched buffers where the kernel must not write (SGD `buf` without MOMENTUM,
 * Adam `vmax` without AMSGRAD). Sizes cover empty, tail-only, exact multiples of 4 and long vectors;
 * pointers are 16-byte aligned or misaligned (by 4, 8, 12 bytes per buffer, so buffers are misaligned
 * relative to each other too). A few hand-computed values pin down the ref itself.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { RefKernels } from '../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { KernelFlag, type Kernels } from '../dist/kernels.js';
import { ELEMENTWISE_KERNELS } from '../dist/kernels/elementwise.js';
import { firstBitDiff, randomF32, rng } from './helpers/rng.js';
import { MATRICES, SIZES } from './helpers/shapes.js';

const F = KernelFlag;
const f = Math.fround;

/** lerp weights: the small branch's typical value, one in between, and the degenerate 1. */
const WEIGHTS = [0.1, 0.574, 1.0];
const SPECIALS = [0, -0, 1e-30, -1e-30, 1e30, -1e30, 1e-45, -3e38, 3e38, Infinity, -Infinity, NaN, 1, -1];

// ----------------------------------------------------------------------------------------------------
// Harness

const SLOTS = 12;
const GUARD = 32; // bytes of sentinel before and after each buffer
const SLOT_BYTES = 4099 * 3 * 4 + 4 * GUARD; // the largest buffer (3×4099 f32) plus guards and misalignment
const SENTINEL = 0x7fa5a5a5; // a NaN pattern no kernel produces

let arena: Arena;
let ref: Kernels;
let wasm: Kernels;
let slots: number[];
const covered = new Set<string>();

beforeAll(async () => {
  arena = new Arena({ initialBytes: SLOTS * SLOT_BYTES + 1024 });
  ref = new RefKernels(arena.memory);
  wasm = instantiateWasm(await loadWasmModule(), arena.memory);
  slots = Array.from({ length: SLOTS }, () => arena.alloc(SLOT_BYTES));
});

type Data = Float32Array | Float64Array;
type Ptrs = Record<string, number>;

interface CaseOptions {
  /** Misalign each buffer (f32: by 4, 8 or 12 bytes; f64 scratch: by 8). */
  misalign?: boolean;
  /** Buffers the kernel must leave exactly as they were. */
  untouched?: string[];
}

interface CaseResult {
  ret: number | void;
  out: Record<string, Data>;
}

const hex = (x: number, f64: boolean): string => {
  if (f64) {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x);
    return `0x${b.getBigUint64(0).toString(16).padStart(16, '0')}`;
  }
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  return `0x${b.getUint32(0).toString(16).padStart(8, '0')}`;
};

function firstDiff(a: Data, b: Data): number {
  if (a instanceof Float32Array && b instanceof Float32Array) return firstBitDiff(a, b);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Lay the inputs out in one half of the slots, call the kernel, check the guards, return copies of the buffers. */
function runOn(k: Kernels, half: 0 | 1, label: string, inputs: Record<string, Data>, call: (k: Kernels, p: Ptrs) => number | void, misalign: boolean): CaseResult {
  const mem = arena.memory.buffer;
  const names = Object.keys(inputs);
  if (names.length * 2 > SLOTS) throw new Error('too many buffers');
  const ptrs: Ptrs = {};
  const views: Record<string, Data> = {};
  names.forEach((name, i) => {
    const src = inputs[name];
    const is64 = src instanceof Float64Array;
    const mis = misalign ? (is64 ? 8 : 4 * ((i % 3) + 1)) : 0;
    const base = slots[2 * i + half];
    const ptr = base + GUARD + mis;
    const bytes = src.length * src.BYTES_PER_ELEMENT;
    new Uint32Array(mem, base, (GUARD + mis) / 4).fill(SENTINEL);
    new Uint32Array(mem, ptr + bytes, GUARD / 4).fill(SENTINEL);
    const view = is64 ? new Float64Array(mem, ptr, src.length) : new Float32Array(mem, ptr, src.length);
    view.set(src);
    ptrs[name] = ptr;
    views[name] = view;
  });
  const ret = call(k, ptrs);
  const out: Record<string, Data> = {};
  names.forEach((name, i) => {
    const base = slots[2 * i + half];
    const bytes = views[name].length * views[name].BYTES_PER_ELEMENT;
    const before = new Uint32Array(mem, base, (ptrs[name] - base) / 4);
    const after = new Uint32Array(mem, ptrs[name] + bytes, GUARD / 4);
    for (const [where, g] of [['before', before], ['after', after]] as const) {
      const bad = g.findIndex((w) => w !== SENTINEL);
      if (bad >= 0) throw new Error(`${label}: ${half ? 'wasm' : 'ref'} wrote ${where} buffer ${name} (guard word ${bad})`);
    }
    out[name] = views[name].slice();
  });
  return { ret, out };
}

/** Run one case on both backends and require identical results. */
function check(
  kernel: keyof Kernels, label: string, inputs: Record<string, Data>,
  call: (k: Kernels, p: Ptrs) => number | void, opts: CaseOptions = {},
): CaseResult {
  covered.add(kernel);
  const misalign = opts.misalign ?? false;
  const full = `${kernel} ${label}${misalign ? ' (misaligned)' : ''}`;
  const r = runOn(ref, 0, full, inputs, call, misalign);
  const w = runOn(wasm, 1, full, inputs, call, misalign);
  for (const name of Object.keys(inputs)) {
    const a = r.out[name], b = w.out[name];
    const i = firstDiff(a, b);
    if (i >= 0) {
      const is64 = a instanceof Float64Array;
      throw new Error(
        `${full}: ${name}[${i}] of ${a.length} differs: ref ${a[i]} (${hex(a[i], is64)}) vs wasm ${b[i]} (${hex(b[i], is64)})`,
      );
    }
  }
  if (r.ret !== undefined || w.ret !== undefined) {
    if (!Object.is(r.ret, w.ret)) {
      throw new Error(`${full}: returned ref ${r.ret} (${hex(r.ret as number, true)}) vs wasm ${w.ret} (${hex(w.ret as number, true)})`);
    }
  }
  for (const name of opts.untouched ?? []) {
    const i = firstDiff(inputs[name], w.out[name]);
    if (i >= 0) throw new Error(`${full}: wasm modified ${name}[${i}], which it must not touch`);
    const j = firstDiff(inputs[name], r.out[name]);
    if (j >= 0) throw new Error(`${full}: ref modified ${name}[${j}], which it must not touch`);
  }
  return r;
}

let seed = 1;
/** Normal samples times `scale`. */
const rand = (n: number, scale = 1): Float32Array => randomF32(n, seed++, scale);
/** |normal| samples times `scale` (second-moment-like, non-negative). */
const randPos = (n: number, scale = 1): Float32Array => rand(n, scale).map(Math.abs);
/** `base` with special values sprinkled over the vector body and the tail (always the last element). */
function sprinkle(base: Float32Array, salt = 0): Float32Array {
  const out = base.slice();
  const r = rng(seed++);
  const n = out.length;
  if (n === 0) return out;
  for (let k = 0; k < Math.max(1, Math.floor(n / 5)); k++) {
    out[Math.floor(r() * n)] = SPECIALS[(k + salt) % SPECIALS.length];
  }
  out[n - 1] = SPECIALS[(salt * 7 + n) % SPECIALS.length];
  return out;
}
/** Every subset of the given flag bits. */
function combos(...bits: number[]): number[] {
  const out: number[] = [];
  for (let mask = 0; mask < 1 << bits.length; mask++) {
    out.push(bits.reduce((acc, b, i) => (mask & (1 << i) ? acc | b : acc), 0));
  }
  return out;
}
const flagName = (flags: number): string =>
  Object.entries(F).filter(([, b]) => flags & b).map(([k]) => k).join('|') || 'none';
const omw = (w: number): number => f(1 - f(w));

// ----------------------------------------------------------------------------------------------------
// Hand-checked values (fail for a wrong ref too)

describe('hand-checked values', () => {
  it('sumsq', () => {
    const r = check('sumsq', '[1..5]', { x: new Float32Array([1, 2, 3, 4, 5]) }, (k, p) => k.sumsq(p.x, 5));
    expect(r.ret).toBe(55);
    expect(check('sumsq', 'empty', { x: new Float32Array(0) }, (k, p) => k.sumsq(p.x, 0)).ret).toBe(0);
    // Lane order matters: 2^54 + 1 + 1 + 1 summed left to right stays 2^54 (each +1 rounds away), but the
    // three ones share lane 1 (indices 1, 5, 9): (2^54 + 3) + 0 rounds to 2^54 + 4.
    const x = new Float32Array([2 ** 27, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(check('sumsq', 'lane order', { x }, (k, p) => k.sumsq(p.x, 10)).ret).toBe(2 ** 54 + 4);
  });

  it('scale, axpy', () => {
    const s = check('scale', '[1,2,3]·2', { x: new Float32Array([1, 2, 3]) }, (k, p) => k.scale(p.x, 3, 2));
    expect([...s.out.x]).toEqual([2, 4, 6]);
    const a = check('axpy', 'y + 0.5x', { y: new Float32Array([1, 1, 1, 1, 1]), x: new Float32Array([2, 4, 6, 8, 10]) },
      (k, p) => k.axpy(p.y, p.x, 5, 0.5));
    expect([...a.out.y]).toEqual([2, 3, 4, 5, 6]);
  });

  it('normScale: √(target/x), zero for 0, +∞ and overflow, NaN for NaN and negatives', () => {
    const x = Float32Array.from([4, 2, 0, -0, Infinity, 1e-44, NaN, -1, 1e30]);
    const r = check('normScale', 'by hand', { o: new Float32Array(9), x }, (k, p) => k.normScale(p.o, p.x, 9, 8));
    // √(8/4) = √2, √(8/2) = 2, 0, 0, 0 (8/∞), √(8/1e-44) ≈ 2.8e22, NaN, NaN, √(8/1e30) ≈ 2.83e-15
    expect(Array.from(r.out.o)).toEqual([f(Math.SQRT2), 2, 0, 0, 0, f(Math.sqrt(8 / f(1e-44))), NaN, NaN, f(Math.sqrt(8 / f(1e30)))]);
    // a scale beyond the f32 range is 0: √(1e70/1e-44) = 1e57; √(1e70/1) = 1e35 is kept
    const big = check('normScale', 'overflow', { o: new Float32Array(2), x: Float32Array.from([1e-44, 1]) }, (k, p) => k.normScale(p.o, p.x, 2, 1e70));
    expect(Array.from(big.out.o)).toEqual([0, f(1e35)]);
  });

  it('copy, fill, addDiag', () => {
    const src = new Float32Array([1, -0, NaN, 3e38, 1e-45]);
    const c = check('copy', '5 values', { d: new Float32Array(5), s: src }, (k, p) => k.copy(p.d, p.s, 5));
    expect(firstBitDiff(c.out.d as Float32Array, src)).toBe(-1);
    const fl = check('fill', '6 values', { x: new Float32Array(6) }, (k, p) => k.fill(p.x, 6, 0.1));
    expect([...fl.out.x]).toEqual(Array(6).fill(Math.fround(0.1)));
    // 3×3 with row stride 4: the diagonal entries 0, 5, 10 get +3
    const dg = check('addDiag', '3×3, lda 4', { a: new Float32Array(12).fill(1) }, (k, p) => k.addDiag(p.a, 4, 3, 3));
    expect([...dg.out.a]).toEqual([4, 1, 1, 1, 1, 4, 1, 1, 1, 1, 4, 1]);
  });

  it('fillUniform: the documented hash, by hand', () => {
    // seed 0, i = 0: h = 0 → 0 after every step → x = 0·2⁻²³ − 1 = −1
    // seed 0, i = 1: h = 0x9E3779B9 → ^ (h >>> 16) = 0x9E37E78E → · 0x7FEB352D, ^ >>> 15, · 0x846CA68B, ^ >>> 16
    let h = 0x9e3779b9 >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x7feb352d) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x846ca68b) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    const r = check('fillUniform', 'seed 0', { x: new Float32Array(2) }, (k, p) => k.fillUniform(p.x, 2, 0, 0));
    expect([...r.out.x]).toEqual([-1, (h >>> 8) / 2 ** 23 - 1]);
    // offset shifts the counter: element i of offset 5 is element 5 + i of offset 0
    const a = check('fillUniform', 'offset 0', { x: new Float32Array(9) }, (k, p) => k.fillUniform(p.x, 9, 1234, 0));
    const b = check('fillUniform', 'offset 5', { x: new Float32Array(4) }, (k, p) => k.fillUniform(p.x, 4, 1234, 5));
    expect([...b.out.x]).toEqual([...a.out.x].slice(5));
  });

  it('fillUniform: range and rough uniformity over 100k values', () => {
    const r = check('fillUniform', '100k', { x: new Float32Array(100000) }, (k, p) => k.fillUniform(p.x, 100000, -7, 123456789));
    const x = r.out.x as Float32Array;
    expect(Math.min(...x)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...x)).toBeLessThan(1);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const meanSq = x.reduce((s, v) => s + v * v, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01); // standard error 0.0018
    expect(Math.abs(meanSq - 1 / 3)).toBeLessThan(0.01);
  });

  it('lerp and adamDirection, by hand', () => {
    // lerp(1, 3, 0.25) = 1 + 0.25·2 = 1.5 (small branch); lerp(1, 3, 0.75) = 3 − 2·0.25 = 2.5
    const l = check('lerp', 'two weights', { a: new Float32Array([1]), b: new Float32Array([3]) }, (k, p) => k.lerp(p.a, p.b, 1, 0.25, 0.75, F.LERP_SMALL));
    expect(l.out.a[0]).toBe(1.5);
    const l2 = check('lerp', 'large weight', { a: new Float32Array([1]), b: new Float32Array([3]) }, (k, p) => k.lerp(p.a, p.b, 1, 0.75, 0.25, 0));
    expect(l2.out.a[0]).toBe(2.5);
    // g = 2, m = v = 0, β = (0.5, 0.75), t = 1: m = 1, v = 0.25·4 = 1, d = (m/0.5)/(√v/√0.25 + 0) = 2/2 = 1
    const a = check('adamDirection', 'one element', { d: new Float32Array(1), g: new Float32Array([2]), m: new Float32Array(1), v: new Float32Array(1) },
      (k, p) => k.adamDirection(p.d, p.g, p.m, p.v, 1, 0.5, 0.5, 0.75, 0.25, 2, 0.5, 0, 0));
    expect([a.out.d[0], a.out.m[0], a.out.v[0]]).toEqual([1, 1, 1]);
    // KEEP_M: m = 3 stays; d = 3/(√1/1) = 3
    const b = check('adamDirection', 'KEEP_M', { d: new Float32Array(1), g: new Float32Array([2]), m: new Float32Array([3]), v: new Float32Array(1) },
      (k, p) => k.adamDirection(p.d, p.g, p.m, p.v, 1, 0.5, 0.5, 0.75, 0.25, 1, 1, 0, F.KEEP_M));
    expect([b.out.d[0], b.out.m[0]]).toEqual([3, 3]);
  });

  it('sgd and adam, one element', () => {
    // p = 1, g = 2, lr = 0.25 with momentum 0.5 (first step: buf = g): p = 1 − 0.25·2 = 0.5.
    const s = check('sgd', 'hand', { p: new Float32Array([1]), g: new Float32Array([2]), buf: new Float32Array([9]) },
      (k, q) => k.sgd(q.p, q.g, q.buf, 1, 0, 0.5, 1, -0.25, F.MOMENTUM | F.FIRST));
    expect(s.out.p[0]).toBe(0.5);
    expect(s.out.buf[0]).toBe(2);
    // Adam, step 1 with β1 = 0.5, β2 = 0.75 (bias corrections 0.5 and √0.25 = 0.5), lr = 1, eps = 0:
    // m = 0.5·g = 1, v = 0.25·g² = 1, denom = √1 / 0.5 = 2, p = 3 − (1 / 0.5)·1 / 2 = 2.
    const a = check('adam', 'hand',
      { p: new Float32Array([3]), g: new Float32Array([2]), m: new Float32Array([0]), v: new Float32Array([0]), vmax: new Float32Array([0]) },
      (k, q) => k.adam(q.p, q.g, q.m, q.v, q.vmax, 1, 0, 1, 0.5, 0.5, 0.75, 0.25, 0.5, 0, -2, F.AMSGRAD));
    expect([a.out.p[0], a.out.m[0], a.out.v[0], a.out.vmax[0]]).toEqual([2, 1, 1, 1]);
  });

  it('adafactor row and column factors', () => {
    // w = 1: lerp(a, b, 1) = b − (b − a)·0 = b, so the factors become the plain means of squares.
    const g = new Float32Array([1, 2, 3, 4]);
    const row = check('adafactorRowVar', '2×2 w=1', { r: new Float32Array([7, 7]), g },
      (k, p) => k.adafactorRowVar(p.r, p.g, 2, 2, 1, 0, 0));
    expect([...row.out.r]).toEqual([2.5, 12.5]);
    const col = check('adafactorColVar', '2×2 w=1', { c: new Float32Array([7, 7]), g, acc: new Float64Array(2) },
      (k, p) => k.adafactorColVar(p.c, p.g, p.acc, 2, 2, 1, 0, 0));
    expect([...col.out.c]).toEqual([5, 10]);
    expect([...col.out.acc]).toEqual([10, 20]);
    const both = check('adafactorFactoredVar', '2×2 w=1', { r: new Float32Array([7, 7]), c: new Float32Array([7, 7]), g, acc: new Float64Array(2) },
      (k, p) => k.adafactorFactoredVar(p.r, p.c, p.g, p.acc, 2, 2, 1, 0, 0));
    expect([...both.out.r, ...both.out.c, ...both.out.acc]).toEqual([2.5, 12.5, 5, 10, 10, 20]);
    // Row sums in lane order, lanes reset per row: [2^27, 2^15, 1, 1, 0, 0, 1, 1] has s0 = 2^54,
    // s1 = 2^30, s2 = s3 = 2, so (s0 + s1) + (s2 + s3) = 2^54 + 2^30 + 4 and the mean (÷8) rounds up to
    // the f32 2^51 + 2^28. Left-to-right, or ((s0 + s1) + s2) + s3, gives 2^54 + 2^30: an f32 tie that
    // rounds to even, 2^51.
    const lanes = [2 ** 27, 2 ** 15, 1, 1, 0, 0, 1, 1];
    const rl = check('adafactorRowVar', '2×8 lane order', { r: new Float32Array(2), g: new Float32Array([...lanes, ...lanes]) },
      (k, p) => k.adafactorRowVar(p.r, p.g, 2, 8, 1, 0, 0));
    expect([...rl.out.r]).toEqual([2 ** 51 + 2 ** 28, 2 ** 51 + 2 ** 28]);
    // Column sums run over the rows in order: column 0 of a 5×2 matrix is [2^27, 2^15, 1, 1, 1], whose
    // sum left to right is 2^54 + 2^30 (each +1 rounds away); any pairing of the ones would add 4.
    const cg = new Float32Array([2 ** 27, 3, 2 ** 15, 0, 1, 0, 1, 0, 1, 4]);
    const cl = check('adafactorColVar', '5×2 row order', { c: new Float32Array(2), g: cg, acc: new Float64Array(2) },
      (k, p) => k.adafactorColVar(p.c, p.g, p.acc, 5, 2, 1, 0, 0));
    expect([...cl.out.acc]).toEqual([2 ** 54 + 2 ** 30, 25]);
    expect([...cl.out.c]).toEqual([f((2 ** 54 + 2 ** 30) / 5), 5]);
    // Small branch, w = 0.5 (flag forced): 0 + 0.5·(14/3 − 0) for the 1×3 row [1, 2, 3].
    const r3 = check('adafactorRowVar', '1×3 small', { r: new Float32Array([0]), g: new Float32Array([1, 2, 3]) },
      (k, p) => k.adafactorRowVar(p.r, p.g, 1, 3, 0.5, 0.5, F.LERP_SMALL));
    expect(r3.out.r[0]).toBe(f(0.5 * f(14 / 3)));
  });

  it('adafactor updates', () => {
    // r_i·c_j / rMean = 4 everywhere, so u = g / 2: Σ u² over [2, 4, 6, 8, 10] is 55.
    const g = new Float32Array([2, 4, 6, 8, 10]);
    const fs = check('adafactorFactoredSumsq', '1×5', { g, r: new Float32Array([8]), c: new Float32Array([1, 1, 1, 1, 1]) },
      (k, p) => k.adafactorFactoredSumsq(p.g, p.r, p.c, 1, 5, 2, 1e-30));
    expect(fs.ret).toBe(55);
    const fa = check('adafactorFactoredApply', '1×5',
      { p: new Float32Array(5), g, r: new Float32Array([8]), c: new Float32Array([1, 1, 1, 1, 1]) },
      (k, q) => k.adafactorFactoredApply(q.p, q.g, q.r, q.c, 1, 5, 2, 1e-30, -2));
    expect([...fa.out.p]).toEqual([-2, -4, -6, -8, -10]);
    // The four lane sums are shared across rows with lane = column mod 4 (not flat index mod 4): with
    // u = g (r·c/rMean = 1), the three ones of column 1 share lane 1, (2^54 + 3) + 0 = 2^54 + 4; flat
    // lanes, per-row totals or a left-to-right sum would all give 2^54.
    const ones = new Float32Array([1, 1, 1]);
    const shared = check('adafactorFactoredSumsq', '3×3 shared lanes',
      { g: new Float32Array([2 ** 27, 1, 0, 0, 1, 0, 0, 1, 0]), r: ones, c: ones },
      (k, p) => k.adafactorFactoredSumsq(p.g, p.r, p.c, 3, 3, 1, 1e-30));
    expect(shared.ret).toBe(2 ** 54 + 4);
    const vl = check('adafactorVecSumsq', 'lane order',
      { g: new Float32Array([2 ** 27, 1, 0, 0, 0, 1, 0, 0, 0, 1]), v: new Float32Array(10).fill(1) },
      (k, p) => k.adafactorVecSumsq(p.g, p.v, 10, 1e-30));
    expect(vl.ret).toBe(2 ** 54 + 4);
    const vs = check('adafactorVecSumsq', '5', { g, v: new Float32Array([4, 4, 4, 4, 4]) },
      (k, p) => k.adafactorVecSumsq(p.g, p.v, 5, 1e-30));
    expect(vs.ret).toBe(55);
    // eps1Sq = 16 clamps v = 4 up to 16: u = g / 4.
    const va = check('adafactorVecApply', '5 clamped', { p: new Float32Array(5), g, v: new Float32Array([4, 4, 4, 4, 4]) },
      (k, q) => k.adafactorVecApply(q.p, q.g, q.v, 5, 16, 1));
    expect([...va.out.p]).toEqual([0.5, 1, 1.5, 2, 2.5]);
    const vv = check('adafactorVecVar', '5 w=1', { v: new Float32Array(5), g },
      (k, p) => k.adafactorVecVar(p.v, p.g, 5, 1, 0, 0));
    expect([...vv.out.v]).toEqual([4, 16, 36, 64, 100]);
  });
});

// ----------------------------------------------------------------------------------------------------
// Randomised conformance

describe('wasm kernels equal ref bit for bit', () => {
  const MIS = [false, true];

  it('sumsq, scale, axpy', () => {
    for (const misalign of MIS) {
      for (const n of SIZES) {
        for (const [tag, x] of [['rand', rand(n)], ['special', sprinkle(rand(n, 1e3))]] as const) {
          check('sumsq', `n=${n} ${tag}`, { x }, (k, p) => k.sumsq(p.x, n), { misalign });
          for (const s of [0.5, -3.7, 1e-30, 0]) {
            check('scale', `n=${n} ${tag} s=${s}`, { x }, (k, p) => k.scale(p.x, n, s), { misalign });
          }
          for (const a of [0.3, -1.25e-3]) {
            check('axpy', `n=${n} ${tag} a=${a}`, { y: rand(n), x }, (k, p) => k.axpy(p.y, p.x, n, a), { misalign });
          }
        }
      }
    }
  });

  it('normScale: every size, special values, in place', () => {
    for (const misalign of MIS) {
      for (const n of SIZES) {
        const x = sprinkle(randPos(n, 10));
        for (const target of [1, 512, 1376.5]) {
          check('normScale', `n=${n} target=${target}`, { o: rand(n), x }, (k, p) => k.normScale(p.o, p.x, n, target), { misalign, untouched: ['x'] });
          check('normScale', `n=${n} target=${target} in place`, { x }, (k, p) => k.normScale(p.x, p.x, n, target), { misalign });
        }
      }
    }
  });

  it('copy, fill, addDiag: every size', () => {
    for (const misalign of MIS) {
      for (const n of SIZES) {
        const x = sprinkle(rand(n, 10));
        check('copy', `n=${n}`, { d: rand(n), s: x }, (k, p) => k.copy(p.d, p.s, n), { misalign, untouched: ['s'] });
        check('fill', `n=${n}`, { x }, (k, p) => k.fill(p.x, n, -2.5e-3), { misalign });
        const m = Math.min(n, 40);
        check('addDiag', `${m}×${m}`, { a: sprinkle(rand(m * (m + 1))) }, (k, p) => k.addDiag(p.a, m + 1, m, 0.75), { misalign });
      }
    }
  });

  it('lerp and adamDirection: every size, lerp branch and KEEP_M, aliasing d with g or m', () => {
    for (const misalign of MIS) {
      for (const n of SIZES) {
        for (const w of WEIGHTS) {
          const small = Math.abs(f(w)) < 0.5 ? F.LERP_SMALL : 0;
          check('lerp', `n=${n} w=${w}`, { a: sprinkle(rand(n)), b: rand(n, 3) }, (k, p) => k.lerp(p.a, p.b, n, w, omw(w), small), { misalign, untouched: ['b'] });
          for (const keep of [0, F.KEEP_M]) {
            const flags = small | keep;
            const ins = () => ({ d: rand(n), g: sprinkle(rand(n, 0.1)), m: rand(n, 0.05), v: randPos(n, 0.01) });
            const call = (target: 'd' | 'g' | 'm') => (k: Kernels, p: Ptrs) =>
              k.adamDirection(p[target], p.g, p.m, p.v, n, w, omw(w), 0.999, 1 - 0.999, 1 / (1 - 0.9 ** 3), Math.sqrt(1 - 0.999 ** 3), 1e-8, flags);
            for (const target of ['d', 'g', 'm'] as const) {
              check('adamDirection', `n=${n} w=${w} ${flagName(flags)} d=${target}`, ins(), call(target), { misalign });
            }
          }
        }
      }
    }
  });

  it('sgd: every flag combination', () => {
    const modes = [0, F.MOMENTUM, F.MOMENTUM | F.FIRST, F.MOMENTUM | F.NESTEROV, F.MOMENTUM | F.FIRST | F.NESTEROV, F.FIRST, F.NESTEROV | F.FIRST];
    for (const misalign of MIS) {
      for (const n of SIZES) {
        for (const mode of modes) {
          for (const extra of combos(F.MAXIMIZE, F.L2)) {
            const flags = mode | extra;
            const special = (n + flags) % 3 === 0;
            const g = special ? sprinkle(rand(n), flags) : rand(n);
            const inputs = { p: rand(n), g, buf: rand(n, 0.1) };
            const omd = flags & F.NESTEROV ? 1 : 0.9;
            check('sgd', `n=${n} ${flagName(flags)}${special ? ' special' : ''}`, inputs,
              (k, q) => k.sgd(q.p, q.g, q.buf, n, 0.01, 0.9, omd, -0.05, flags),
              { misalign, untouched: flags & F.MOMENTUM ? [] : ['buf'] });
          }
        }
      }
    }
  });

  it('adam: every flag combination and lerp weight', () => {
    const lr = 1e-3, beta2 = 0.999, t = 7, wd = 0.01;
    const negStepSize = -lr / (1 - 0.9 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    for (const misalign of MIS) {
      for (const n of SIZES) {
        for (const a1 of WEIGHTS) {
          for (const flags of combos(F.MAXIMIZE, F.L2, F.AMSGRAD, F.LERP_SMALL)) {
            const special = (n + flags) % 4 === 1;
            const g = special ? sprinkle(rand(n), flags) : rand(n);
            const inputs = { p: rand(n), g, m: rand(n, 0.1), v: randPos(n, 0.01), vmax: randPos(n, 0.01) };
            const decay = flags & F.L2 ? 1 : 1 - lr * wd;
            check('adam', `n=${n} a1=${a1} ${flagName(flags)}${special ? ' special' : ''}`, inputs,
              (k, q) => k.adam(q.p, q.g, q.m, q.v, q.vmax, n, wd, decay, a1, omw(a1), beta2, 1 - beta2, bc2Sqrt, 1e-8, negStepSize, flags),
              { misalign, untouched: flags & F.AMSGRAD ? [] : ['vmax'] });
          }
        }
      }
      // Special values in every input buffer (NaN, ±Inf, ±0, 1e±30, subnormals), AMSGrad on and off.
      for (const n of [17, 33, 1000]) {
        for (const flags of [F.AMSGRAD | F.LERP_SMALL, F.L2 | F.MAXIMIZE, F.AMSGRAD | F.L2]) {
          const inputs = { p: sprinkle(rand(n), 1), g: sprinkle(rand(n), 2), m: sprinkle(rand(n), 3), v: sprinkle(randPos(n), 4), vmax: sprinkle(randPos(n), 5) };
          check('adam', `n=${n} all-special ${flagName(flags)}`, inputs,
            (k, q) => k.adam(q.p, q.g, q.m, q.v, q.vmax, n, wd, 0.99, 0.1, omw(0.1), beta2, 1 - beta2, bc2Sqrt, 1e-8, negStepSize, flags),
            { misalign });
        }
      }
    }
  });

  it('adafactor row and column factors: every matrix, weight and lerp branch', () => {
    for (const misalign of MIS) {
      for (const [m, n] of MATRICES) {
        for (const w of WEIGHTS) {
          for (const flags of [0, F.LERP_SMALL]) {
            const special = (m + n + flags) % 3 === 0;
            const g = special ? sprinkle(rand(m * n, 3), m + flags) : rand(m * n, 3);
            const label = `${m}×${n} w=${w} ${flagName(flags)}${special ? ' special' : ''}`;
            check('adafactorRowVar', label, { r: randPos(m), g },
              (k, p) => k.adafactorRowVar(p.r, p.g, m, n, w, omw(w), flags), { misalign });
            check('adafactorColVar', label, { c: randPos(n), g, acc: new Float64Array(n).fill(123.5) },
              (k, p) => k.adafactorColVar(p.c, p.g, p.acc, m, n, w, omw(w), flags), { misalign });
            // both factors in one call (ref: the two kernels in turn), from the same inputs
            check('adafactorFactoredVar', label, { r: randPos(m), c: randPos(n, 5), g, acc: new Float64Array(n).fill(123.5) },
              (k, p) => k.adafactorFactoredVar(p.r, p.c, p.g, p.acc, m, n, w, omw(w), flags), { misalign });
          }
        }
      }
    }
  });

  it('adafactor factored update: every matrix', () => {
    for (const misalign of MIS) {
      for (const [m, n] of MATRICES) {
        for (const [rMean, eps1Sq] of [[0.7, 1e-30], [1.3, 0.5], [2.0, 0]]) {
          const special = (m * n + rMean * 10) % 3 === 0;
          const g = special ? sprinkle(rand(m * n), m) : rand(m * n);
          const r = special ? sprinkle(randPos(m), 2) : randPos(m);
          const c = special ? sprinkle(randPos(n), 3) : randPos(n);
          const label = `${m}×${n} rMean=${rMean} eps1Sq=${eps1Sq}${special ? ' special' : ''}`;
          check('adafactorFactoredSumsq', label, { g, r, c },
            (k, p) => k.adafactorFactoredSumsq(p.g, p.r, p.c, m, n, rMean, eps1Sq), { misalign });
          for (const coeff of [-0.01, 0.3]) {
            check('adafactorFactoredApply', `${label} coeff=${coeff}`, { p: rand(m * n), g, r, c },
              (k, q) => k.adafactorFactoredApply(q.p, q.g, q.r, q.c, m, n, rMean, eps1Sq, coeff), { misalign });
          }
        }
      }
    }
  });

  it('adafactor unfactored (vector) kernels', () => {
    for (const misalign of MIS) {
      for (const n of SIZES) {
        for (const special of [false, true]) {
          const g = special ? sprinkle(rand(n), n) : rand(n);
          const v = special ? sprinkle(randPos(n), n + 1) : randPos(n);
          const tag = special ? ' special' : '';
          for (const w of WEIGHTS) {
            for (const flags of [0, F.LERP_SMALL]) {
              check('adafactorVecVar', `n=${n} w=${w} ${flagName(flags)}${tag}`, { v, g },
                (k, p) => k.adafactorVecVar(p.v, p.g, n, w, omw(w), flags), { misalign });
            }
          }
          for (const eps1Sq of [1e-30, 0.5, 0]) {
            check('adafactorVecSumsq', `n=${n} eps1Sq=${eps1Sq}${tag}`, { g, v },
              (k, p) => k.adafactorVecSumsq(p.g, p.v, n, eps1Sq), { misalign });
            check('adafactorVecApply', `n=${n} eps1Sq=${eps1Sq}${tag}`, { p: rand(n), g, v },
              (k, q) => k.adafactorVecApply(q.p, q.g, q.v, n, eps1Sq, -0.02), { misalign });
          }
        }
      }
    }
  });

  it('NaN propagates the same way', () => {
    const n = 9;
    const x = rand(n);
    x[2] = NaN;
    expect(check('sumsq', 'NaN', { x }, (k, p) => k.sumsq(p.x, n)).ret).toBeNaN();
    const g = rand(n);
    g[6] = NaN;
    const a = check('adam', 'NaN grad', { p: rand(n), g, m: rand(n), v: randPos(n), vmax: randPos(n) },
      (k, q) => k.adam(q.p, q.g, q.m, q.v, q.vmax, n, 0, 1, 0.1, 0.9, 0.999, 0.001, 1, 1e-8, -1e-3, F.AMSGRAD | F.LERP_SMALL));
    expect([Number.isNaN(a.out.p[6]), Number.isNaN(a.out.m[6]), Number.isNaN(a.out.v[6]), Number.isNaN(a.out.vmax[6])]).toEqual([true, true, true, true]);
    expect(Number.isNaN(a.out.p[5])).toBe(false);
    const fs = check('adafactorFactoredSumsq', 'NaN in c', { g: rand(6), r: randPos(2), c: new Float32Array([1, NaN, 1]) },
      (k, p) => k.adafactorFactoredSumsq(p.g, p.r, p.c, 2, 3, 1, 1e-30));
    expect(fs.ret).toBeNaN();
  });

  it('covers every elementwise kernel', () => {
    expect(ELEMENTWISE_KERNELS.filter((k) => !covered.has(k))).toEqual([]);
  });
});
