/** Scalar oracle of the fisher kernels (see `../../kernels/fisher.ts`). */
import type { FisherKernels } from '../../kernels/fisher.js';
import { f, type Heap } from './heap.js';

export class RefFisher implements FisherKernels {
  constructor(protected readonly heap: Heap) {}

  racsColWeight(out: number, acc: number, g: number, w: number, m: number, n: number): void {
    const h = this.heap.f32, h64 = this.heap.f64;
    const a = acc >> 3, gi = g >> 2, wi = w >> 2, o = out >> 2;
    for (let j = 0; j < n; j++) h64[a + j] = 0;
    for (let i = 0; i < m; i++) {
      const wv = h[wi + i];
      const row = gi + i * n;
      for (let j = 0; j < n; j++) {
        const x = h[row + j];
        h64[a + j] += (x * x) * wv;
      }
    }
    for (let j = 0; j < n; j++) h[o + j] = f(h64[a + j]);
  }

  racsRowWeight(out: number, g: number, w: number, m: number, n: number): void {
    const h = this.heap.f32;
    const gi = g >> 2, wi = w >> 2, o = out >> 2;
    for (let i = 0; i < m; i++) {
      const s = [0, 0, 0, 0];
      const row = gi + i * n;
      for (let j = 0; j < n; j++) {
        const x = h[row + j];
        s[j & 3] += (x * x) * h[wi + j];
      }
      h[o + i] = f((s[0] + s[1]) + (s[2] + s[3]));
    }
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
