/**
 * linalg kernels (QR, eigh, SVD): wasm against the ref oracle, and invariants on both backends.
 *
 * - Conformance (wasm vs ref, same input): shapes 1×1, 1×n, n×1, odd sizes, tall, wide and 256².
 *   The backends run the same algorithms in f64 and differ only in rounding order, so the f32 outputs
 *   agree to a few ulps; tolerances (max |wasm − ref|):
 *     qrFactor   R and reflectors ≤ 2e-6·max|R|, τ ≤ 2e-6
 *     qrFormQ    ≤ 2e-6 (entries of an orthogonal matrix)
 *     qrApply    ≤ 2e-6·max|C|
 *     eigh       eigenvalues ≤ 2e-6·max|w|; eigenvectors ≤ 2e-5 after matching signs (the kernel fixes
 *                signs; the match only guards against a tie in the sign rule), or projectors onto
 *                clusters of eigenvalues closer than 1e-4·‖A‖ (where the basis is not unique)
 *     svd        singular values ≤ 2e-6·σ_max; singular vector pairs ≤ 2e-5 after matching signs
 *   Eigen/singular vectors are only compared where the gap to the neighbours exceeds 1e-3 (relative),
 *   which holds for all eigenvalues of the random cases used.
 *   768×3072 (the shape) is checked for QR on wasm only, by invariants: ref takes ~8 s there.
 * - Invariants on both backends: ‖QᵀQ − I‖_max, ‖VᵀV − I‖_max, ‖UᵀU − I‖_max ≤ 4e-7 (measured ≤ 1e-7),
 *   reconstructions ‖A − QR‖_F/‖A‖_F, ‖A − VΛVᵀ‖_F/‖A‖_F, ‖A − UΣVᵀ‖_F/‖A‖_F ≤ 4e-7 (measured ≤ 1e-7),
 *   eigenvalues / singular values descending and within 2·ε₃₂·‖A‖_F of the exact ones of the f64 matrix
 *   before rounding to f32 (Weyl), on condition numbers 1e1…1e6, rank-deficient and zero matrices,
 *   repeated eigenvalues (divide-and-conquer deflation), exactly low-rank matrices whose reductions
 *   decay to ~1e-160 (all-ones, u·uᵀ), 1×1, and scaled inputs (1e±30, subnormal f32); the sign rule of
 *   eigen/singular vectors; both SVD paths (U = B·Σ⁻¹ when well conditioned, QR otherwise).
 * - Hand-checked values, NaN/±Inf inputs (status 1, outputs untouched, immediate), bad arguments
 *   (status 3), `checkLinalgStatus`, scratch bounds (guard words after exactly `*ScratchBytes` of
 *   scratch, and around every buffer), aliasing of outputs with the input.
 * The tests can fail: each of these mutations makes some fail — reflector norm rescue off, deflation
 * tolerance too loose, secular solver capped at 2 steps, eigenvalues off by 5e-7, T and Tᵀ swapped in
 * the block reflectors, no sign normalization, no U sign fix, finiteness checked on one row only, QL
 * deflating at 1e-5.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Arena } from '../dist/arena.js';
import { refKernels } from '../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { FisheroptError } from '../dist/errors.js';
import type { Kernels } from '../dist/kernels.js';
import {
  LINALG_KERNELS, LinalgStatus, QrApplyMode, checkLinalgStatus,
  eighScratchBytes, qrApplyScratchBytes, qrFormQScratchBytes, qrScratchBytes, svdScratchBytes,
} from '../dist/kernels/linalg.js';
import { normal, rng } from './helpers/rng.js';

const EPS32 = 2 ** -23;
const ORTH_TOL = 4e-7;
const RECON_TOL = 4e-7;

// ----------------------------------------------------------------------------------------------------
// Memory: one arena, a bump region per case, guard words around every buffer and after the scratch.

const GUARD = 16; // f32 words of sentinel after each buffer (and before, for f32 buffers)
const SENTINEL = 0x7fa5a5a5; // a NaN pattern no kernel produces
const ARENA_BYTES = 112 << 20;

let arena: Arena;
let base = 0;
/** Bump pointer shared by every Region of the running test (reset before each test). */
let top = 0;
let ref: Kernels;
let wasm: Kernels;
const backends: [string, () => Kernels][] = [['ref', () => ref], ['wasm', () => wasm]];

beforeAll(async () => {
  arena = new Arena({ initialBytes: ARENA_BYTES });
  base = arena.alloc(ARENA_BYTES - 4096);
  ref = refKernels(arena.memory);
  wasm = instantiateWasm(await loadWasmModule(), arena.memory);
});

beforeEach(() => {
  top = base;
});

interface Buf {
  ptr: number;
  words: number;
}

/** Guarded buffers of one kernel call (regions of a test never overlap). */
class Region {
  private bufs: Buf[] = [];
  private u32(): Uint32Array {
    return new Uint32Array(arena.memory.buffer);
  }
  /** A buffer of `words` 4-byte words (16-aligned, or misaligned by 4·`mis` bytes), guarded both sides. */
  alloc(words: number, mis = 0): number {
    const u = this.u32();
    const start = Math.ceil(top / 16) * 16;
    const ptr = start + GUARD * 4 + 4 * mis;
    if (ptr + 4 * (words + GUARD) > base + ARENA_BYTES - 8192) throw new Error('test arena exhausted');
    for (let i = 0; i < GUARD + mis; i++) u[(start >> 2) + i] = SENTINEL;
    for (let i = 0; i < GUARD; i++) u[(ptr >> 2) + words + i] = SENTINEL;
    top = ptr + 4 * (words + GUARD);
    this.bufs.push({ ptr, words });
    return ptr;
  }
  f32(data: ArrayLike<number>, mis = 0): number {
    const p = this.alloc(data.length, mis);
    new Float32Array(arena.memory.buffer, p, data.length).set(data);
    return p;
  }
  /** Scratch of exactly `bytes` (8-aligned, as the kernels require), guarded after; filled with garbage. */
  scratch(bytes: number): number {
    const p = this.alloc(Math.ceil(bytes / 4));
    new Uint32Array(arena.memory.buffer, p, Math.ceil(bytes / 4)).fill(0x7ff80001);
    return p;
  }
  /** Every guard word intact? Returns a description of the first damaged one. */
  damaged(): string | null {
    const u = this.u32();
    for (const b of this.bufs) {
      for (let i = 0; i < GUARD; i++) {
        if (u[(b.ptr >> 2) - 1 - i] !== SENTINEL) return `before buffer at ${b.ptr}`;
        if (u[(b.ptr >> 2) + b.words + i] !== SENTINEL) return `after buffer at ${b.ptr} (${b.words} words)`;
      }
    }
    return null;
  }
}

const read = (p: number, n: number): Float64Array => Float64Array.from(new Float32Array(arena.memory.buffer, p, n));
const readBits = (p: number, n: number): Uint32Array => Uint32Array.from(new Uint32Array(arena.memory.buffer, p, n));

// ----------------------------------------------------------------------------------------------------
// Dense f64 helpers (row-major)

function gaussian(m: number, n: number, seed: number): Float64Array {
  const g = normal(rng(seed));
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = g();
  return a;
}

/** C = op(A)·op(B); A is (ta ? k×m : m×k), B is (tb ? n×k : k×n). */
function mul(a: Float64Array, b: Float64Array, m: number, k: number, n: number, ta = false, tb = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = ta ? a[p * m + i] : a[i * k + p];
      if (x === 0) continue;
      const ci = i * n;
      if (tb) for (let j = 0; j < n; j++) c[ci + j] += x * b[j * k + p];
      else for (let j = 0; j < n; j++) c[ci + j] += x * b[p * n + j];
    }
  }
  return c;
}

/** A random n×n orthogonal matrix (modified Gram–Schmidt, twice, on a Gaussian matrix). */
function orthogonal(n: number, seed: number): Float64Array {
  const q = gaussian(n, n, seed); // rows are the vectors
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < n; i++) {
      const qi = q.subarray(i * n, i * n + n);
      for (let j = 0; j < i; j++) {
        const qj = q.subarray(j * n, j * n + n);
        let d = 0;
        for (let k = 0; k < n; k++) d += qi[k] * qj[k];
        for (let k = 0; k < n; k++) qi[k] -= d * qj[k];
      }
      let s = 0;
      for (let k = 0; k < n; k++) s += qi[k] * qi[k];
      s = Math.sqrt(s);
      for (let k = 0; k < n; k++) qi[k] /= s;
    }
  }
  return q;
}

/** Q·diag(lam)·Qᵀ for the orthogonal Q. */
function symmetricWith(lam: number[], seed: number): Float64Array {
  const n = lam.length;
  const q = orthogonal(n, seed);
  const ql = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ql[i * n + j] = q[i * n + j] * lam[j];
  return mul(ql, q, n, n, n, false, true);
}

/** U·diag(sig)·Vᵀ, m×n, with random orthogonal U (m×m) and V (n×n). */
function withSingularValues(m: number, n: number, sig: number[], seed: number): Float64Array {
  const u = orthogonal(m, seed), v = orthogonal(n, seed + 1);
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < sig.length; k++) s += u[i * m + k] * sig[k] * v[j * n + k];
      a[i * n + j] = s;
    }
  }
  return a;
}

const fro = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
};

/** max |QᵀQ − I| over the columns of the m×k matrix Q. */
function orthError(q: Float64Array, m: number, k: number): number {
  const g = mul(q, q, k, m, k, true, false);
  let e = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) e = Math.max(e, Math.abs(g[i * k + j] - (i === j ? 1 : 0)));
  return e;
}

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  const nb = fro(b);
  return nb === 0 ? Math.sqrt(s) : Math.sqrt(s) / nb;
};

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const f32 = (a: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(a));

const descending = (w: ArrayLike<number>): boolean => {
  for (let i = 1; i < w.length; i++) if (w[i] > w[i - 1]) return false;
  return true;
};

// ----------------------------------------------------------------------------------------------------
// Kernel runners: each returns the outputs as f64 arrays (row-major, tight) and checks the guards.

interface QrOut {
  status: number;
  /** A after qrFactor (R above, reflectors below), m×n. */
  fact: Float64Array;
  tau: Float64Array;
  /** Reduced Q (m×k) and full Q (m×m). */
  q: Float64Array;
  qFull: Float64Array;
  r: Float64Array;
}

function runQr(K: Kernels, a: ArrayLike<number>, m: number, n: number): QrOut {
  const reg = new Region();
  const k = Math.min(m, n);
  const pa = reg.f32(a), ptau = reg.alloc(k);
  const st = K.qrFactor(pa, n, m, n, ptau, reg.scratch(qrScratchBytes(m, n)));
  const pq = reg.alloc(m * k), pqf = reg.alloc(m * m);
  const st2 = K.qrFormQ(pq, k, pa, n, m, n, k, ptau, reg.scratch(qrFormQScratchBytes(m, n, k)));
  const st3 = K.qrFormQ(pqf, m, pa, n, m, n, m, ptau, reg.scratch(qrFormQScratchBytes(m, n, m)));
  expect(reg.damaged()).toBeNull();
  const fact = read(pa, m * n);
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let j = i; j < n; j++) r[i * n + j] = fact[i * n + j];
  return { status: st | st2 | st3, fact, tau: read(ptau, k), q: read(pq, m * k), qFull: read(pqf, m * m), r };
}

interface EighOut {
  status: number;
  w: Float64Array;
  v: Float64Array;
}

function runEigh(K: Kernels, a: ArrayLike<number>, n: number): EighOut {
  const reg = new Region();
  const pa = reg.f32(a), pv = reg.alloc(n * n), pw = reg.alloc(n);
  const status = K.eigh(pv, n, pw, pa, n, n, reg.scratch(eighScratchBytes(n)));
  expect(reg.damaged()).toBeNull();
  return { status, w: read(pw, n), v: read(pv, n * n) };
}

interface SvdOut {
  status: number;
  u: Float64Array;
  s: Float64Array;
  vt: Float64Array;
  ucols: number;
  vrows: number;
}

function runSvd(K: Kernels, a: ArrayLike<number>, m: number, n: number, full: boolean): SvdOut {
  const reg = new Region();
  const k = Math.min(m, n), ucols = full ? m : k, vrows = full ? n : k;
  const pa = reg.f32(a), pu = reg.alloc(m * ucols), ps = reg.alloc(k), pvt = reg.alloc(vrows * n);
  const status = K.svd(pu, ucols, ps, pvt, n, pa, n, m, n, full ? 1 : 0, reg.scratch(svdScratchBytes(m, n, full)));
  expect(reg.damaged()).toBeNull();
  return { status, u: read(pu, m * ucols), s: read(ps, k), vt: read(pvt, vrows * n), ucols, vrows };
}

// ----------------------------------------------------------------------------------------------------
// Invariant checks

function checkQr(out: QrOut, a: Float64Array, m: number, n: number, label: string): void {
  const k = Math.min(m, n);
  expect(out.status, label).toBe(0);
  expect(orthError(out.q, m, k), `${label} reduced QᵀQ`).toBeLessThan(ORTH_TOL);
  expect(orthError(out.qFull, m, m), `${label} full QᵀQ`).toBeLessThan(ORTH_TOL);
  expect(relDiff(mul(out.q, out.r, m, k, n), a), `${label} A − QR`).toBeLessThan(RECON_TOL);
  // The full Q starts with the reduced one.
  let same = true;
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) if (out.qFull[i * m + j] !== out.q[i * k + j]) same = false;
  expect(same, `${label} full Q extends the reduced Q`).toBe(true);
  for (const t of out.tau) expect(t === 0 || (t >= 1 - 1e-6 && t <= 2 + 1e-6), `${label} τ ∈ {0} ∪ [1, 2]`).toBe(true);
}

function checkEigh(out: EighOut, a: Float64Array, n: number, label: string, exact?: number[]): void {
  expect(out.status, label).toBe(0);
  expect(descending(out.w), `${label} descending`).toBe(true);
  expect(orthError(out.v, n, n), `${label} VᵀV`).toBeLessThan(ORTH_TOL);
  const vl = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vl[i * n + j] = out.v[i * n + j] * out.w[j];
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  const rec = mul(vl, out.v, n, n, n, false, true);
  const nrm = fro(s);
  expect(nrm === 0 ? fro(rec) : relDiff(rec, s), `${label} A − VΛVᵀ`).toBeLessThan(RECON_TOL);
  if (exact) {
    const e = [...exact].sort((x, y) => y - x);
    const tol = 2 * EPS32 * Math.max(nrm, 1e-300) + 1e-45;
    for (let i = 0; i < n; i++) expect(Math.abs(out.w[i] - e[i]), `${label} λ${i}`).toBeLessThanOrEqual(tol);
  }
}

function checkSvd(out: SvdOut, a: Float64Array, m: number, n: number, label: string, exact?: number[]): void {
  const k = Math.min(m, n);
  expect(out.status, label).toBe(0);
  expect(descending(out.s), `${label} descending`).toBe(true);
  for (const x of out.s) expect(x).toBeGreaterThanOrEqual(0);
  expect(orthError(out.u, m, out.ucols), `${label} UᵀU`).toBeLessThan(ORTH_TOL);
  const v = new Float64Array(n * out.vrows); // V = (Vᵀ)ᵀ, n×vrows
  for (let i = 0; i < out.vrows; i++) for (let j = 0; j < n; j++) v[j * out.vrows + i] = out.vt[i * n + j];
  expect(orthError(v, n, out.vrows), `${label} VᵀV`).toBeLessThan(ORTH_TOL);
  const us = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) us[i * k + j] = out.u[i * out.ucols + j] * out.s[j];
  const rec = mul(us, out.vt.subarray(0, k * n), m, k, n);
  const nrm = fro(a);
  expect(nrm === 0 ? fro(rec) : relDiff(rec, a), `${label} A − UΣVᵀ`).toBeLessThan(RECON_TOL);
  if (exact) {
    const e = [...exact].sort((x, y) => y - x);
    const tol = 2 * EPS32 * Math.max(nrm, 1e-300) + 1e-45;
    for (let i = 0; i < k; i++) expect(Math.abs(out.s[i] - (e[i] ?? 0)), `${label} σ${i}`).toBeLessThanOrEqual(tol);
  }
}

// ----------------------------------------------------------------------------------------------------
// Conformance helpers

/** Indices whose relative gap to both neighbours exceeds `gap` (their vectors are well determined). */
function separated(w: Float64Array, gap: number): number[] {
  const scale = Math.max(maxAbs(w), 1e-300);
  const out: number[] = [];
  for (let i = 0; i < w.length; i++) {
    const lo = i > 0 ? w[i - 1] - w[i] : Infinity, hi = i + 1 < w.length ? w[i] - w[i + 1] : Infinity;
    if (Math.min(lo, hi) > gap * scale) out.push(i);
  }
  return out;
}

/** max over columns j in `cols` of |x_j·s − y_j|, s = ±1 matching signs (m×c column layout, stride c). */
function columnDiff(x: Float64Array, y: Float64Array, m: number, c: number, cols: number[]): number {
  let e = 0;
  for (const j of cols) {
    let d = 0;
    for (let i = 0; i < m; i++) d += x[i * c + j] * y[i * c + j];
    const s = d < 0 ? -1 : 1;
    for (let i = 0; i < m; i++) e = Math.max(e, Math.abs(s * x[i * c + j] - y[i * c + j]));
  }
  return e;
}

const SHAPES: [number, number][] = [[1, 1], [1, 7], [7, 1], [2, 2], [37, 101], [101, 37], [129, 3], [3, 129], [64, 64], [256, 256]];

describe('linalg: wasm conforms to ref', () => {
  it('lists every kernel', () => {
    expect([...LINALG_KERNELS].sort()).toEqual(['eigh', 'qrApply', 'qrFactor', 'qrFormQ', 'svd']);
  });

  it.each(SHAPES)('qrFactor + qrFormQ %i×%i', (m, n) => {
    const a = f32(gaussian(m, n, 100 * m + n));
    const r = runQr(ref, a, m, n), w = runQr(wasm, a, m, n);
    expect(r.status).toBe(0);
    expect(w.status).toBe(0);
    const scale = Math.max(maxAbs(r.r), 1e-30);
    expect(maxDiff(w.r, r.r) / scale, 'R').toBeLessThanOrEqual(2e-6);
    const k = Math.min(m, n);
    let vd = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < Math.min(i, k); j++) vd = Math.max(vd, Math.abs(w.fact[i * n + j] - r.fact[i * n + j]));
    expect(vd, 'reflectors').toBeLessThanOrEqual(2e-6);
    expect(maxDiff(w.tau, r.tau), 'tau').toBeLessThanOrEqual(2e-6);
    expect(maxDiff(w.q, r.q), 'Q').toBeLessThanOrEqual(2e-6);
    expect(maxDiff(w.qFull, r.qFull), 'full Q').toBeLessThanOrEqual(2e-6);
    checkQr(w, f32(a), m, n, `wasm ${m}×${n}`);
    checkQr(r, f32(a), m, n, `ref ${m}×${n}`);
  });

  it.each([[37, 5, 0], [37, 5, 1], [37, 5, 2], [37, 5, 3], [64, 64, 1], [129, 3, 2], [1, 1, 0], [6, 6, 3]])('qrApply m=%i p=%i mode %i, both backends', (m, p, mode) => {
    const kRefl = Math.min(m, Math.max(1, m - 3));
    const fac = runQr(ref, f32(gaussian(m, kRefl, 7 * m + mode)), m, kRefl);
    const left = mode === QrApplyMode.Q_C || mode === QrApplyMode.QT_C;
    const rows = left ? m : p, cols = left ? p : m;
    const c = f32(gaussian(rows, cols, 11 * m + p));
    // Expected from the explicit full Q (ref's): Q·C, Qᵀ·C, C·Q, C·Qᵀ.
    const q = fac.qFull;
    const expected = mode === 0 ? mul(q, c, m, m, p) : mode === 1 ? mul(q, c, m, m, p, true) : mode === 2 ? mul(c, q, p, m, m) : mul(c, q, p, m, m, false, true);
    const results: Float64Array[] = [];
    for (const [name, K] of backends) {
      const reg = new Region();
      const pa = reg.f32(fac.fact), ptau = reg.f32(fac.tau), pc = reg.f32(c);
      const st = K().qrApply(pc, cols, pa, kRefl, m, kRefl, ptau, p, mode, reg.scratch(qrApplyScratchBytes(m, p)));
      expect(st, name).toBe(0);
      expect(reg.damaged(), name).toBeNull();
      const got = read(pc, rows * cols);
      expect(maxDiff(got, expected) / Math.max(maxAbs(expected), 1e-30), `${name} vs explicit Q`).toBeLessThanOrEqual(2e-6);
      results.push(got);
    }
    expect(maxDiff(results[1], results[0]) / Math.max(maxAbs(results[0]), 1e-30), 'wasm vs ref').toBeLessThanOrEqual(2e-6);
  });

  it.each([1, 2, 3, 7, 37, 101, 129, 256])('eigh n=%i', (n) => {
    const g = gaussian(n, n, 31 * n);
    const a = f32(g.map((x, i) => x + g[(i % n) * n + Math.floor(i / n)]));
    const r = runEigh(ref, a, n), w = runEigh(wasm, a, n);
    expect(r.status).toBe(0);
    expect(w.status).toBe(0);
    expect(maxDiff(w.w, r.w) / maxAbs(r.w), 'eigenvalues').toBeLessThanOrEqual(2e-6);
    const cols = separated(r.w, 1e-3);
    expect(cols.length).toBeGreaterThan(0.9 * n);
    expect(columnDiff(w.v, r.v, n, n, cols), 'eigenvectors').toBeLessThanOrEqual(2e-5);
    checkEigh(w, a, n, `wasm n=${n}`);
    checkEigh(r, a, n, `ref n=${n}`);
  });

  it('eigh with a repeated eigenvalue: projectors onto the eigenspaces agree', () => {
    const n = 48;
    const lam = Array.from({ length: n }, (_, i) => (i < 20 ? 2 : i < 30 ? -1 : 0.1 * (i - 30) - 3));
    const a = f32(symmetricWith(lam, 5));
    const r = runEigh(ref, a, n), w = runEigh(wasm, a, n);
    const cluster = (v: Float64Array, lo: number, hi: number): Float64Array => {
      const c = new Float64Array(n * (hi - lo));
      for (let i = 0; i < n; i++) for (let j = lo; j < hi; j++) c[i * (hi - lo) + j - lo] = v[i * n + j];
      return mul(c, c, n, hi - lo, n, false, true);
    };
    // Sorted descending: 20 × 2, 10 × −1, then 18 distinct values in [−3, −1.3].
    const order = [...lam].sort((x, y) => y - x);
    const first = order.indexOf(2), last = order.lastIndexOf(2);
    const m1 = order.indexOf(-1), m2 = order.lastIndexOf(-1);
    expect(maxDiff(cluster(w.v, first, last + 1), cluster(r.v, first, last + 1))).toBeLessThanOrEqual(2e-5);
    expect(maxDiff(cluster(w.v, m1, m2 + 1), cluster(r.v, m1, m2 + 1))).toBeLessThanOrEqual(2e-5);
    checkEigh(w, a, n, 'wasm repeated', lam);
    checkEigh(r, a, n, 'ref repeated', lam);
  });

  it.each([[1, 1], [1, 7], [7, 1], [37, 101], [101, 37], [129, 3], [3, 129], [64, 64], [256, 256]])('svd %i×%i, thin and full', (m, n) => {
    const a = f32(gaussian(m, n, 17 * m + n));
    for (const full of [false, true]) {
      if (full && m * n === 256 * 256) continue; // the square case is the same as thin
      const r = runSvd(ref, a, m, n, full), w = runSvd(wasm, a, m, n, full);
      expect(r.status).toBe(0);
      expect(w.status).toBe(0);
      const k = Math.min(m, n);
      expect(maxDiff(w.s, r.s) / Math.max(r.s[0], 1e-30), 'singular values').toBeLessThanOrEqual(2e-6);
      const cols = separated(r.s, 1e-4);
      // Pair signs: the sign of u_j·u'_j applies to v_j too.
      let e = 0;
      for (const j of cols) {
        let d = 0;
        for (let i = 0; i < m; i++) d += w.u[i * w.ucols + j] * r.u[i * r.ucols + j];
        const s = d < 0 ? -1 : 1;
        for (let i = 0; i < m; i++) e = Math.max(e, Math.abs(s * w.u[i * w.ucols + j] - r.u[i * r.ucols + j]));
        for (let i = 0; i < n; i++) e = Math.max(e, Math.abs(s * w.vt[j * n + i] - r.vt[j * n + i]));
      }
      expect(e, `singular vectors (full=${full})`).toBeLessThanOrEqual(2e-5);
      expect(cols.length).toBeGreaterThan(0.8 * k);
      checkSvd(w, a, m, n, `wasm ${m}×${n} full=${full}`);
      checkSvd(r, a, m, n, `ref ${m}×${n} full=${full}`);
    }
  });
});

describe.each(backends)('linalg invariants on %s', (name, K) => {
  const conds = [1e1, 1e2, 1e4, 1e6];

  it.each(conds)('QR of matrices with condition number %d', (cond) => {
    for (const [m, n] of [[60, 60], [90, 40], [40, 90]]) {
      const k = Math.min(m, n);
      const sig = Array.from({ length: k }, (_, i) => cond ** (-i / (k - 1)));
      const a = f32(withSingularValues(m, n, sig, m + n + Math.round(Math.log10(cond))));
      checkQr(runQr(K(), a, m, n), a, m, n, `${name} cond ${cond} ${m}×${n}`);
    }
  });

  it('QR of rank-deficient, zero, 1×1 and scaled matrices', () => {
    const m = 50, n = 30;
    const low = f32(withSingularValues(m, n, [5, 4, 3, 2, 1], 3)); // rank 5
    checkQr(runQr(K(), low, m, n), low, m, n, 'rank 5');
    const zero = new Float64Array(m * n);
    const z = runQr(K(), zero, m, n);
    checkQr(z, zero, m, n, 'zero');
    expect(maxAbs(z.tau)).toBe(0);
    expect(maxAbs(z.r)).toBe(0);
    for (const x of [3, -2, 0]) {
      const o = runQr(K(), [x], 1, 1);
      expect(o.r[0]).toBe(x);
      expect(o.tau[0]).toBe(0);
      expect(o.q[0]).toBe(1);
    }
    for (const s of [1e30, 1e-30, 1e-38]) {
      const a = f32(gaussian(20, 12, 9).map((x) => x * s));
      checkQr(runQr(K(), a, 20, 12), a, 20, 12, `scaled ${s}`);
    }
    // Subnormal f32 input: computed in f64 without trouble; R is subnormal too, so its f32 rounding
    // (absolute 1.4e-45) bounds the reconstruction.
    const sub = f32(gaussian(20, 12, 9).map((x) => x * 1e-40));
    const so = runQr(K(), sub, 20, 12);
    expect(so.status).toBe(0);
    expect(relDiff(mul(so.q, so.r, 20, 12, 12), sub)).toBeLessThan(1e-4);
    expect(orthError(so.q, 20, 12)).toBeLessThan(ORTH_TOL);
  });

  it('QR of [[3, 1], [4, 2]] by hand', () => {
    const o = runQr(K(), [3, 1, 4, 2], 2, 2);
    // x = (3, 4): β = −5, τ = 1.6, v = (1, 0.5); second column (1, 2) → (−2.2, 0.4); τ₂ = 0.
    const near = (x: number, y: number) => expect(Math.abs(x - y)).toBeLessThan(1e-6);
    near(o.fact[0], -5);
    near(o.fact[1], -2.2);
    near(o.fact[2], 0.5);
    near(o.fact[3], 0.4);
    near(o.tau[0], 1.6);
    expect(o.tau[1]).toBe(0);
    [-0.6, -0.8, -0.8, 0.6].forEach((x, i) => near(o.q[i], x));
  });

  it.each(conds)('eigh of Q·diag·Qᵀ with condition number %d', (cond) => {
    const n = 64;
    const lam = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * cond ** (-i / (n - 1)));
    const a = f32(symmetricWith(lam, Math.round(Math.log10(cond))));
    checkEigh(runEigh(K(), a, n), a, n, `${name} cond ${cond}`, lam);
  });

  it('eigh of rank-deficient, repeated, zero, identity, diagonal, 1×1 and scaled matrices', () => {
    const n = 40;
    const low = Array.from({ length: n }, (_, i) => (i < 6 ? i + 1 : 0));
    let a = f32(symmetricWith(low, 1));
    checkEigh(runEigh(K(), a, n), a, n, 'rank 6', low);
    const rep = Array.from({ length: n }, (_, i) => (i < 15 ? 1 : i < 30 ? -1 : 3));
    a = f32(symmetricWith(rep, 2));
    checkEigh(runEigh(K(), a, n), a, n, 'repeated', rep);
    const zero = new Float64Array(n * n);
    const z = runEigh(K(), zero, n);
    checkEigh(z, zero, n, 'zero', new Array(n).fill(0));
    expect(maxAbs(z.w)).toBe(0);
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const e = runEigh(K(), eye, n);
    checkEigh(e, eye, n, 'identity', new Array(n).fill(1));
    expect(maxDiff(e.v, eye)).toBe(0); // already diagonal: V = I exactly
    const diag = new Float64Array(9);
    [2, -7, 5].forEach((x, i) => (diag[i * 3 + i] = x));
    const d = runEigh(K(), diag, 3);
    expect([...d.w]).toEqual([5, 2, -7]);
    expect([...d.v]).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
    const one = runEigh(K(), [-4.5], 1);
    expect([...one.w, ...one.v]).toEqual([-4.5, 1]);
    for (const s of [1e30, 1e-30, 1e-37]) {
      const b = f32(symmetricWith(Array.from({ length: 12 }, (_, i) => (i - 5) * s), 4));
      checkEigh(runEigh(K(), b, 12), b, 12, `scaled ${s}`);
    }
    const sub = f32(symmetricWith(Array.from({ length: 12 }, (_, i) => (i - 5) * 1e-40), 4));
    const so = runEigh(K(), sub, 12);
    expect(so.status).toBe(0);
    expect(orthError(so.v, 12, 12)).toBeLessThan(ORTH_TOL);
    expect(descending(so.w)).toBe(true);
    // Non-symmetric input: the kernel diagonalizes (A + Aᵀ)/2.
    const ns = f32(gaussian(20, 20, 8));
    checkEigh(runEigh(K(), ns, 20), ns, 20, 'nonsymmetric');
  });

  it('eigh, SVD and QR of exactly low-rank matrices (all-ones, u·uᵀ): reductions that decay to ~1e-160', () => {
    // The tridiagonal of an all-ones matrix has off-diagonals falling by ~1e-15 per step: reflector
    // norms must not lose digits to subnormals, and the divide-and-conquer merges of such tiny blocks
    // must not overflow (both were bugs).
    for (const n of [33, 96, 110, 124]) {
      const ones = new Float64Array(n * n).fill(1);
      const o = runEigh(K(), ones, n);
      checkEigh(o, ones, n, `ones ${n}`, [n, ...new Array(n - 1).fill(0)]);
      const u = gaussian(n, 1, n);
      const r1 = f32(Array.from({ length: n * n }, (_, i) => u[Math.floor(i / n)] * u[i % n]));
      checkEigh(runEigh(K(), r1, n), r1, n, `u·uᵀ ${n}`);
      checkQr(runQr(K(), r1, n, n), r1, n, n, `QR u·uᵀ ${n}`);
    }
    const ones = new Float64Array(96 * 40).fill(1);
    checkSvd(runSvd(K(), ones, 96, 40, true), ones, 96, 40, 'SVD ones 96×40', [Math.sqrt(96 * 40), ...new Array(39).fill(0)]);
  });

  it('eigh of [[2, 1], [1, 2]] by hand', () => {
    const o = runEigh(K(), [2, 1, 1, 2], 2);
    expect([...o.w]).toEqual([3, 1]);
    const h = Math.fround(Math.SQRT1_2);
    // Columns (1, 1)/√2 and (1, −1)/√2 (largest-magnitude component positive, the first of equals).
    for (const [x, y] of [[o.v[0], h], [o.v[2], h], [o.v[1], h], [o.v[3], -h]]) expect(Math.abs(x - y)).toBeLessThanOrEqual(2 ** -24);
  });

  it('eigh values only (v = 0) gives the same eigenvalues', () => {
    const n = 33;
    const g = gaussian(n, n, 77);
    const a = f32(g.map((x, i) => x + g[(i % n) * n + Math.floor(i / n)]));
    const full = runEigh(K(), a, n);
    const reg = new Region();
    const pa = reg.f32(a), pw = reg.alloc(n);
    expect(K().eigh(0, 0, pw, pa, n, n, reg.scratch(eighScratchBytes(n)))).toBe(0);
    expect(reg.damaged()).toBeNull();
    // Values only run QL on the tridiagonal, the full solver divide and conquer: the same to an f32 ulp.
    expect(maxDiff(read(pw, n), full.w)).toBeLessThanOrEqual(2 ** -22 * maxAbs(full.w));
  });

  it('eigenvector and singular vector signs: largest-magnitude component positive (first of equals)', () => {
    const n = 45;
    const g = gaussian(n, n, 99);
    const a = f32(g.map((x, i) => x + g[(i % n) * n + Math.floor(i / n)]));
    const e = runEigh(K(), a, n);
    const wide = runSvd(K(), f32(gaussian(30, n, 98)), 30, n, false);
    const tall = runSvd(K(), f32(gaussian(n, 30, 97)), n, 30, false);
    const check = (x: Float64Array, rows: number, cols: number, stride: number, byRow: boolean, label: string) => {
      for (let j = 0; j < (byRow ? rows : cols); j++) {
        let big = 0, at = 0;
        for (let i = 0; i < (byRow ? cols : rows); i++) {
          const v = byRow ? x[j * stride + i] : x[i * stride + j];
          if (Math.abs(v) > big) {
            big = Math.abs(v);
            at = i;
          }
        }
        expect(byRow ? x[j * stride + at] : x[at * stride + j], `${label} ${j}`).toBeGreaterThan(0);
      }
    };
    check(e.v, n, n, n, false, 'eigenvector');
    // The eigh-normalized side: the rows of Vᵀ when m ≥ n (eigenvectors of AᵀA), U's columns when
    // m < n (eigenvectors of AAᵀ); the other side follows from A.
    check(tall.vt, 30, 30, 30, true, 'right singular vector');
    check(wide.u, 30, 30, 30, false, 'left singular vector');
  });

  it.each(conds)('SVD of U·diag·Vᵀ with condition number %d', (cond) => {
    for (const [m, n] of [[50, 50], [70, 30], [30, 70]]) {
      const k = Math.min(m, n);
      const sig = Array.from({ length: k }, (_, i) => 2 * cond ** (-i / (k - 1)));
      const a = f32(withSingularValues(m, n, sig, m * n + Math.round(Math.log10(cond))));
      for (const full of [false, true]) checkSvd(runSvd(K(), a, m, n, full), a, m, n, `${name} cond ${cond} ${m}×${n} full=${full}`, sig);
    }
  });

  it('SVD of rank-deficient, zero, 1×1, vector and scaled matrices', () => {
    const low = [4, 3, 3, 1];
    const a = f32(withSingularValues(40, 25, low, 6));
    for (const full of [false, true]) checkSvd(runSvd(K(), a, 40, 25, full), a, 40, 25, `rank 4 full=${full}`, [...low, ...new Array(21).fill(0)]);
    const at = f32(withSingularValues(25, 40, low, 7));
    checkSvd(runSvd(K(), at, 25, 40, true), at, 25, 40, 'rank 4 wide', [...low, ...new Array(21).fill(0)]);
    const zero = new Float64Array(30 * 20);
    for (const full of [false, true]) {
      const z = runSvd(K(), zero, 30, 20, full);
      checkSvd(z, zero, 30, 20, `zero full=${full}`);
      expect(maxAbs(z.s)).toBe(0);
    }
    const one = runSvd(K(), [-3], 1, 1, false);
    expect([...one.s]).toEqual([3]);
    expect(one.u[0] * one.vt[0]).toBe(-1);
    const row = f32([3, 4]);
    const r = runSvd(K(), row, 1, 2, true);
    checkSvd(r, row, 1, 2, 'row vector', [5]);
    expect(Math.abs(r.s[0] - 5)).toBeLessThan(1e-6);
    for (const s of [1e30, 1e-30, 1e-37]) {
      const b = f32(gaussian(15, 9, 12).map((x) => x * s));
      checkSvd(runSvd(K(), b, 15, 9, false), b, 15, 9, `scaled ${s}`);
    }
    const sub = f32(gaussian(15, 9, 12).map((x) => x * 1e-40));
    const so = runSvd(K(), sub, 15, 9, false);
    expect(so.status).toBe(0);
    expect(orthError(so.u, 15, 9)).toBeLessThan(ORTH_TOL);
    expect(so.s[0]).toBeGreaterThan(1e-40);
  });

  it('SVD of diag(3, −2) by hand', () => {
    const o = runSvd(K(), [3, 0, 0, -2], 2, 2, false);
    expect([...o.s]).toEqual([3, 2]);
    expect([...o.vt].map((x) => x + 0)).toEqual([1, 0, 0, 1]); // (+ 0: −0 and 0 are both fine)
    expect([...o.u].map((x) => x + 0)).toEqual([1, 0, 0, -1]);
  });

  it('SVD values only (u = vt = 0)', () => {
    const m = 30, n = 18;
    const sig = Array.from({ length: n }, (_, i) => 1 + i);
    const a = f32(withSingularValues(m, n, sig, 21));
    const reg = new Region();
    const pa = reg.f32(a), ps = reg.alloc(n);
    expect(K().svd(0, 0, ps, 0, 0, pa, n, m, n, 0, reg.scratch(svdScratchBytes(m, n, false)))).toBe(0);
    expect(reg.damaged()).toBeNull();
    const s = read(ps, n), e = [...sig].sort((x, y) => y - x);
    for (let i = 0; i < n; i++) expect(Math.abs(s[i] - e[i])).toBeLessThan(4 * EPS32 * fro(a));
  });

  it('outputs may alias the input', () => {
    const m = 20, n = 12;
    const a = f32(gaussian(m, n, 40));
    const s = f32(symmetricWith(Array.from({ length: 10 }, (_, i) => i - 4.5), 41));
    const expected = runQr(K(), a, m, n), e = runEigh(K(), s, 10), sv = runSvd(K(), a, m, n, false);
    // qrFormQ with q = a (reduced Q has the shape of A).
    const reg = new Region();
    const pa = reg.f32(a), ptau = reg.alloc(n);
    expect(K().qrFactor(pa, n, m, n, ptau, reg.scratch(qrScratchBytes(m, n)))).toBe(0);
    expect(K().qrFormQ(pa, n, pa, n, m, n, n, ptau, reg.scratch(qrFormQScratchBytes(m, n, n)))).toBe(0);
    expect(maxDiff(read(pa, m * n), expected.q)).toBe(0);
    // eigh with v = a.
    const ps = reg.f32(s), pw = reg.alloc(10);
    expect(K().eigh(ps, 10, pw, ps, 10, 10, reg.scratch(eighScratchBytes(10)))).toBe(0);
    expect(maxDiff(read(ps, 100), e.v)).toBe(0);
    // svd with u = a (thin, tall).
    const pa2 = reg.f32(a), pss = reg.alloc(n), pvt = reg.alloc(n * n);
    expect(K().svd(pa2, n, pss, pvt, n, pa2, n, m, n, 0, reg.scratch(svdScratchBytes(m, n, false)))).toBe(0);
    expect(maxDiff(read(pa2, m * n), sv.u)).toBe(0);
    expect(reg.damaged()).toBeNull();
  });

  it('NaN or ±Infinity anywhere: status 1 at once, nothing written', () => {
    const n = 24;
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, n * n - 1, 7 * n + 3]) {
        const a = f32(gaussian(n, n, 50));
        a[at] = bad;
        const reg = new Region();
        const pa = reg.f32(a), ptau = reg.alloc(n), pv = reg.alloc(n * n), pw = reg.alloc(n), pvt = reg.alloc(n * n);
        const before = readBits(pa, n * n), outs = [readBits(pv, n * n), readBits(pw, n), readBits(pvt, n * n)];
        const t0 = performance.now();
        expect(K().qrFactor(pa, n, n, n, ptau, reg.scratch(qrScratchBytes(n, n)))).toBe(LinalgStatus.NON_FINITE);
        expect(K().eigh(pv, n, pw, pa, n, n, reg.scratch(eighScratchBytes(n)))).toBe(LinalgStatus.NON_FINITE);
        expect(K().svd(pv, n, pw, pvt, n, pa, n, n, n, 0, reg.scratch(svdScratchBytes(n, n, false)))).toBe(LinalgStatus.NON_FINITE);
        expect(K().svd(0, 0, pw, 0, 0, pa, n, n, n, 0, reg.scratch(svdScratchBytes(n, n, false)))).toBe(LinalgStatus.NON_FINITE);
        expect(performance.now() - t0).toBeLessThan(500);
        expect(readBits(pa, n * n)).toEqual(before);
        expect([readBits(pv, n * n), readBits(pw, n), readBits(pvt, n * n)]).toEqual(outs);
        expect(reg.damaged()).toBeNull();
      }
    }
    // Reflectors, τ and C of qrFormQ / qrApply.
    const m = 9, k = 5;
    const fac = runQr(ref, f32(gaussian(m, k, 51)), m, k);
    for (const where of ['reflector', 'tau', 'c'] as const) {
      const reg = new Region();
      const fact = Float64Array.from(fac.fact), tau = Float64Array.from(fac.tau), c = f32(gaussian(m, 3, 52));
      if (where === 'reflector') fact[6 * k + 2] = NaN;
      else if (where === 'tau') tau[3] = Infinity;
      else c[4] = -Infinity;
      const pa = reg.f32(fact), ptau = reg.f32(tau), pc = reg.f32(c), pq = reg.alloc(m * k);
      const cBits = readBits(pc, m * 3), qBits = readBits(pq, m * k);
      if (where !== 'c') expect(K().qrFormQ(pq, k, pa, k, m, k, k, ptau, reg.scratch(qrFormQScratchBytes(m, k, k)))).toBe(1);
      expect(K().qrApply(pc, 3, pa, k, m, k, ptau, 3, 0, reg.scratch(qrApplyScratchBytes(m, 3)))).toBe(1);
      expect(readBits(pc, m * 3)).toEqual(cBits);
      expect(readBits(pq, m * k)).toEqual(qBits);
    }
    // The NaN sits above the diagonal of a factored A: R is not read by qrFormQ, so this is fine.
    const reg = new Region();
    const fact = Float64Array.from(fac.fact);
    fact[1] = NaN;
    const pa = reg.f32(fact), ptau = reg.f32(fac.tau), pq = reg.alloc(m * k);
    expect(K().qrFormQ(pq, k, pa, k, m, k, k, ptau, reg.scratch(qrFormQScratchBytes(m, k, k)))).toBe(0);
  });

  it('bad arguments: status 3, nothing written', () => {
    const reg = new Region();
    const a = reg.f32(f32(gaussian(6, 6, 60))), t = reg.alloc(6), o = reg.alloc(36), w = reg.alloc(6), sc = reg.scratch(svdScratchBytes(6, 6, true));
    const bits = readBits(a, 36);
    const B = LinalgStatus.BAD_ARGUMENT;
    expect(K().qrFactor(a, 5, 6, 6, t, sc)).toBe(B); // lda < n
    expect(K().qrFactor(a, 6, -1, 6, t, sc)).toBe(B);
    expect(K().qrFactor(a, 6, 6, 6, t, sc + 4)).toBe(B); // scratch not 8-aligned
    expect(K().qrFactor(a + 2, 6, 6, 6, t, sc)).toBe(B); // misaligned f32
    expect(K().qrFormQ(o, 6, a, 6, 6, 6, 7, t, sc)).toBe(B); // cols > m
    expect(K().qrFormQ(o, 2, a, 6, 6, 6, 3, t, sc)).toBe(B); // ldq < cols
    expect(K().qrApply(o, 6, a, 6, 6, 7, t, 6, 0, sc)).toBe(B); // kRefl > m
    expect(K().qrApply(o, 6, a, 6, 6, 6, t, 6, 4, sc)).toBe(B); // mode
    expect(K().qrApply(o, 5, a, 6, 6, 6, t, 6, 2, sc)).toBe(B); // ldc < m for right modes
    expect(K().eigh(o, 5, w, a, 6, 6, sc)).toBe(B);
    expect(K().eigh(o, 6, w, a, 5, 6, sc)).toBe(B);
    expect(K().svd(o, 6, w, 0, 6, a, 6, 6, 6, 0, sc)).toBe(B); // only one of u / vt
    expect(K().svd(o, 6, w, o, 6, a, 6, 6, 6, 2, sc)).toBe(B); // full ∉ {0, 1}
    expect(K().svd(o, 5, w, o, 6, a, 6, 6, 6, 1, sc)).toBe(B); // ldu < m
    expect(readBits(a, 36)).toEqual(bits);
    expect(reg.damaged()).toBeNull();
  });

  it('empty matrices are fine', () => {
    const reg = new Region();
    const a = reg.alloc(4), t = reg.alloc(4), o = reg.alloc(16), w = reg.alloc(4), sc = reg.scratch(svdScratchBytes(4, 4, true));
    expect(K().qrFactor(a, 0, 3, 0, t, sc)).toBe(0);
    expect(K().qrFormQ(o, 3, a, 0, 3, 0, 3, t, sc)).toBe(0);
    expect(read(o, 9)).toEqual(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]));
    expect(K().eigh(o, 0, w, a, 0, 0, sc)).toBe(0);
    expect(K().svd(o, 0, w, o, 0, a, 0, 0, 0, 0, sc)).toBe(0);
    expect(K().svd(o, 2, w, t, 0, a, 0, 2, 0, 1, sc)).toBe(0); // 2×0, full: U = I₂
    expect(read(o, 4)).toEqual(Float64Array.from([1, 0, 0, 1]));
    expect(reg.damaged()).toBeNull();
  });
});

describe('linalg: larger shapes', () => {
  it('QR of 768×3072 on wasm (invariants; ref is too slow here)', () => {
    const m = 768, n = 3072;
    const a = f32(gaussian(m, n, 768));
    const reg = new Region();
    const pa = reg.f32(a), ptau = reg.alloc(m), pq = reg.alloc(m * m);
    const t0 = performance.now();
    expect(wasm.qrFactor(pa, n, m, n, ptau, reg.scratch(qrScratchBytes(m, n)))).toBe(0);
    expect(wasm.qrFormQ(pq, m, pa, n, m, n, m, ptau, reg.scratch(qrFormQScratchBytes(m, n, m)))).toBe(0);
    const elapsed = performance.now() - t0;
    const fact = read(pa, m * n);
    // QᵀQ through qrApply (Qᵀ·C with C = the f32 Q): the identity up to Q's f32 rounding.
    const pqq = reg.f32(read(pq, m * m));
    expect(wasm.qrApply(pqq, m, pa, n, m, m, ptau, m, QrApplyMode.QT_C, reg.scratch(qrApplyScratchBytes(m, m)))).toBe(0);
    const g = read(pqq, m * m);
    let oe = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) oe = Math.max(oe, Math.abs(g[i * m + j] - (i === j ? 1 : 0)));
    expect(oe).toBeLessThan(ORTH_TOL);
    // A = Q·R through qrApply (mode Q·C on R), in f64 wasm arithmetic.
    const r = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = i; j < n; j++) r[i * n + j] = fact[i * n + j];
    const pr = reg.f32(r);
    expect(wasm.qrApply(pr, n, pa, n, m, m, ptau, n, QrApplyMode.Q_C, reg.scratch(qrApplyScratchBytes(m, n)))).toBe(0);
    expect(relDiff(read(pr, m * n), a)).toBeLessThan(RECON_TOL);
    expect(reg.damaged()).toBeNull();
    expect(elapsed).toBeLessThan(10_000);
  });
});

describe('checkLinalgStatus', () => {
  it('turns statuses into FisheroptErrors with codes and clear messages', () => {
    expect(() => checkLinalgStatus(0, 'eigh', [4, 4])).not.toThrow();
    const cases: [number, string, RegExp][] = [
      [1, 'BAD_VALUE', /eigh on a 4×4 matrix failed: the input contains NaN or ±Infinity/],
      [2, 'NO_CONVERGENCE', /did not converge/],
      [3, 'BAD_SHAPE', /size, stride, mode or pointer alignment/],
      [9, 'BAD_STATE', /unknown status 9/],
    ];
    for (const [code, errCode, msg] of cases) {
      let err: unknown;
      try {
        checkLinalgStatus(code, 'eigh', [4, 4]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FisheroptError);
      expect((err as FisheroptError).code).toBe(errCode);
      expect((err as Error).message).toMatch(msg);
    }
  });
});
