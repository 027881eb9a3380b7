/**
 * Newton–Schulz compositions on every backend: the quintic polar iteration lands singular values in
 * Muon's band and keeps the singular vectors; the coupled inverse square root whitens.
 */
import { describe, expect, it } from 'vitest';
import type { Kernels } from '../dist/kernels.js';
import {
  invSqrtScratchBytes, newtonSchulzInvSqrt, newtonSchulzPolar, polarScratchBytes,
} from '../dist/linalg/newton-schulz.js';
import { kernelBench } from './helpers/kernels.js';
import { matmul, randomOrthogonal, singularValues, symmetricWithEigenvalues, transpose } from './helpers/dense.js';
import { randomF32 } from './helpers/rng.js';

const { arena, backends, put, read } = kernelBench(32 << 20);

function polar(k: Kernels, g: ArrayLike<number>, m: number, n: number, steps = 5): Float64Array {
  const pg = put(g);
  const out = arena.alloc(4 * m * n);
  newtonSchulzPolar(k, out, pg, m, n, arena.alloc(polarScratchBytes(m, n)), steps);
  return read(out, m * n);
}

function invSqrt(k: Kernels, a: ArrayLike<number>, n: number, steps: number): Float64Array {
  const pa = put(a);
  const z = arena.alloc(4 * n * n);
  newtonSchulzInvSqrt(k, z, pa, n, arena.alloc(invSqrtScratchBytes(n)), steps);
  return read(z, n * n);
}

describe.each(['ref', 'wasm'])('Newton–Schulz on %s', (name) => {
  it.each([[24, 40], [40, 24], [33, 33], [1, 7], [7, 1]])('polar of a random %i×%i: singular values in Muon’s band', (m, n) => {
    const out = polar(backends[name], randomF32(m * n, m * 100 + n), m, n);
    const s = singularValues(out, m, n);
    // Random Gaussian matrices have σ_min/σ_max well above 1e-2 at these sizes except the square one,
    // whose smallest singular value can be tiny; check the band on all but the smallest there.
    const checked = m === n ? s.slice(0, -2) : s;
    for (const x of checked) {
      expect(x).toBeGreaterThan(0.55);
      expect(x).toBeLessThan(1.25);
    }
  });

  it('polar keeps the singular vectors: Uᵀ·O·V is diagonal', () => {
    const m = 16, n = 24;
    const u = randomOrthogonal(m, 1), v = randomOrthogonal(n, 2);
    const sigma = Array.from({ length: m }, (_, i) => 10 ** (-1 + (2 * i) / (m - 1))); // 0.1 … 10
    const us = Float64Array.from(u, (x, idx) => x * sigma[idx % m]);
    const vt = transpose(v, n, n);
    const g = matmul(us, vt.subarray(0, m * n), m, m, n); // U·Σ·(first m rows of Vᵀ)
    const o = polar(backends[name], g, m, n);
    const d = matmul(matmul(transpose(u, m, m), o, m, m, n), v, m, n, n); // ≈ [f(Σ) | 0]
    let off = 0, diagMin = Infinity;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      if (i === j) diagMin = Math.min(diagMin, d[i * n + j]);
      else off = Math.max(off, Math.abs(d[i * n + j]));
    }
    expect(off).toBeLessThan(2e-3);
    expect(diagMin).toBeGreaterThan(0.55);
  });

  it('inverse square root: Z·A·Z ≈ I at condition number 10, and a null direction stays null', () => {
    const n = 20;
    const lambda = Array.from({ length: n }, (_, i) => 0.1 + (0.9 * i) / (n - 1));
    const a = symmetricWithEigenvalues(lambda.map((x) => x * 7), 3);
    const z = invSqrt(backends[name], a, n, 14);
    const zaz = matmul(matmul(z, a, n, n, n), z, n, n, n);
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(zaz[i * n + j] - (i === j ? 1 : 0)));
    expect(err).toBeLessThan(2e-3);

    const singular = symmetricWithEigenvalues([0, ...lambda.slice(1)], 4);
    const zs = invSqrt(backends[name], singular, n, 14);
    const p = matmul(matmul(zs, singular, n, n, n), zs, n, n, n); // ≈ the projector onto the range
    const ev = singularValues(p, n, n);
    expect(ev[n - 1]).toBeLessThan(1e-3);
    expect(ev[n - 2]).toBeGreaterThan(0.99);
  });

  it('zero input gives zero output; NaN propagates; bad step counts are rejected', () => {
    expect(Array.from(polar(backends[name], new Float32Array(12), 3, 4)).every((x) => x === 0)).toBe(true);
    expect(Array.from(invSqrt(backends[name], new Float32Array(9), 3, 5)).every((x) => x === 0)).toBe(true);
    const g = randomF32(12, 5);
    g[4] = Number.NaN;
    expect(polar(backends[name], g, 3, 4).some(Number.isNaN)).toBe(true);
    expect(() => polar(backends[name], g, 3, 4, -1)).toThrow(/steps must be an integer in \[0, 100\], got -1/);
  });
});

it('ref and wasm agree (to f32 rounding amplified by 5 steps)', () => {
  const m = 30, n = 50;
  const g = randomF32(m * n, 9);
  const a = polar(backends.ref, g, m, n), b = polar(backends.wasm, g, m, n);
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  expect(err).toBeLessThan(1e-4);
});
