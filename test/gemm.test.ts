/**
 * GEMM family: wasm (packed panels, f32x4 micro-kernel) against the f64 scalar oracle.
 *
 * gemm and syrk are not bit-exact across backends (see src/kernels/gemm.ts), so results are compared
 * with the documented bound
 *   |c − c_ref| ≤ γ·(|α|·Σ_p |op(A)_ip|·|op(B)_pj| + |β·c_ij|) + η,   γ = 2·(k + 4)·2⁻²⁴, η = (k + 4)·2⁻¹⁴⁹
 * with NaN where ref has NaN and the same infinity where ref has one. Small-integer inputs make every
 * product and partial sum exact in f32, so there both backends must agree exactly (as values: the sign
 * of a zero result is not specified), which catches a dropped or doubled term even where γ·Σ|a||b| is
 * larger than one term. Every call also checks that
 * nothing outside C's m×n view was written (padding columns between rows, guard words around every
 * buffer, the scratch's end), that A and B are unchanged, and that padding read as data would show:
 * row padding of A and B holds NaN.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { refKernels } from '../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import type { Kernels } from '../dist/kernels.js';
import { GEMM_KERNELS, GEMM_SCRATCH_BYTES } from '../dist/kernels/gemm.js';
import { firstBitDiff, normal, rng } from './helpers/rng.js';
import { GEMM_SHAPES } from './helpers/shapes.js';

const SENTINEL = 0x7fa5a5a5; // a NaN pattern no kernel produces
const GUARD = 64; // bytes of sentinel around every buffer
const WORKSPACE = 56 << 20;

const arena = new Arena({ initialBytes: WORKSPACE + (1 << 20) });
const base = arena.alloc(WORKSPACE);
let ref: Kernels;
let wasm: Kernels;
let wasmScratchBytes: number;

beforeAll(async () => {
  ref = refKernels(arena.memory);
  const module = await loadWasmModule();
  wasm = instantiateWasm(module, arena.memory);
  const inst = new WebAssembly.Instance(module, { env: { memory: arena.memory, abort: () => { throw new Error('abort'); } } });
  wasmScratchBytes = (inst.exports.GEMM_SCRATCH_BYTES as WebAssembly.Global).value as number;
});

// ----------------------------------------------------------------------------------------------------
// Workspace: a bump allocator over one arena region, reset per case; every buffer between guard words.

let top = base;
const guards: [number, number][] = [];
function reset(): void {
  top = base;
  guards.length = 0;
}
const u32 = (p: number, n: number) => new Uint32Array(arena.buffer, p, n);
const f32 = (p: number, n: number) => new Float32Array(arena.buffer, p, n);
/** A 16-byte aligned buffer of `bytes` (+ `skew` bytes) with sentinel guards before and after. */
function alloc(bytes: number, skew = 0): number {
  const g = (top + 15) & ~15;
  const p = g + GUARD + skew;
  const end = p + bytes;
  if (end + GUARD > base + WORKSPACE) throw new Error('test workspace too small');
  u32(g, (GUARD + skew) / 4).fill(SENTINEL);
  u32(end, GUARD / 4).fill(SENTINEL);
  guards.push([g, p], [end, end + GUARD]);
  top = end + GUARD;
  return p;
}
function put(data: Float32Array, skew = 0): number {
  const p = alloc(4 * data.length, skew);
  f32(p, data.length).set(data);
  return p;
}
function checkGuards(label: string): void {
  for (const [from, to] of guards) {
    const bad = u32(from, (to - from) / 4).findIndex((w) => w !== SENTINEL);
    if (bad >= 0) throw new Error(`${label}: guard word written at byte ${from + 4 * bad}`);
  }
}
/** Scratch of exactly GEMM_SCRATCH_BYTES, 16-byte aligned, guarded. */
const scratch = () => alloc(GEMM_SCRATCH_BYTES);

// ----------------------------------------------------------------------------------------------------
// Matrices

type Gen = (count: number) => Float32Array;
let seedCounter = 1;
/** Normal values times `scale`. */
const normals = (scale = 1): Gen => (n) => {
  const g = normal(rng(seedCounter++));
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = g() * scale;
  return x;
};
/** Uniform values in [−1, 1) (cheaper than normals, for the big cases). */
const uniforms = (): Gen => (n) => {
  const u = rng(seedCounter++);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 2 * u() - 1;
  return x;
};
/** Integers in [−r, r]: every product and partial sum below 2^24 is exact in f32. */
const ints = (r = 4): Gen => (n) => {
  const u = rng(seedCounter++);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.floor(u() * (2 * r + 1)) - r;
  return x;
};
const fill = (v: number): Gen => (n) => new Float32Array(n).fill(v);

/** A stored rows×cols matrix with row stride ld (≥ cols); padding columns hold the sentinel NaN. */
interface Stored {
  rows: number;
  cols: number;
  ld: number;
  data: Float32Array;
}
function stored(rows: number, cols: number, ld: number, gen: Gen): Stored {
  const data = new Float32Array(rows * ld);
  new Uint32Array(data.buffer).fill(SENTINEL); // bits kept (a JS NaN number might not keep its payload)
  const vals = gen(rows * cols);
  for (let i = 0; i < rows; i++) data.set(vals.subarray(i * cols, (i + 1) * cols), i * ld);
  return { rows, cols, ld, data };
}
/** Element (i, p) of op(X) where X is stored (trans = 1: op(X) = Xᵀ). */
const opAt = (x: Stored, trans: number, i: number, p: number) => (trans ? x.data[p * x.ld + i] : x.data[i * x.ld + p]);

const TWO_M24 = 2 ** -24;
const gammaOf = (k: number) => 2 * (k + 4) * TWO_M24;
/** Absolute error allowed for underflow: each of the k + 4 roundings may lose half a subnormal ulp (2⁻¹⁵⁰). */
const etaOf = (k: number) => (k + 4) * 2 ** -149;

/**
 * (i, j) ↦ Σ_p |op(A)_ip|·|op(B)_pj| in f64: |op(B)| is copied once column by column and the row of
 * |op(A)| is cached, so the inner loop runs over two contiguous arrays.
 */
function absProducts(A: Stored, transA: number, B: Stored, transB: number, n: number, k: number): (i: number, j: number) => number {
  let bt: Float64Array | undefined;
  const row = new Float64Array(k);
  let cached = -1;
  return (i, j) => {
    if (!bt) {
      bt = new Float64Array(n * k);
      for (let jj = 0; jj < n; jj++) for (let p = 0; p < k; p++) bt[jj * k + p] = Math.abs(opAt(B, transB, p, jj));
    }
    if (i !== cached) {
      for (let p = 0; p < k; p++) row[p] = Math.abs(opAt(A, transA, i, p));
      cached = i;
    }
    let s = 0;
    const o = j * k;
    for (let p = 0; p < k; p++) s += row[p] * bt[o + p];
    return s;
  };
}

/**
 * Compare `got` against `want` (both stored like c0) on the given rows: NaN where ref is NaN, equal
 * infinities, else within γ·(|α|·Σ|a||b| + |β·c0|). `absAB(i, j)` = Σ_p |op(A)_ip|·|op(B)_pj|.
 */
function expectClose(
  label: string, got: Float32Array, want: Float32Array, c0: Stored, rows: Iterable<number>, n: number, k: number,
  alpha: number, beta: number, absAB: (i: number, j: number) => number, gammaScale = 1,
): void {
  const al = Math.fround(alpha), be = Math.fround(beta);
  const gamma = gammaScale * gammaOf(k);
  const shrink = (1 - 2 ** -20) / (1 + gammaOf(k));
  for (const i of rows) {
    for (let j = 0; j < n; j++) {
      const o = i * c0.ld + j;
      const w = want[o], g = got[o];
      if (Number.isNaN(w) || !Number.isFinite(w)) {
        if (!Object.is(w, g) && !(Number.isNaN(w) && Number.isNaN(g))) throw new Error(`${label}: c[${i}][${j}] = ${g}, ref ${w}`);
        continue;
      }
      const err = Math.abs(g - w);
      const betaTerm = be !== 0 ? Math.abs(be * c0.data[o]) : 0;
      // Cheap sufficient check first: |w − β·c0| ≤ |α|·Σ|a||b| up to w's own error (rounding, or γ when w
      // is not ref), so `shrink` times it is below the bound and Σ|a||b| need not be computed.
      if (err <= gamma * shrink * (Math.abs(w - (be !== 0 ? be * c0.data[o] : 0)) + betaTerm)) continue;
      const prod = al !== 0 && k > 0 ? Math.abs(al) * absAB(i, j) : 0;
      const bound = gamma * (prod + betaTerm) + etaOf(k);
      if (!(err <= bound)) {
        throw new Error(`${label}: c[${i}][${j}] = ${g}, ref ${w}, |diff| ${err} > bound ${bound}`);
      }
    }
  }
}

function expectSameBits(label: string, got: Float32Array, want: Float32Array): void {
  const d = firstBitDiff(got, want);
  if (d >= 0) throw new Error(`${label}: element ${d} differs: ${got[d]} vs ref ${want[d]}`);
}

/** Equal values (NaN equals NaN; the sign of a zero result is not specified across backends). */
function expectSameValues(label: string, got: Float32Array, want: Float32Array): void {
  const d = got.findIndex((g, i) => g !== want[i] && !(Number.isNaN(g) && Number.isNaN(want[i])));
  if (d >= 0) throw new Error(`${label}: element ${d} differs: ${got[d]} vs ref ${want[d]}`);
}

/** The padding columns of a stored matrix are still the sentinel. */
function expectPaddingKept(label: string, x: Stored, data: Float32Array): void {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < x.rows; i++) {
    for (let j = x.cols; j < x.ld; j++) {
      if (bits[i * x.ld + j] !== SENTINEL) throw new Error(`${label}: padding (${i}, ${j}) of C was written`);
    }
  }
}

// ----------------------------------------------------------------------------------------------------
// gemm harness

interface GemmCase {
  m: number; n: number; k: number; transA: number; transB: number;
  alpha: number; beta: number;
  /** Extra elements per row beyond the stored width (submatrix views). */
  padA?: number; padB?: number; padC?: number;
  a?: Gen; b?: Gen; c?: Gen;
  /** Check only these rows against ref (ref is called on the row-offset views). Default: all. */
  rows?: number[];
  /** Require bitwise equality with ref (exact inputs). */
  exact?: boolean;
  /** Misalign A, B and C by this many bytes. */
  skew?: number;
}

interface GemmRun { w: Float32Array; r: Float32Array; A: Stored; B: Stored; C0: Stored }

function runGemm(cs: GemmCase, label = describeCase(cs)): GemmRun {
  const { m, n, k, transA, transB, alpha, beta } = cs;
  const skew = cs.skew ?? 0;
  const [ar, ac] = transA ? [k, m] : [m, k];
  const [br, bc] = transB ? [n, k] : [k, n];
  const A = stored(ar, ac, ac + (cs.padA ?? 0), cs.a ?? normals());
  const B = stored(br, bc, bc + (cs.padB ?? 0), cs.b ?? normals());
  const C0 = stored(m, n, n + (cs.padC ?? 0), cs.c ?? normals());
  reset();
  const pa = put(A.data, skew), pb = put(B.data, skew), cw = put(C0.data, skew), cr = put(C0.data, skew);
  const s = scratch();
  wasm.gemm(cw, C0.ld, pa, A.ld, transA, pb, B.ld, transB, m, n, k, alpha, beta, s);
  const rows = cs.rows ?? Array.from({ length: m }, (_, i) => i);
  if (cs.rows) {
    for (const i of rows) {
      const aOff = transA ? 4 * i : 4 * i * A.ld;
      ref.gemm(cr + 4 * i * C0.ld, C0.ld, pa + aOff, A.ld, transA, pb, B.ld, transB, 1, n, k, alpha, beta, 0);
    }
  } else {
    ref.gemm(cr, C0.ld, pa, A.ld, transA, pb, B.ld, transB, m, n, k, alpha, beta, 0);
  }
  checkGuards(label);
  expectSameBits(`${label}: A changed`, f32(pa, A.data.length), A.data);
  expectSameBits(`${label}: B changed`, f32(pb, B.data.length), B.data);
  const w = f32(cw, C0.data.length).slice(), r = f32(cr, C0.data.length).slice();
  expectPaddingKept(`${label} (wasm)`, C0, w);
  expectPaddingKept(`${label} (ref)`, C0, r);
  if (cs.exact) {
    if (cs.rows) throw new Error('exact with rows is not supported');
    expectSameValues(`${label}: wasm vs ref`, w, r);
  } else {
    const absAB = absProducts(A, transA, B, transB, n, k);
    expectClose(label, w, r, C0, rows, n, k, alpha, beta, absAB);
  }
  return { w, r, A, B, C0 };
}

function describeCase(cs: GemmCase): string {
  return `gemm ${cs.m}×${cs.n}×${cs.k} t${cs.transA}${cs.transB} α=${cs.alpha} β=${cs.beta} pads ${cs.padA ?? 0}/${cs.padB ?? 0}/${cs.padC ?? 0}`;
}

// ----------------------------------------------------------------------------------------------------
// syrk harness

interface SyrkCase {
  n: number; k: number; trans: number; alpha: number; beta: number;
  padA?: number; padC?: number;
  a?: Gen; c?: Gen;
  exact?: boolean;
  /** Fill the strict upper triangle of C with NaN before the call (must not matter). */
  nanUpper?: boolean;
}

function runSyrk(cs: SyrkCase, label = `syrk n=${cs.n} k=${cs.k} trans=${cs.trans} α=${cs.alpha} β=${cs.beta}`) {
  const { n, k, trans, alpha, beta } = cs;
  const [ar, ac] = trans ? [k, n] : [n, k];
  const A = stored(ar, ac, ac + (cs.padA ?? 0), cs.a ?? normals());
  const C0 = stored(n, n, n + (cs.padC ?? 0), cs.c ?? normals());
  // symmetric input (what a Gram-EMA state looks like)
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) C0.data[j * C0.ld + i] = C0.data[i * C0.ld + j];
  const C0run = { ...C0, data: C0.data.slice() };
  if (cs.nanUpper) for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) C0run.data[i * C0.ld + j] = NaN;
  reset();
  const pa = put(A.data), cw = put(C0run.data), cr = put(C0run.data);
  const s = scratch();
  wasm.syrk(cw, C0.ld, pa, A.ld, trans, n, k, alpha, beta, s);
  ref.syrk(cr, C0.ld, pa, A.ld, trans, n, k, alpha, beta, 0);
  checkGuards(label);
  expectSameBits(`${label}: A changed`, f32(pa, A.data.length), A.data);
  const w = f32(cw, C0.data.length).slice(), r = f32(cr, C0.data.length).slice();
  expectPaddingKept(`${label} (wasm)`, C0, w);
  expectPaddingKept(`${label} (ref)`, C0, r);
  for (const [name, x] of [['wasm', w], ['ref', r]] as const) {
    const bits = new Uint32Array(x.buffer);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        if (bits[i * C0.ld + j] !== bits[j * C0.ld + i]) throw new Error(`${label}: ${name} c[${i}][${j}] = ${x[i * C0.ld + j]} but c[${j}][${i}] = ${x[j * C0.ld + i]}`);
      }
    }
  }
  const absAAt = absProducts(A, trans, A, 1 - trans, n, k);
  const all = Array.from({ length: n }, (_, i) => i);
  if (cs.exact) expectSameValues(`${label}: wasm vs ref`, w, r);
  else expectClose(label, w, r, C0, all, n, k, alpha, beta, absAAt);
  return { w, r, A, C0, absAAt };
}

// ----------------------------------------------------------------------------------------------------

describe('gemm family basics', () => {
  it('lists its kernels, and the scratch size matches the wasm blocking', () => {
    expect([...GEMM_KERNELS]).toEqual(['gemm', 'syrk']);
    expect(wasmScratchBytes).toBe(GEMM_SCRATCH_BYTES);
    expect(GEMM_SCRATCH_BYTES % 16).toBe(0);
  });
});

describe('hand-checked values (fail for a wrong ref too)', () => {
  // A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]: A·B = [58 64; 139 154].
  const Am = [[1, 2, 3], [4, 5, 6]];
  const Bm = [[7, 8], [9, 10], [11, 12]];
  const flat = (x: number[][]) => Float32Array.from(x.flat());
  const tr = (x: number[][]) => x[0].map((_, j) => x.map((r) => r[j]));
  const seq = (vals: Float32Array): Gen => () => vals;

  it.each([[0, 0], [0, 1], [1, 0], [1, 1]])('2×3 · 3×2, transA=%i transB=%i, α = 2, β = −1', (ta, tb) => {
    const a = flat(ta ? tr(Am) : Am), b = flat(tb ? tr(Bm) : Bm);
    const c = Float32Array.from([1, 1, 1, 1]);
    for (const kern of ['ref', 'wasm'] as const) {
      reset();
      const pa = put(a), pb = put(b), pc = put(c);
      const K = kern === 'ref' ? ref : wasm;
      K.gemm(pc, 2, pa, ta ? 2 : 3, ta, pb, tb ? 3 : 2, tb, 2, 2, 3, 1, 0, scratch());
      expect([...f32(pc, 4)], kern).toEqual([58, 64, 139, 154]);
      f32(pc, 4).set(c);
      K.gemm(pc, 2, pa, ta ? 2 : 3, ta, pb, tb ? 3 : 2, tb, 2, 2, 3, 2, -1, scratch());
      expect([...f32(pc, 4)], kern).toEqual([115, 127, 277, 307]);
      checkGuards(kern);
    }
    runGemm({ m: 2, n: 2, k: 3, transA: ta, transB: tb, alpha: 2, beta: -1, a: seq(a), b: seq(b), exact: true });
  });

  it('syrk: A = [1 2; 3 4; 5 6] gives A·Aᵀ and Aᵀ·A', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    for (const kern of ['ref', 'wasm'] as const) {
      const K = kern === 'ref' ? ref : wasm;
      reset();
      const pa = put(a), pc = put(new Float32Array(9).fill(NaN));
      K.syrk(pc, 3, pa, 2, 0, 3, 2, 1, 0, scratch());
      expect([...f32(pc, 9)], kern).toEqual([5, 11, 17, 11, 25, 39, 17, 39, 61]);
      const pc2 = put(Float32Array.from([1, 7, 1, 1]));
      // trans = 1: the same storage as a 3×2 matrix A, C ← 0.5·Aᵀ·A + 2·C (only the lower 1 and upper-ignored 7)
      K.syrk(pc2, 2, pa, 2, 1, 2, 3, 0.5, 2, scratch());
      expect([...f32(pc2, 4)], kern).toEqual([0.5 * 35 + 2, 0.5 * 44 + 2, 0.5 * 44 + 2, 0.5 * 56 + 2]);
      checkGuards(kern);
    }
  });
});

const TRANS: [number, number][] = [[0, 0], [0, 1], [1, 0], [1, 1]];
const SHAPES = GEMM_SHAPES;

describe('gemm: wasm within tolerance of ref', () => {
  it.each(SHAPES)('%i×%i×%i, all transposes, padded strides, misaligned views', (m, n, k) => {
    for (const [transA, transB] of TRANS) {
      runGemm({ m, n, k, transA, transB, alpha: 1.5, beta: -0.75, padA: 3, padB: 1, padC: 5, skew: 4 });
      // β = 0 with NaN in C: C is write-only
      runGemm({ m, n, k, transA, transB, alpha: -1, beta: 0, c: fill(NaN) });
    }
  });

  it.each(SHAPES)('%i×%i×%i with small integers: exactly equal to ref', (m, n, k) => {
    for (const [transA, transB] of TRANS) {
      runGemm({ m, n, k, transA, transB, alpha: 2, beta: -1, a: ints(), b: ints(), c: ints(100), padB: 2, exact: true });
      runGemm({ m, n, k, transA, transB, alpha: 1, beta: 0, a: ints(), b: ints(), c: fill(NaN), padA: 1, exact: true });
    }
  });

  it('256³, all transposes', () => {
    for (const [transA, transB] of TRANS) runGemm({ m: 256, n: 256, k: 256, transA, transB, alpha: 1, beta: 0.5 });
  });

  it('768×3072 output with k = 768 (rows checked: edges and middle), and exactly on integers', () => {
    const rows = [0, 1, 2, 3, 385, 512, 766, 767];
    runGemm({ m: 768, n: 3072, k: 768, transA: 0, transB: 0, alpha: 1, beta: 0, a: uniforms(), b: uniforms(), c: fill(NaN), rows });
    runGemm({ m: 768, n: 3072, k: 768, transA: 1, transB: 1, alpha: -0.5, beta: 1, padC: 4, a: uniforms(), b: uniforms(), c: uniforms(), rows });
    // every element: integer data makes the wasm result exact, so compare it with the exact product
    const run = runGemm({ m: 768, n: 3072, k: 768, transA: 0, transB: 1, alpha: 1, beta: 0, a: ints(3), b: ints(3), c: fill(NaN), rows: [0, 767] });
    const { A, B, w } = run;
    const col = new Float64Array(768);
    for (const j of [0, 7, 8, 1000, 3071]) {
      for (let p = 0; p < 768; p++) col[p] = B.data[j * B.ld + p];
      for (let i = 0; i < 768; i++) {
        let s = 0;
        for (let p = 0; p < 768; p++) s += A.data[i * A.ld + p] * col[p];
        if (w[i * 3072 + j] !== s) throw new Error(`c[${i}][${j}] = ${w[i * 3072 + j]}, exact ${s}`);
      }
    }
  });

  it('tall and wide, tall-skinny Uᵀ·G and U·X', () => {
    runGemm({ m: 1000, n: 3, k: 70, transA: 0, transB: 0, alpha: 1, beta: 0 });
    runGemm({ m: 3, n: 1000, k: 70, transA: 0, transB: 1, alpha: 1, beta: 0 });
    runGemm({ m: 24, n: 200, k: 1030, transA: 1, transB: 0, alpha: 1, beta: 0 }); // Uᵀ·G: U 1030×24, G 1030×200
    runGemm({ m: 1030, n: 200, k: 24, transA: 0, transB: 0, alpha: 1, beta: 1 }); // U·X
    runGemm({ m: 513, n: 100, k: 300, transA: 0, transB: 1, alpha: 1, beta: 0, a: ints(), b: ints(), exact: true });
  });

  it('alpha and beta: 0, 1, negative; β = 0 never reads C', () => {
    for (const alpha of [0, 1, -2.5, 0.1]) {
      for (const beta of [0, 1, -0.5]) {
        for (const [transA, transB] of TRANS) {
          runGemm({ m: 19, n: 21, k: 11, transA, transB, alpha, beta, padC: 2, c: beta === 0 ? fill(NaN) : normals(3) });
          runGemm({ m: 19, n: 21, k: 11, transA, transB, alpha, beta, a: ints(), b: ints(), c: beta === 0 ? fill(NaN) : ints(9), exact: Number.isInteger(alpha * 4) });
        }
      }
    }
  });

  it('k = 0 gives C ← β·C; α = 0 does not read A or B; m or n = 0 writes nothing', () => {
    for (const beta of [0, 1, -0.5]) {
      const { w, C0 } = runGemm({ m: 9, n: 13, k: 0, transA: 0, transB: 0, alpha: 1, beta, padC: 3, c: beta === 0 ? fill(NaN) : normals(), exact: true });
      for (let i = 0; i < 9; i++) for (let j = 0; j < 13; j++) expect(w[i * 16 + j]).toBe(Math.fround(beta * C0.data[i * 16 + j]) || 0);
      // α = 0: NaN in A and B does not reach C
      const r = runGemm({ m: 9, n: 13, k: 5, transA: 1, transB: 0, alpha: 0, beta, a: fill(NaN), b: fill(Infinity), c: beta === 0 ? fill(NaN) : normals(), exact: true });
      expect(r.w.every((x) => Number.isFinite(x))).toBe(true);
    }
    runGemm({ m: 0, n: 5, k: 3, transA: 0, transB: 0, alpha: 1, beta: 0, exact: true });
    runGemm({ m: 5, n: 0, k: 3, transA: 1, transB: 1, alpha: 1, beta: 0, exact: true });
    runGemm({ m: 0, n: 0, k: 0, transA: 0, transB: 0, alpha: 1, beta: 1, exact: true });
  });

  it('NaN and ±Inf in A or B propagate', () => {
    const special = (vals: number[]): Gen => (n) => {
      const x = normals()(n);
      const u = rng(seedCounter++);
      for (let t = 0; t < Math.max(1, n >> 6); t++) x[Math.floor(u() * n)] = vals[t % vals.length];
      return x;
    };
    for (const [transA, transB] of TRANS) {
      for (const [m, n, k] of [[13, 17, 9], [70, 33, 300]]) {
        const { w, r } = runGemm({ m, n, k, transA, transB, alpha: 1, beta: 0, a: special([NaN, Infinity]), b: special([-Infinity, NaN]), c: fill(NaN) });
        expect(r.some(Number.isNaN)).toBe(true);
        expect(w.filter(Number.isNaN).length).toBe(r.filter(Number.isNaN).length);
      }
    }
  });

  it('rows of C split into separate calls (offset C and A pointers) give bit for bit the same C', () => {
    for (const [m, n, k] of [[37, 29, 31], [261, 40, 270]]) {
      for (const [transA, transB] of TRANS) {
        const { A, B, C0, w } = runGemm({ m, n, k, transA, transB, alpha: 1.25, beta: -0.5, padA: 1, padC: 2 });
        for (const inner of [[5, 17], [1, m - 1], [130]]) {
          const cut = [0, ...inner.filter((r) => r > 0 && r < m), m];
          reset();
          const pa = put(A.data), pb = put(B.data), pc = put(C0.data), s = scratch();
          for (let t = 0; t + 1 < cut.length; t++) {
            const r0 = cut[t], r1 = cut[t + 1];
            if (r1 <= r0) continue;
            const aOff = transA ? 4 * r0 : 4 * r0 * A.ld;
            wasm.gemm(pc + 4 * r0 * C0.ld, C0.ld, pa + aOff, A.ld, transA, pb, B.ld, transB, r1 - r0, n, k, 1.25, -0.5, s);
          }
          checkGuards('row split');
          expectSameBits(`row split ${cut} t${transA}${transB}`, f32(pc, C0.data.length), w);
        }
      }
    }
  });

  it('property: random shapes (1..40), transposes, strides, α, β and values', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 40 }), k: fc.integer({ min: 0, max: 40 }),
          transA: fc.integer({ min: 0, max: 1 }), transB: fc.integer({ min: 0, max: 1 }),
          padA: fc.integer({ min: 0, max: 3 }), padB: fc.integer({ min: 0, max: 3 }), padC: fc.integer({ min: 0, max: 3 }),
          skew: fc.constantFrom(0, 4, 8, 12),
          alpha: fc.oneof(fc.constantFrom(0, 1, -1), fc.double({ min: -4, max: 4, noNaN: true })),
          beta: fc.oneof(fc.constantFrom(0, 1, -0.5), fc.double({ min: -4, max: 4, noNaN: true })),
          scale: fc.constantFrom(1, 1e-3, 1e3),
          integers: fc.boolean(),
        }),
        (p) => {
          const gen = p.integers ? ints() : normals(p.scale);
          runGemm({ ...p, a: gen, b: gen, c: p.beta === 0 ? fill(NaN) : p.integers ? ints(50) : normals(), exact: p.integers && Number.isInteger(p.alpha) && Number.isInteger(p.beta) });
        },
      ),
      { numRuns: 300, seed: 20240611 },
    );
  });
});

describe('syrk: lower triangle, mirrored exactly', () => {
  const SYRK: [number, number][] = [[1, 1], [1, 5], [5, 1], [3, 2], [7, 13], [9, 300], [37, 101], [129, 67], [130, 260], [520, 9], [256, 256]];

  it.each(SYRK)('n=%i k=%i, both trans, within tolerance of ref, exactly symmetric', (n, k) => {
    for (const trans of [0, 1]) {
      runSyrk({ n, k, trans, alpha: 0.75, beta: 0.5, padA: 3, padC: 2 });
      runSyrk({ n, k, trans, alpha: -1, beta: 0, c: fill(NaN) });
    }
  });

  it.each(SYRK)('n=%i k=%i with small integers: exactly equal to ref', (n, k) => {
    for (const trans of [0, 1]) runSyrk({ n, k, trans, alpha: 2, beta: -1, a: ints(), c: ints(20), padA: 1, exact: true });
  });

  it('equals gemm(op(A), op(A)ᵀ) within tolerance', () => {
    for (const [n, k] of [[37, 101], [130, 260], [520, 9]]) {
      for (const trans of [0, 1]) {
        const { w, A, C0, absAAt } = runSyrk({ n, k, trans, alpha: 1.5, beta: -0.25 });
        reset();
        const pa = put(A.data), pc = put(C0.data);
        wasm.gemm(pc, C0.ld, pa, A.ld, trans, pa, A.ld, 1 - trans, n, n, k, 1.5, -0.25, scratch());
        checkGuards('gemm for syrk');
        const g = f32(pc, C0.data.length).slice();
        // both within γ of the exact value, so within 2γ of each other
        expectClose(`syrk vs gemm n=${n} k=${k} trans=${trans}`, w, g, C0, Array.from({ length: n }, (_, i) => i), n, k, 1.5, -0.25, absAAt, 2);
      }
    }
  });

  it('Gram-EMA S ← β·S + (1 − β)·A·Aᵀ is syrk(alpha = 1 − β, beta = β)', () => {
    const b = 0.95;
    const { r, A, C0 } = runSyrk({ n: 33, k: 64, trans: 0, alpha: 1 - b, beta: b, padA: 2, padC: 1 });
    // the ref, element by element from the definition (f64, rounded once)
    const al = Math.fround(1 - b), be = Math.fround(b);
    for (const [i, j] of [[0, 0], [5, 3], [32, 31], [32, 0]]) {
      let s = 0;
      for (let p = 0; p < 64; p++) s += A.data[i * A.ld + p] * A.data[j * A.ld + p];
      const want = Math.fround(al * s + be * C0.data[i * C0.ld + j]);
      expect(r[i * C0.ld + j]).toBe(want);
      expect(r[j * C0.ld + i]).toBe(want);
    }
  });

  it('the strict upper triangle of C is never read', () => {
    for (const trans of [0, 1]) {
      for (const [n, k] of [[1, 3], [6, 5], [45, 70], [130, 20]]) {
        const { w } = runSyrk({ n, k, trans, alpha: 1, beta: 0.5, nanUpper: true });
        expect(w.every((x) => Number.isFinite(x))).toBe(true);
      }
    }
  });

  it('k = 0 and α = 0 give C ← β·C (mirrored); n = 0 writes nothing', () => {
    for (const beta of [0, 1, -0.5]) {
      runSyrk({ n: 11, k: 0, trans: 0, alpha: 1, beta, padC: 1, exact: true });
      const { w } = runSyrk({ n: 11, k: 4, trans: 1, alpha: 0, beta, a: fill(NaN), exact: true });
      expect(w.every((x) => Number.isFinite(x))).toBe(true);
    }
    runSyrk({ n: 0, k: 4, trans: 0, alpha: 1, beta: 1, exact: true });
  });

  it('property: random n, k (1..40), trans, strides, α, β and values', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 40 }), k: fc.integer({ min: 0, max: 40 }), trans: fc.integer({ min: 0, max: 1 }),
          padA: fc.integer({ min: 0, max: 3 }), padC: fc.integer({ min: 0, max: 3 }),
          alpha: fc.oneof(fc.constantFrom(0, 1, -1), fc.double({ min: -4, max: 4, noNaN: true })),
          beta: fc.oneof(fc.constantFrom(0, 1, 0.9), fc.double({ min: -4, max: 4, noNaN: true })),
          integers: fc.boolean(),
          nanUpper: fc.boolean(),
        }),
        (p) => {
          runSyrk({ ...p, a: p.integers ? ints() : normals(), c: p.integers ? ints(30) : normals(), exact: p.integers && Number.isInteger(p.alpha) && Number.isInteger(p.beta) });
        },
      ),
      { numRuns: 300, seed: 777 },
    );
  });
});
