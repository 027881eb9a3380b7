/**
 * Top-r singular subspace by the randomized range finder: on every backend, the columns are orthonormal
 * and span the exact top-r left singular subspace (checked against a planted spectrum and against the
 * full `svd` kernel); exact when the sketch covers the whole matrix.
 */
import { describe, expect, it } from 'vitest';
import type { Kernels } from '../dist/kernels.js';
import { svdScratchBytes } from '../dist/kernels/linalg.js';
import { topRLeftSingular, topRScratchBytes, type TopROptions } from '../dist/linalg/top-r.js';
import { kernelBench } from './helpers/kernels.js';
import { matmul, randomOrthogonal, singularValues, transpose } from './helpers/dense.js';

const { arena, backends, put, read } = kernelBench(64 << 20);

/** G = U·diag(σ)·Vᵀ with planted singular values; returns G and the true U (m×m). */
function planted(m: number, n: number, sigma: (i: number) => number, seed: number) {
  const u = randomOrthogonal(m, seed), v = randomOrthogonal(n, seed + 1);
  const k = Math.min(m, n);
  const us = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) us[i * k + j] = u[i * m + j] * sigma(j);
  const g = matmul(us, transpose(v, n, n).subarray(0, k * n), m, k, n);
  return { g, u };
}

function run(k: Kernels, g: ArrayLike<number>, m: number, n: number, r: number, opts?: TopROptions) {
  const pu = arena.alloc(4 * m * r), ps = arena.alloc(4 * r);
  topRLeftSingular(k, pu, ps, put(g), m, n, r, arena.alloc(topRScratchBytes(m, n, r, opts)), opts);
  return { u: Float64Array.from(new Float32Array(arena.buffer, pu, m * r)), s: Array.from(new Float32Array(arena.buffer, ps, r)) };
}

describe.each(['ref', 'wasm'])('top-r left singular vectors on %s', (name) => {
  it.each([[60, 40, 6], [40, 60, 6], [96, 128, 16], [33, 7, 3]])('%i×%i, r = %i: orthonormal and spanning the planted top-r subspace', (m, n, r) => {
    const { g, u: utrue } = planted(m, n, (i) => 0.8 ** i, m + n);
    const { u, s } = run(backends[name], g, m, n, r);
    const utu = matmul(transpose(u, m, r), u, r, m, r);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) expect(Math.abs(utu[i * r + j] - (i === j ? 1 : 0))).toBeLessThan(1e-5);
    // Cosines of the principal angles between span(U) and the true top-r subspace: all ≈ 1.
    const ut = new Float64Array(m * r);
    for (let i = 0; i < m; i++) for (let j = 0; j < r; j++) ut[i * r + j] = utrue[i * m + j];
    const cos = singularValues(matmul(transpose(ut, m, r), u, r, m, r), r, r);
    expect(Math.min(...cos)).toBeGreaterThan(1 - 1e-3);
    s.forEach((x, i) => expect(Math.abs(x - 0.8 ** i)).toBeLessThan(1e-4));
  });

  it('with the sketch covering the matrix, equals the full svd kernel up to column signs', () => {
    const m = 12, n = 9, r = 4;
    const { g } = planted(m, n, (i) => 3 - 0.3 * i, 5);
    const { u } = run(backends[name], g, m, n, r, { oversample: 20 });
    const k = backends[name];
    const pu = arena.alloc(4 * m * n), ps = arena.alloc(4 * n), pvt = arena.alloc(4 * n * n);
    expect(k.svd(pu, n, ps, pvt, n, put(g), n, m, n, 0, arena.alloc(svdScratchBytes(m, n, 0)))).toBe(0);
    const full = new Float32Array(arena.buffer, pu, m * n);
    for (let j = 0; j < r; j++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += u[i * r + j] * full[i * n + j];
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-5);
    }
  });

  it('rejects a bad rank and non-finite input with clear errors', () => {
    const g = new Float64Array(20).fill(1);
    expect(() => run(backends[name], g, 4, 5, 5)).toThrow(/rank must be an integer in \[1, 4\] for a 4×5 matrix, got 5/);
    g[3] = Number.NaN;
    expect(() => run(backends[name], g, 4, 5, 2)).toThrow(/NaN or ±Infinity/);
  });
});
