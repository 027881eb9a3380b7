/** Scalar oracle of the elementwise and fused optimizer kernels (see `../../kernels.ts`). */
import { KernelFlag, type Ptr } from '../../kernels.js';
import type { ElementwiseKernels } from '../../kernels/elementwise.js';
import { f, Heap, LaneSum, lerp, normScaleOf } from './heap.js';

/** Elementwise and fused optimizer kernels (SGD, Adam, Adafactor, scale, axpy, sumsq). */
export class RefElementwise implements ElementwiseKernels {
  constructor(private readonly heap: Heap) {}

  private views(): [Float32Array, Float64Array] {
    return [this.heap.f32, this.heap.f64];
  }

  sumsq(x: Ptr, n: number): number {
    const [a] = this.views();
    const acc = new LaneSum();
    const o = x >> 2;
    for (let i = 0; i < n; i++) acc.add(i & 3, a[o + i]);
    return acc.total();
  }

  scale(x: Ptr, n: number, s: number): void {
    const [a] = this.views();
    const o = x >> 2;
    const s32 = f(s);
    for (let i = 0; i < n; i++) a[o + i] = f(s32 * a[o + i]);
  }

  axpy(y: Ptr, x: Ptr, n: number, alpha: number): void {
    const [a] = this.views();
    const oy = y >> 2, ox = x >> 2;
    const al = f(alpha);
    for (let i = 0; i < n; i++) a[oy + i] = f(a[oy + i] + f(al * a[ox + i]));
  }

  copy(dst: Ptr, src: Ptr, n: number): void {
    const u = new Uint32Array(this.heap.f32.buffer);
    u.copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  }

  fill(x: Ptr, n: number, value: number): void {
    this.heap.f32.fill(f(value), x >> 2, (x >> 2) + n);
  }

  fillUniform(x: Ptr, n: number, seed: number, offset: number): void {
    const h32 = this.heap.f32;
    for (let i = 0; i < n; i++) {
      let h = (seed + Math.imul((offset + i) | 0, 0x9e3779b9)) >>> 0;
      h ^= h >>> 16;
      h = Math.imul(h, 0x7feb352d) >>> 0;
      h ^= h >>> 15;
      h = Math.imul(h, 0x846ca68b) >>> 0;
      h ^= h >>> 16;
      h32[(x >> 2) + i] = (h >>> 8) * 2 ** -23 - 1;
    }
  }

  addDiag(a: Ptr, lda: number, n: number, value: number): void {
    const h = this.heap.f32;
    const v = f(value);
    for (let i = 0; i < n; i++) h[(a >> 2) + i * lda + i] = f(h[(a >> 2) + i * lda + i] + v);
  }

  normScale(out: Ptr, x: Ptr, n: number, target: number): void {
    const h = this.heap.f32;
    for (let i = 0; i < n; i++) h[(out >> 2) + i] = normScaleOf(h[(x >> 2) + i], target);
  }

  sgd(p: Ptr, g: Ptr, buf: Ptr, n: number, wd: number, momentum: number, omDampening: number, negLr: number, flags: number): void {
    const [a] = this.views();
    const op = p >> 2, og = g >> 2, ob = buf >> 2;
    const sign = flags & KernelFlag.MAXIMIZE ? -1 : 1;
    const wd32 = f(wd), mom = f(momentum), omd = f(omDampening), nlr = f(negLr);
    for (let i = 0; i < n; i++) {
      let gi = sign * a[og + i];
      const pi = a[op + i];
      if (flags & KernelFlag.L2) gi = f(gi + f(wd32 * pi));
      if (flags & KernelFlag.MOMENTUM) {
        const b = flags & KernelFlag.FIRST ? gi : f(f(a[ob + i] * mom) + f(omd * gi));
        a[ob + i] = b;
        gi = flags & KernelFlag.NESTEROV ? f(gi + f(mom * b)) : b;
      }
      a[op + i] = f(pi + f(nlr * gi));
    }
  }

  adam(
    p: Ptr, g: Ptr, m: Ptr, v: Ptr, vmax: Ptr, n: number,
    wd: number, decay: number, a1: number, omA1: number, b2: number, a2: number,
    bc2Sqrt: number, eps: number, negStepSize: number, flags: number,
  ): void {
    const [a] = this.views();
    const op = p >> 2, og = g >> 2, om = m >> 2, ov = v >> 2, ox = vmax >> 2;
    const sign = flags & KernelFlag.MAXIMIZE ? -1 : 1;
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const wd32 = f(wd), dec = f(decay), w1 = f(a1), omw1 = f(omA1), beta2 = f(b2), w2 = f(a2);
    const bc = f(bc2Sqrt), e = f(eps), nss = f(negStepSize);
    for (let i = 0; i < n; i++) {
      let gi = sign * a[og + i];
      let pi = a[op + i];
      if (flags & KernelFlag.L2) gi = f(gi + f(wd32 * pi));
      pi = f(pi * dec);
      const mi = lerp(a[om + i], gi, w1, omw1, small);
      const vi = f(f(a[ov + i] * beta2) + f(f(w2 * gi) * gi));
      a[om + i] = mi;
      a[ov + i] = vi;
      let vv = vi;
      if (flags & KernelFlag.AMSGRAD) {
        vv = Math.max(a[ox + i], vi);
        a[ox + i] = vv;
      }
      const denom = f(f(f(Math.sqrt(vv)) / bc) + e);
      a[op + i] = f(pi + f(f(nss * mi) / denom));
    }
  }

  lerp(a: Ptr, b: Ptr, n: number, w: number, omw: number, flags: number): void {
    const [h] = this.views();
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const w32 = f(w), omw32 = f(omw);
    for (let i = 0; i < n; i++) h[(a >> 2) + i] = lerp(h[(a >> 2) + i], h[(b >> 2) + i], w32, omw32, small);
  }

  adamDirection(
    d: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number,
    a1: number, omA1: number, b2: number, a2: number, mScale: number, bc2Sqrt: number, eps: number, flags: number,
  ): void {
    const [h] = this.views();
    const od = d >> 2, og = g >> 2, om = m >> 2, ov = v >> 2;
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const keep = (flags & KernelFlag.KEEP_M) !== 0;
    const w1 = f(a1), omw1 = f(omA1), beta2 = f(b2), w2 = f(a2), ms = f(mScale), bc = f(bc2Sqrt), e = f(eps);
    for (let i = 0; i < n; i++) {
      const gi = h[og + i];
      const mi = keep ? h[om + i] : lerp(h[om + i], gi, w1, omw1, small);
      const vi = f(f(h[ov + i] * beta2) + f(f(w2 * gi) * gi));
      h[om + i] = mi;
      h[ov + i] = vi;
      const denom = f(f(f(Math.sqrt(vi)) / bc) + e);
      h[od + i] = f(f(ms * mi) / denom);
    }
  }

  adafactorRowVar(r: Ptr, g: Ptr, m: number, n: number, w: number, omw: number, flags: number): void {
    const [a] = this.views();
    const or = r >> 2, og = g >> 2;
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const w32 = f(w), omw32 = f(omw);
    for (let i = 0; i < m; i++) {
      const acc = new LaneSum();
      for (let j = 0; j < n; j++) acc.add(j & 3, a[og + i * n + j]);
      a[or + i] = lerp(a[or + i], f(acc.total() / n), w32, omw32, small);
    }
  }

  adafactorColVar(c: Ptr, g: Ptr, acc: Ptr, m: number, n: number, w: number, omw: number, flags: number): void {
    const [a, d] = this.views();
    const oc = c >> 2, og = g >> 2, oa = acc >> 3;
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const w32 = f(w), omw32 = f(omw);
    for (let j = 0; j < n; j++) d[oa + j] = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const x = a[og + i * n + j];
        d[oa + j] += x * x;
      }
    }
    for (let j = 0; j < n; j++) a[oc + j] = lerp(a[oc + j], f(d[oa + j] / m), w32, omw32, small);
  }

  adafactorFactoredVar(r: Ptr, c: Ptr, g: Ptr, acc: Ptr, m: number, n: number, w: number, omw: number, flags: number): void {
    this.adafactorRowVar(r, g, m, n, w, omw, flags);
    this.adafactorColVar(c, g, acc, m, n, w, omw, flags);
  }

  private factoredU(gij: number, ri: number, cj: number, rMean: number, eps1Sq: number): number {
    const v = Math.max(f(f(ri * cj) / rMean), eps1Sq);
    return f(f(1 / f(Math.sqrt(v))) * gij);
  }

  adafactorFactoredSumsq(g: Ptr, r: Ptr, c: Ptr, m: number, n: number, rMean: number, eps1Sq: number): number {
    const [a] = this.views();
    const og = g >> 2, or = r >> 2, oc = c >> 2;
    const rm = f(rMean), e = f(eps1Sq);
    const acc = new LaneSum();
    for (let i = 0; i < m; i++) {
      const ri = a[or + i];
      for (let j = 0; j < n; j++) acc.add(j & 3, this.factoredU(a[og + i * n + j], ri, a[oc + j], rm, e));
    }
    return acc.total();
  }

  adafactorFactoredApply(p: Ptr, g: Ptr, r: Ptr, c: Ptr, m: number, n: number, rMean: number, eps1Sq: number, coeff: number): void {
    const [a] = this.views();
    const op = p >> 2, og = g >> 2, or = r >> 2, oc = c >> 2;
    const rm = f(rMean), e = f(eps1Sq), k = f(coeff);
    for (let i = 0; i < m; i++) {
      const ri = a[or + i];
      for (let j = 0; j < n; j++) {
        const u = this.factoredU(a[og + i * n + j], ri, a[oc + j], rm, e);
        a[op + i * n + j] = f(a[op + i * n + j] + f(k * u));
      }
    }
  }

  adafactorVecVar(v: Ptr, g: Ptr, n: number, w: number, omw: number, flags: number): void {
    const [a] = this.views();
    const ov = v >> 2, og = g >> 2;
    const small = (flags & KernelFlag.LERP_SMALL) !== 0;
    const w32 = f(w), omw32 = f(omw);
    for (let i = 0; i < n; i++) {
      const gi = a[og + i];
      a[ov + i] = lerp(a[ov + i], f(gi * gi), w32, omw32, small);
    }
  }

  private vecU(gi: number, vi: number, eps1Sq: number): number {
    return f(f(1 / f(Math.sqrt(Math.max(vi, eps1Sq)))) * gi);
  }

  adafactorVecSumsq(g: Ptr, v: Ptr, n: number, eps1Sq: number): number {
    const [a] = this.views();
    const og = g >> 2, ov = v >> 2;
    const e = f(eps1Sq);
    const acc = new LaneSum();
    for (let i = 0; i < n; i++) acc.add(i & 3, this.vecU(a[og + i], a[ov + i], e));
    return acc.total();
  }

  adafactorVecApply(p: Ptr, g: Ptr, v: Ptr, n: number, eps1Sq: number, coeff: number): void {
    const [a] = this.views();
    const op = p >> 2, og = g >> 2, ov = v >> 2;
    const e = f(eps1Sq), k = f(coeff);
    for (let i = 0; i < n; i++) a[op + i] = f(a[op + i] + f(k * this.vecU(a[og + i], a[ov + i], e)));
  }
}
