/**
 * Scalar oracle of the gemm kernels (see `../../kernels/gemm.ts`): plain loops, every dot product
 * accumulated in f64 (in increasing p) and rounded to f32 once, together with the α and β terms.
 */
import type { Ptr } from '../../kernels.js';
import type { GemmKernels } from '../../kernels/gemm.js';
import { f, type Heap } from './heap.js';

/**
 * f32(α·s + β·c) in f64, with the product term left out when `product` is false (α = 0 or k = 0:
 * C ← β·C) and the β term left out when β = 0 (C not read: NaN there does not propagate).
 */
function combine(product: boolean, al: number, s: number, be: number, c: number): number {
  if (!product) return be !== 0 ? f(be * c) : 0;
  return f(be !== 0 ? al * s + be * c : al * s);
}

export class RefGemm implements GemmKernels {
  constructor(protected readonly heap: Heap) {}

  gemm(
    c: Ptr, ldc: number, a: Ptr, lda: number, transA: number, b: Ptr, ldb: number, transB: number,
    m: number, n: number, k: number, alpha: number, beta: number, _scratch: Ptr,
  ): void {
    const h = this.heap.f32;
    const oc = c >> 2, oa = a >> 2, ob = b >> 2;
    const al = f(alpha), be = f(beta);
    // op(A)_ip = h[oa + i·sai + p·sap], op(B)_pj = h[ob + p·sbp + j·sbj]
    const sai = transA ? 1 : lda, sap = transA ? lda : 1;
    const sbp = transB ? 1 : ldb, sbj = transB ? ldb : 1;
    const product = al !== 0 && k > 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        if (product) {
          for (let p = 0, ia = oa + i * sai, ib = ob + j * sbj; p < k; p++, ia += sap, ib += sbp) s += h[ia] * h[ib];
        }
        h[oc + i * ldc + j] = combine(product, al, s, be, h[oc + i * ldc + j]);
      }
    }
  }

  syrk(
    c: Ptr, ldc: number, a: Ptr, lda: number, trans: number,
    n: number, k: number, alpha: number, beta: number, _scratch: Ptr,
  ): void {
    const h = this.heap.f32;
    const oc = c >> 2, oa = a >> 2;
    const al = f(alpha), be = f(beta);
    // op(A)_ip = h[oa + i·si + p·sp]
    const si = trans ? 1 : lda, sp = trans ? lda : 1;
    const product = al !== 0 && k > 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        if (product) {
          for (let p = 0, ia = oa + i * si, ja = oa + j * si; p < k; p++, ia += sp, ja += sp) s += h[ia] * h[ja];
        }
        h[oc + i * ldc + j] = combine(product, al, s, be, h[oc + i * ldc + j]);
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) h[oc + j * ldc + i] = h[oc + i * ldc + j];
  }
}
