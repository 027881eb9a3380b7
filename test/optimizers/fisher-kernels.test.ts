/**
 * Conformance of the fisher kernels (src/kernels/fisher.ts): wasm against the ref oracle, bit for bit
 * (every kernel here is specified bit-exactly: every operation rounded as written, sums in a fixed
 * order), on odd sizes, plus hand-computed values pinning down the ref.
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
    expect([...FISHER_KERNELS].sort()).toEqual([
      'racsColSq', 'racsFinalPass', 'racsFixedPass', 'racsNormSq', 'racsRsqrt', 'racsScaledApply', 'racsScaledSumsq',
    ]);
  });

  // widths around the 8-lane row dot: tails of 1..7 with and without the 4-wide block
  const PASS_SHAPES: [number, number][] = [...MATRICES, [3, 8], [2, 9], [2, 12], [2, 13], [2, 15], [2, 16], [6, 23]];
  it.each(PASS_SHAPES)('racsColSq / racsFixedPass / racsFinalPass / racsNormSq %i×%i', (m, n) => {
    const g = inputs(m * n, m * 31 + n);
    for (let k = 3; k < m * n; k += 7) g[k] = [1e-30, 3e18][k % 2]; // squares that flush to 0 and overflow to ∞
    const w = inputs(n, 9 + n, true), c = inputs(n, 5 + n, true);
    const gp = put(g), wp = put(w), cp = put(c);
    const run = (k: Kernels) => {
      const [acc, acc2, q, q2, t] = [put(n), put(n), put(m), put(m), put(m)];
      k.racsColSq(acc, gp, m, n);
      k.racsFixedPass(q, acc2, gp, wp, m, n, 0.37);
      k.racsFinalPass(q2, t, gp, wp, cp, m, n, 1.7);
      return { acc: view(acc, n), acc2: view(acc2, n), q: view(q, m), q2: view(q2, m), t: view(t, m), norm: k.racsNormSq(q, t, m) };
    };
    const a = run(ref), b = run(wasm);
    for (const key of ['acc', 'acc2', 'q', 'q2', 't'] as const) expect(firstBitDiff(a[key], b[key]), key).toBe(-1);
    expect(Object.is(a.norm, b.norm)).toBe(true);
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
  it('fixed-point passes, rsqrt, scaled sumsq and apply on G = [[1, −2, 3], [4, 0, −1]]', () => {
    const gp = put(new Float32Array([1, -2, 3, 4, 0, -1]));
    const q = put(new Float32Array([2, 0.5]));
    const s = put(new Float32Array([1, 3, 0.25]));
    for (const k of [ref, wasm]) {
      // Pᵀ·1: [1 + 16, 4 + 0, 9 + 1] = [17, 4, 10]
      const acc = put(3);
      k.racsColSq(acc, gp, 2, 3);
      expect([...view(acc, 3)]).toEqual([17, 4, 10]);
      // q_i = b·(P·s)_i with b = 2: row 0: 1 + 4·3 + 9·0.25 = 15.25 → 30.5; row 1: 16 + 0 + 0.25 = 16.25 → 32.5;
      // then Pᵀq: col 0: 1·30.5 + 16·32.5 = 550.5; col 1: 4·30.5 = 122; col 2: 9·30.5 + 1·32.5 = 307
      const qo = put(2), acc2 = put(3);
      k.racsFixedPass(qo, acc2, gp, s, 2, 3, 2);
      expect([...view(qo, 2)]).toEqual([30.5, 32.5]);
      expect([...view(acc2, 3)]).toEqual([550.5, 122, 307]);
      // final pass with weights c = [1, 0.5, 2] (squares 1, 0.25, 4): t = [1 + 1 + 36, 16 + 0 + 4] = [38, 20];
      // q as above with b = 1; Σ r_i²·t_i with r = [1, 2]: 38 + 4·20 = 118 (= Σu² of the scaled matrix below)
      const q2 = put(2), t = put(2), cc = put(new Float32Array([1, 0.5, 2]));
      k.racsFinalPass(q2, t, gp, s, cc, 2, 3, 1);
      expect([...view(q2, 2)]).toEqual([15.25, 16.25]);
      expect([...view(t, 2)]).toEqual([38, 20]);
      expect(k.racsNormSq(put(new Float32Array([1, 2])), t, 2)).toBe(118);
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
