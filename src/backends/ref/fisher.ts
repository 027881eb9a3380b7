/** Scalar oracle of the fisher kernels (see `../../kernels/fisher.ts`). */
import type { FisherKernels } from '../../kernels/fisher.js';
import { f, type Heap } from './heap.js';

export class RefFisher implements FisherKernels {
  constructor(protected readonly heap: Heap) {}

  /** f32 sum of f32(f32(g_ij·g_ij)·w_j) over row `row` in the eight lanes of the contract. */
  private rowDot(h: Float32Array, row: number, wi: number, n: number, square: boolean): number {
    const s = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < n; j++) {
      const x = h[row + j];
      const wj = square ? f(h[wi + j] * h[wi + j]) : h[wi + j];
      s[j & 7] = f(s[j & 7] + f(f(x * x) * wj));
    }
    const c = [0, 1, 2, 3].map((l) => f(s[l] + s[l + 4]));
    return f(f(c[0] + c[1]) + f(c[2] + c[3]));
  }

  private accumulateRow(h: Float32Array, a: number, row: number, qi: number, n: number): void {
    for (let j = 0; j < n; j++) {
      const x = h[row + j];
      h[a + j] = f(h[a + j] + f(f(x * x) * qi));
    }
  }

  racsColSq(acc: number, g: number, m: number, n: number): void {
    const h = this.heap.f32;
    const a = acc >> 2;
    for (let j = 0; j < n; j++) h[a + j] = 0;
    for (let i = 0; i < m; i++) this.accumulateRow(h, a, (g >> 2) + i * n, 1, n);
  }

  racsFixedPass(q: number, acc: number, g: number, w: number, m: number, n: number, b: number): void {
    const h = this.heap.f32;
    const a = acc >> 2, bf = f(b);
    for (let j = 0; j < n; j++) h[a + j] = 0;
    for (let i = 0; i < m; i++) {
      const row = (g >> 2) + i * n;
      const qi = f(bf * this.rowDot(h, row, w >> 2, n, false));
      h[(q >> 2) + i] = qi;
      this.accumulateRow(h, a, row, qi, n);
    }
  }

  racsFinalPass(q: number, t: number, g: number, w: number, c: number, m: number, n: number, b: number): void {
    const h = this.heap.f32;
    const bf = f(b);
    for (let i = 0; i < m; i++) {
      const row = (g >> 2) + i * n;
      h[(q >> 2) + i] = f(bf * this.rowDot(h, row, w >> 2, n, false));
      h[(t >> 2) + i] = this.rowDot(h, row, c >> 2, n, true);
    }
  }

  racsNormSq(r: number, t: number, m: number): number {
    const h = this.heap.f32;
    let s = 0;
    for (let i = 0; i < m; i++) {
      const ri = h[(r >> 2) + i];
      s += f(ri * ri) * h[(t >> 2) + i];
    }
    return s;
  }

  racsRsqrt(out: number, x: number, n: number, floor: number): void {
    const h = this.heap.f32;
    const fl = f(floor);
    for (let i = 0; i < n; i++) {
      const v = h[(x >> 2) + i];
      // Math.max propagates NaN like f32.max
      h[(out >> 2) + i] = f(1 / f(Math.sqrt(Math.max(v, fl))));
    }
  }

  racsScaledSumsq(g: number, r: number, c: number, m: number, n: number): number {
    const h = this.heap.f32;
    const s = [0, 0, 0, 0];
    for (let i = 0; i < m; i++) {
      const ri = h[(r >> 2) + i];
      const row = (g >> 2) + i * n;
      for (let j = 0; j < n; j++) {
        const u = f(f(ri * h[row + j]) * h[(c >> 2) + j]);
        s[j & 3] += u * u;
      }
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
  }

  racsScaledApply(p: number, g: number, r: number, c: number, m: number, n: number, coeff: number): void {
    const h = this.heap.f32;
    const k = f(coeff);
    for (let i = 0; i < m; i++) {
      const ri = h[(r >> 2) + i];
      const row = i * n;
      for (let j = 0; j < n; j++) {
        const u = f(f(ri * h[(g >> 2) + row + j]) * h[(c >> 2) + j]);
        const pi = (p >> 2) + row + j;
        h[pi] = f(h[pi] + f(k * u));
      }
    }
  }
}
