/**
 * Conformance of the fisher kernels (src/kernels/fisher.ts): wasm against the ref oracle, bit for bit
 * (every kernel here is specified bit-exactly: f64 sums of exactly-formed terms in a fixed order, f32
 * products in the written order), on odd sizes, plus hand-computed values pinning down the ref.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../../dist/arena.js';
import { RefKernels } from '../../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../../dist/backends/wasm.js';
import type { Kernels } from '../../dist/kernels.js';
import { FISHER_KERNELS } from '../../dist/kernels/fisher.js';
import { firstBitDiff, randomF32 } from '../helpers/rng.js';

const MATRICES: [number, number][] = [[1, 1], [1, 7], [7, 1], [3, 5], [5, 3], [4, 8], [37, 101], [129, 3], [0, 5], [5, 0]];

let arena: Arena;
let ref: Kernels;
let wasm: Kernels;
let mem: () => ArrayBuffer;

beforeAll(async () => {
  arena = new Arena({ initialBytes: 1 << 20 });
  ref = new RefKernels(arena.memory);
  wasm = instantiateWasm(await loadWasmModule(), arena.memory);
  mem = () => arena.memory.buffer as ArrayBuffer;
});

/** Allocate a 16-aligned buffer holding `data`. */
function put(data: Float32Array | number): number {
  const len = typeof data === 'number' ? data : data.length;
  const ptr = arena.alloc(Math.max(16, 4 * len + 16));
  if (typeof data !== 'number') new Float32Array(mem(), ptr, len).set(data);
  return ptr;
}
const view = (ptr: number, n: number) => new Float32Array(mem(), ptr, n).slice();

/** Inputs with a few special values sprinkled in (zeros, tiny and huge magnitudes). */
function inputs(n: number, seed: number, positive = false): Float32Array {
  const x = randomF32(n, seed);
  for (let i = 0; i < n; i += 7) x[i] = [0, 1e-30, -3e18, 1e-20, 2.5][(i / 7) % 5];
  if (positive) for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]);
  return x;
}

describe('fisher kernels: wasm = ref bit for bit', () => {
  it('lists every kernel', () => {
    expect([...FISHER_KERNELS].sort()).toEqual(['racsColWeight', 'racsRowWeight', 'racsRsqrt', 'racsScaledApply', 'racsScaledSumsq']);
  });

  it.each(MATRICES)('racsColWeight / racsRowWeight %i×%i', (m, n) => {
    const g = inputs(m * n, m * 31 + n);
    const wq = inputs(m, 7 + m, true), ws = inputs(n, 9 + n, true);
    const gp = put(g), qp = put(wq), sp = put(ws);
    const [o1, o2, r1, r2] = [put(n), put(n), put(m), put(m)];
    const acc = arena.alloc(8 * n + 16);
    ref.racsColWeight(o1, acc, gp, qp, m, n);
    wasm.racsColWeight(o2, acc, gp, qp, m, n);
    expect(firstBitDiff(view(o1, n), view(o2, n))).toBe(-1);
    ref.racsRowWeight(r1, gp, sp, m, n);
    wasm.racsRowWeight(r2, gp, sp, m, n);
    expect(firstBitDiff(view(r1, m), view(r2, m))).toBe(-1);
  });

  it.each([0, 1, 3, 4, 5, 9, 33])('racsRsqrt n=%i', (n) => {
    const x = inputs(n, 100 + n);
    if (n > 2) x[2] = -4;
    const xp = put(x), a = put(n), b = put(n);
    ref.racsRsqrt(a, xp, n, 1e-12);
    wasm.racsRsqrt(b, xp, n, 1e-12);
    expect(firstBitDiff(view(a, n), view(b, n))).toBe(-1);
  });

  it.each(MATRICES)('racsScaledSumsq / racsScaledApply %i×%i', (m, n) => {
    const gp = put(inputs(m * n, 5 * m + n));
    const rp = put(randomF32(m, 11 + m)), cp = put(randomF32(n, 13 + n));
    expect(Object.is(wasm.racsScaledSumsq(gp, rp, cp, m, n), ref.racsScaledSumsq(gp, rp, cp, m, n))).toBe(true);
    const p0 = randomF32(m * n, 17);
    const pa = put(p0), pb = put(p0);
    ref.racsScaledApply(pa, gp, rp, cp, m, n, -0.37);
    wasm.racsScaledApply(pb, gp, rp, cp, m, n, -0.37);
    expect(firstBitDiff(view(pa, m * n), view(pb, m * n))).toBe(-1);
  });
});

describe('fisher kernels: hand-computed values (ref and wasm)', () => {
  it('weighted sums, rsqrt, scaled sumsq and apply on G = [[1, −2, 3], [4, 0, −1]]', () => {
    const gp = put(new Float32Array([1, -2, 3, 4, 0, -1]));
    const q = put(new Float32Array([2, 0.5]));
    const s = put(new Float32Array([1, 3, 0.25]));
    for (const k of [ref, wasm]) {
      const cw = put(3), rw = put(2), acc = arena.alloc(32);
      // (G⊙G)ᵀ·q: col 0: 1·2 + 16·0.5 = 10; col 1: 4·2 + 0 = 8; col 2: 9·2 + 1·0.5 = 18.5
      k.racsColWeight(cw, acc, gp, q, 2, 3);
      expect([...view(cw, 3)]).toEqual([10, 8, 18.5]);
      // (G⊙G)·s: row 0: 1 + 4·3 + 9·0.25 = 15.25; row 1: 16 + 0 + 0.25 = 16.25
      k.racsRowWeight(rw, gp, s, 2, 3);
      expect([...view(rw, 2)]).toEqual([15.25, 16.25]);
      // 1/√max(x, 0.01): 4 → 0.5, 0.0001 → 1/√0.01 = 10, 0.25 → 2
      const x = put(new Float32Array([4, 1e-4, 0.25])), o = put(3);
      k.racsRsqrt(o, x, 3, 0.01);
      expect([...view(o, 3)]).toEqual([0.5, Math.fround(1 / Math.fround(Math.sqrt(Math.fround(0.01)))), 2]);
      // u = r_i·g_ij·c_j with r = [1, 2], c = [1, 0.5, 2]: [[1, −1, 6], [8, 0, −4]]; Σu² = 1 + 1 + 36 + 64 + 16 = 118
      const r = put(new Float32Array([1, 2])), c = put(new Float32Array([1, 0.5, 2]));
      expect(k.racsScaledSumsq(gp, r, c, 2, 3)).toBe(118);
      const p = put(new Float32Array([0, 0, 0, 1, 1, 1]));
      k.racsScaledApply(p, gp, r, c, 2, 3, -0.5);
      expect([...view(p, 6)]).toEqual([-0.5, 0.5, -3, -3, 1, 3]);
    }
  });
});
