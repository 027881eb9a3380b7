/**
 * The normalization and whitening operators on their own (src/optimizers/normalized/operators.ts, exported
 * from the package), on ref and wasm: row and column norms, standardization, whitening, SR-Sinkhorn.
 */
import { describe, expect, it } from 'vitest';
import {
  colNormalize, colNormalizeScratchBytes, rowNormalize, rowNormalizeScratchBytes, rowStandardize,
  rowStandardizeScratchBytes, sinkhorn, sinkhornNormalize, sinkhornNormalizeScratchBytes, sinkhornScratchBytes, whiten,
  whitenScratchBytes,
} from '../../dist/index.js';
import { sinkhornScale } from '../../dist/optimizers/normalized/operators.js';
import { matmul, transpose } from '../helpers/dense.js';
import { kernelBench } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/rng.js';
import { colNorms, gradientLike, rowNorms, updateOf } from './normalized-common.js';

const { arena, backends, put, read } = kernelBench(16 << 20);
const m = 12, n = 30;

describe('sinkhornScale', () => {
  it('1 for max|g| in [2^-24, 2^24), 0 and non-finite; else the power of two bringing it into [1, 2), kept in f32', () => {
    for (const x of [2 ** -24, 1e-3, 1, 2 ** 24 - 1, 0, Number.NaN, Infinity]) expect(sinkhornScale(x)).toBe(1);
    expect(sinkhornScale(0.99 * 2 ** -24)).toBe(2 ** 25);
    expect(sinkhornScale(2 ** 24)).toBe(2 ** -24);
    expect(sinkhornScale(3 * 2 ** 40)).toBe(2 ** -41);
    expect(sinkhornScale(3e38)).toBe(2 ** -126);
    expect(sinkhornScale(1e-45)).toBe(2 ** 127);
  });
});

describe.each(['ref', 'wasm'] as const)('operators on %s', (name) => {
  it('rowNormalize: rows to √n, a zero row stays zero; colNormalize: columns to √m, in place', () => {
    const k = backends[name];
    const g = randomF32(m * n, 1);
    g.fill(0, 3 * n, 4 * n);
    const out = arena.alloc(4 * m * n);
    rowNormalize(k, out, put(g), m, n, arena.alloc(rowNormalizeScratchBytes(m)));
    rowNorms(read(out, m * n), m, n).forEach((r, i) => expect(r).toBeCloseTo(i === 3 ? 0 : Math.sqrt(n), 5));
    const p = put(g);
    colNormalize(k, p, p, m, n, arena.alloc(colNormalizeScratchBytes(n)));
    for (const c of colNorms(read(p, m * n), m, n)) expect(c).toBeCloseTo(Math.sqrt(m), 5);
  });

  it('rowStandardize: rows of mean 0 and norm √n; a constant row becomes zero', () => {
    const g = randomF32(m * n, 2).map((x, idx) => x * 3 + Math.floor(idx / n));
    g.fill(7, 0, n);
    const out = arena.alloc(4 * m * n);
    rowStandardize(backends[name], out, put(g), m, n, arena.alloc(rowStandardizeScratchBytes(m)));
    const x = read(out, m * n);
    rowNorms(x, m, n).forEach((r, i) => expect(r).toBeCloseTo(i === 0 ? 0 : Math.sqrt(n), 4));
    for (let i = 0; i < m; i++) expect(Math.abs(x.slice(i * n, (i + 1) * n).reduce((a, b) => a + b, 0))).toBeLessThan(1e-4);
  });

  it.each([[m, n], [n, m]])('whiten %i×%i: √max(m, n)·polar(G), the short side orthogonal', (r, c) => {
    const out = arena.alloc(4 * r * c);
    whiten(backends[name], out, put(randomF32(r * c, 3)), r, c, arena.alloc(whitenScratchBytes(r, c)));
    const x = read(out, r * c);
    const s = Math.min(r, c), big = Math.max(r, c);
    const gram = r <= c ? matmul(x, transpose(x, r, c), r, c, r) : matmul(transpose(x, r, c), x, c, r, c);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) expect(Math.abs(gram[i * s + j] - (i === j ? big : 0)) / big).toBeLessThan(1e-3);
    // zero in, zero out
    const z = arena.alloc(4 * r * c);
    expect(whiten(backends[name], z, put(new Float32Array(r * c)), r, c, arena.alloc(whitenScratchBytes(r, c)))).toBe(0);
    expect(read(z, r * c).every((v) => v === 0)).toBe(true);
  });

  it('sinkhornNormalize equals the SinkGD update bit for bit', async () => {
    const g = gradientLike(m, n, 4);
    const p = put(g);
    sinkhornNormalize(backends[name], p, p, m, n, 5, arena.alloc(sinkhornNormalizeScratchBytes(m, n)));
    const d = await updateOf('sinkgd', g, m, n, {}, name);
    expect(Array.from(read(p, m * n))).toEqual(Array.from(d));
  });

  it('sinkhorn on 2^k·G: the rounds run on G itself for max|g| in [2^-24, 2^24), else on G scaled by a power of two; a and b scale by 2^-k and 1', () => {
    const g = gradientLike(m, n, 6);
    const run = (factor: number) => {
      const a = arena.alloc(4 * m), b = arena.alloc(4 * n);
      sinkhorn(backends[name], a, b, put(g.map((x) => x * factor)), m, n, 5, arena.alloc(sinkhornScratchBytes(n)));
      return [read(a, m), read(b, n)];
    };
    const [a0, b0] = run(1);
    for (const k of [-60, -30, -10, 10, 40]) {
      const [a, b] = run(2 ** k);
      expect(Array.from(a)).toEqual(Array.from(a0, (x) => x * 2 ** -k));
      expect(Array.from(b)).toEqual(Array.from(b0));
    }
  });

  it('bad shapes and round counts are clear errors', () => {
    const k = backends[name];
    expect(() => rowNormalize(k, 0, 0, 0, 3, 0)).toThrow(/rowNormalize: m and n must be integers >= 1, got 0×3/);
    expect(() => sinkhornNormalize(k, 0, 0, 2, 2, 0, arena.alloc(64))).toThrow(/rounds must be an integer >= 1, got 0/);
  });
});
