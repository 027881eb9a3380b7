/** Scalar oracle of the reductions and scalings (see `../../kernels/reduce.ts`). */
import type { Ptr } from '../../kernels.js';
import type { ReduceKernels } from '../../kernels/reduce.js';
import { f, normScaleOf, type Heap } from './heap.js';

/** Four f64 partial sums by position mod 4, combined as (s0 + s1) + (s2 + s3). */
function laneSum(n: number, term: (j: number) => number): number {
  const s = [0, 0, 0, 0];
  for (let j = 0; j < n; j++) s[j & 3] += term(j);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

export class RefReduce implements ReduceKernels {
  constructor(protected readonly heap: Heap) {}

  rowSumsq(out: Ptr, a: Ptr, m: number, n: number, lda: number): void {
    const h = this.heap.f32;
    for (let i = 0; i < m; i++) {
      const row = (a >> 2) + i * lda;
      h[(out >> 2) + i] = f(laneSum(n, (j) => h[row + j] * h[row + j]));
    }
  }

  colSumsq(out: Ptr, acc: Ptr, a: Ptr, m: number, n: number, lda: number): void {
    const h = this.heap.f32, d = this.heap.f64;
    for (let j = 0; j < n; j++) d[(acc >> 3) + j] = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const x = h[(a >> 2) + i * lda + j];
        d[(acc >> 3) + j] += x * x;
      }
    }
    for (let j = 0; j < n; j++) h[(out >> 2) + j] = f(d[(acc >> 3) + j]);
  }

  rowMeanStd(mean: Ptr, std: Ptr, a: Ptr, m: number, n: number, lda: number, ddof: number): void {
    const h = this.heap.f32;
    for (let i = 0; i < m; i++) {
      const row = (a >> 2) + i * lda;
      const mu = laneSum(n, (j) => h[row + j]) / n;
      const ss = laneSum(n, (j) => (h[row + j] - mu) * (h[row + j] - mu));
      h[(mean >> 2) + i] = f(mu);
      h[(std >> 2) + i] = f(Math.sqrt(ss / (n - ddof)));
    }
  }

  scaleRowsCols(out: Ptr, ldo: number, a: Ptr, lda: number, r: Ptr, c: Ptr, m: number, n: number): void {
    const h = this.heap.f32;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let x = h[(a >> 2) + i * lda + j];
        if (r) x = f(h[(r >> 2) + i] * x);
        if (c) x = f(x * h[(c >> 2) + j]);
        h[(out >> 2) + i * ldo + j] = x;
      }
    }
  }

  sinkhornRound(a: Ptr, b: Ptr, acc: Ptr, g: Ptr, m: number, n: number, lda: number, rowTarget: number, colTarget: number): void {
    const h = this.heap.f32, d = this.heap.f64;
    const ac = acc >> 3;
    for (let j = 0; j < n; j++) d[ac + j] = 0;
    for (let i = 0; i < m; i++) {
      const row = (g >> 2) + i * lda;
      const r = laneSum(n, (j) => {
        const t = h[row + j] * h[(b >> 2) + j];
        return t * t;
      });
      const ai = normScaleOf(r, rowTarget);
      h[(a >> 2) + i] = ai;
      for (let j = 0; j < n; j++) {
        const t = h[row + j] * ai;
        d[ac + j] += t * t;
      }
    }
    for (let j = 0; j < n; j++) h[(b >> 2) + j] = normScaleOf(d[ac + j], colTarget);
  }

  sinkgdRound(alpha: Ptr, beta: Ptr, acc: Ptr, g: Ptr, m: number, n: number, lda: number, rowTarget: number, colTarget: number, s: number, withMax: number): number {
    const h = this.heap.f32;
    const ac = acc >> 2, be = beta >> 2;
    const sf = f(s);
    const scaled = (y: number) => {
      const z = f(sf * y);
      return z === Infinity ? 0 : z;
    };
    for (let j = 0; j < n; j++) h[ac + j] = 0;
    for (let i = 0; i < m; i++) {
      const row = (g >> 2) + i * lda;
      const l = [0, 0, 0, 0, 0, 0, 0, 0];
      for (let j = 0; j < n; j++) {
        const t = f(h[row + j] * h[be + j]);
        l[j & 7] = f(l[j & 7] + f(t * t));
      }
      const c = [0, 1, 2, 3].map((k) => f(l[k] + l[k + 4]));
      const ai = scaled(normScaleOf(f(f(c[0] + c[1]) + f(c[2] + c[3])), rowTarget));
      h[(alpha >> 2) + i] = ai;
      for (let j = 0; j < n; j++) {
        const u = f(h[row + j] * ai);
        h[ac + j] = f(h[ac + j] + f(u * u));
      }
    }
    for (let j = 0; j < n; j++) h[be + j] = scaled(normScaleOf(h[ac + j], colTarget));
    let best = 0;
    if (withMax) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) best = Math.max(best, Math.abs(h[(g >> 2) + i * lda + j]));
    return best;
  }

  rowStandardize(out: Ptr, ldo: number, a: Ptr, lda: number, mean: Ptr, std: Ptr, m: number, n: number, eps: number): void {
    const h = this.heap.f32;
    const e = f(eps);
    for (let i = 0; i < m; i++) {
      const mu = h[(mean >> 2) + i];
      const r = f(1 / Math.max(h[(std >> 2) + i], e));
      for (let j = 0; j < n; j++) h[(out >> 2) + i * ldo + j] = f(f(h[(a >> 2) + i * lda + j] - mu) * r);
    }
  }

  maxAbs(x: Ptr, n: number): number {
    const h = this.heap.f32;
    let best = 0;
    for (let i = 0; i < n; i++) best = Math.max(best, Math.abs(h[(x >> 2) + i]));
    return best;
  }

  dot(x: Ptr, y: Ptr, n: number): number {
    const h = this.heap.f32;
    return laneSum(n, (j) => h[(x >> 2) + j] * h[(y >> 2) + j]);
  }
}
