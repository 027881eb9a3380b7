/**
 * The kernel set on WebGPU: each call records dispatches on the runtime (nothing runs until the
 * runtime submits). Kernels that return a value to the host (`sumsq`, `maxAbs`, `dot`) work only
 * inside an optimizer step, where each costs one readback (the step is replayed; see `Replay`); the
 * other host-scalar kernels and those without a WGSL version yet throw BACKEND_UNAVAILABLE naming the
 * kernel. Scratch arguments for f64 accumulators are not used (sums are f32 here).
 */
import { FisheroptError } from '../../errors.js';
import { KERNEL_NAMES, type Kernels } from '../../kernels.js';
import type { GpuRuntime } from './runtime.js';

/** Kernels that return a host scalar without a device version yet. */
export const HOST_SCALAR_KERNELS = ['adafactorFactoredSumsq', 'adafactorVecSumsq', 'racsNormSq', 'racsScaledSumsq'] as const;

/** Host-scalar kernels that run inside a step, each with one readback (see `Replay` in `./runtime.ts`). */
export const READBACK_KERNELS = ['sumsq', 'maxAbs', 'dot'] as const;

/** f32 index of a byte pointer (f32 data is 4-byte aligned by the kernel set's conventions). */
function ix(ptr: number): number {
  if (!Number.isInteger(ptr) || ptr < 0 || ptr % 4 !== 0) throw new FisheroptError('BAD_VALUE', `webgpu kernels need 4-byte aligned pointers, got ${ptr}`);
  return ptr / 4;
}

export function webgpuKernels(rt: GpuRuntime): { kernels: Kernels; implemented: readonly string[] } {
  const el = (n: number) => rt.groupsFor(n);
  const rows = (m: number) => rt.groupsFor(m, 1);
  const impl: Partial<Record<keyof Kernels, (...a: number[]) => void>> = {
    scale: (x, n, s) => n > 0 && rt.record('scale', [ix(x), n, s], el(n)),
    axpy: (y, x, n, a) => n > 0 && rt.record('axpy', [ix(y), ix(x), n, a], el(n)),
    copy: (dst, src, n) => {
      if (n <= 0 || dst === src) return;
      const overlap = Math.abs(dst - src) < 4 * n;
      if (overlap) rt.record('copySerial', [ix(dst), ix(src), n], [1, 1]);
      else rt.record('copy', [ix(dst), ix(src), n], el(n));
    },
    fill: (x, n, value) => n > 0 && rt.record('fill', [ix(x), n, value], el(n)),
    fillUniform: (x, n, seed, offset) => n > 0 && rt.record('fillUniform', [ix(x), n, seed, offset], el(n)),
    addDiag: (a, lda, n, value) => n > 0 && rt.record('addDiag', [ix(a), lda, n, value], el(n)),
    normScale: (out, x, n, target) => n > 0 && rt.record('normScale', [ix(out), ix(x), n, target], el(n)),
    sgd: (p, g, buf, n, wd, momentum, omDampening, negLr, flags) =>
      n > 0 && rt.record('sgd', [ix(p), ix(g), ix(buf), n, wd, momentum, omDampening, negLr, flags], el(n)),
    adam: (p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, flags) =>
      n > 0 && rt.record('adam', [ix(p), ix(g), ix(m), ix(v), ix(vmax), n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, flags], el(n)),
    lerp: (a, b, n, w, omw, flags) => n > 0 && rt.record('lerp', [ix(a), ix(b), n, w, omw, flags], el(n)),
    adamDirection: (d, g, m, v, n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps, flags) =>
      n > 0 && rt.record('adamDirection', [ix(d), ix(g), ix(m), ix(v), n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps, flags], el(n)),
    adafactorRowVar: (r, g, m, n, w, omw, flags) => m > 0 && rt.record('adafactorRowVar', [ix(r), ix(g), m, n, w, omw, flags], rows(m)),
    adafactorColVar: (c, g, _acc, m, n, w, omw, flags) => n > 0 && rt.record('adafactorColVar', [ix(c), ix(g), m, n, w, omw, flags], el(n)),
    adafactorFactoredVar: (r, c, g, acc, m, n, w, omw, flags) => {
      impl.adafactorRowVar!(r, g, m, n, w, omw, flags);
      impl.adafactorColVar!(c, g, acc, m, n, w, omw, flags);
    },
    adafactorFactoredApply: (p, g, r, c, m, n, rMean, eps1Sq, coeff) =>
      m * n > 0 && rt.record('adafactorFactoredApply', [ix(p), ix(g), ix(r), ix(c), m, n, rMean, eps1Sq, coeff], el(m * n)),
    adafactorVecVar: (v, g, n, w, omw, flags) => n > 0 && rt.record('adafactorVecVar', [ix(v), ix(g), n, w, omw, flags], el(n)),
    adafactorVecApply: (p, g, v, n, eps1Sq, coeff) => n > 0 && rt.record('adafactorVecApply', [ix(p), ix(g), ix(v), n, eps1Sq, coeff], el(n)),
    rowSumsq: (out, a, m, n, lda) => m > 0 && rt.record('rowSumsq', [ix(out), ix(a), m, n, lda], rows(m)),
    colSumsq: (out, _acc, a, m, n, lda) => n > 0 && rt.record('colSumsq', [ix(out), ix(a), m, n, lda], el(n)),
    rowMeanStd: (mean, std, a, m, n, lda, ddof) => m > 0 && rt.record('rowMeanStd', [ix(mean), ix(std), ix(a), m, n, lda, ddof], rows(m)),
    scaleRowsCols: (out, ldo, a, lda, r, c, m, n) =>
      m * n > 0 && rt.record('scaleRowsCols', [ix(out), ldo, ix(a), lda, ix(r), ix(c), m, n], el(m * n)),
    sinkhornRound: (a, b, _acc, g, m, n, lda, rowTarget, colTarget) => {
      if (m > 0) rt.record('sinkhornRows', [ix(a), ix(b), ix(g), m, n, lda, rowTarget], rows(m));
      if (n > 0) rt.record('sinkhornCols', [ix(a), ix(b), ix(g), m, n, lda, colTarget], el(n));
    },
    rowStandardize: (out, ldo, a, lda, mean, std, m, n, eps) =>
      m * n > 0 && rt.record('rowStandardize', [ix(out), ldo, ix(a), lda, ix(mean), ix(std), m, n, eps], el(m * n)),
    racsColSq: (acc, g, m, n) => n > 0 && rt.record('racsColSq', [ix(acc), ix(g), m, n], el(n)),
    racsRsqrt: (out, x, n, floor) => n > 0 && rt.record('racsRsqrt', [ix(out), ix(x), n, floor], el(n)),
    racsScaledApply: (p, g, r, c, m, n, coeff) => m * n > 0 && rt.record('racsScaledApply', [ix(p), ix(g), ix(r), ix(c), m, n, coeff], el(m * n)),
    gemm: (c, ldc, a, lda, transA, b, ldb, transB, m, n, k, alpha, beta) => {
      if (m <= 0 || n <= 0) return;
      rt.record('gemm', [ix(c), ldc, ix(a), lda, transA ? 1 : 0, ix(b), ldb, transB ? 1 : 0, m, n, k, alpha, beta, 0], [Math.ceil(n / 64), Math.ceil(m / 64)]);
    },
    syrk: (c, ldc, a, lda, trans, n, k, alpha, beta) => {
      if (n <= 0) return;
      // op(A)·op(A)ᵀ as a gemm with B = A stored the other way round; lower triangle, then the mirror.
      const t = trans ? 1 : 0;
      rt.record('gemm', [ix(c), ldc, ix(a), lda, t, ix(a), lda, 1 - t, n, n, k, alpha, beta, 1], [Math.ceil(n / 64), Math.ceil(n / 64)]);
      rt.record('mirror', [ix(c), ldc, n, n], el(n * n));
    },
  };
  const out: Record<string, unknown> = {
    sumsq: (x: number, n: number) => rt.scalar('sumsq', 0, ix(x), 0, n),
    maxAbs: (x: number, n: number) => rt.scalar('maxAbs', 1, ix(x), 0, n),
    dot: (x: number, y: number, n: number) => rt.scalar('dot', 2, ix(x), ix(y), n),
  };
  for (const name of KERNEL_NAMES) {
    if (name in out) continue;
    const fn = impl[name];
    if (fn) {
      out[name] = (...a: number[]) => void fn(...a);
    } else {
      const why = (HOST_SCALAR_KERNELS as readonly string[]).includes(name)
        ? 'it returns a value to the host, which would need a readback in the middle of a step'
        : 'it has no WGSL version yet';
      out[name] = () => {
        throw new FisheroptError('BACKEND_UNAVAILABLE', `kernel ${name} is not available on the webgpu backend: ${why}`);
      };
    }
  }
  return { kernels: out as unknown as Kernels, implemented: KERNEL_NAMES.filter((n) => impl[n] || (READBACK_KERNELS as readonly string[]).includes(n)) };
}
