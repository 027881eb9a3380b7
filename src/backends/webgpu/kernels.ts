/**
 * The kernel set on WebGPU: each call records dispatches on the runtime (nothing runs until the
 * runtime submits). Kernels that return a value to the host (`READBACK_KERNELS`) work only inside an
 * optimizer step, where each costs one readback (the step is replayed; see `Replay`). The
 * decompositions (`HOST_KERNELS`: QR, eigh, SVD) run on the host kernels (wasm, else ref) over the host
 * mirror, also only inside a step: their inputs are read back (unless the host wrote them since the
 * last dispatch), and their outputs are copied into the device arena in order with the dispatches.
 * Scratch arguments for f64 accumulators are not used (sums are f32 here).
 */
import { FisheroptError } from '../../errors.js';
import { KERNEL_NAMES, type Kernels } from '../../kernels.js';
import { QrApplyMode } from '../../kernels/linalg.js';
import { refKernels } from '../ref.js';
import { ScalarMode, type GpuRuntime, type Region } from './runtime.js';

/**
 * Kernels that return a host scalar: each is one readback inside a step (see `Replay` in `./runtime.ts`);
 * `sinkgdRound` only when asked for max|g| (its first round).
 */
export const READBACK_KERNELS = [
  'sumsq', 'maxAbs', 'dot', 'adafactorFactoredSumsq', 'adafactorVecSumsq', 'racsNormSq', 'racsScaledSumsq', 'sinkgdRound',
] as const;

/** Decompositions run by the host kernels on the host mirror, with explicit transfers (refresh steps). */
export const HOST_KERNELS = ['qrFactor', 'qrFormQ', 'qrApply', 'eigh', 'svd'] as const;

/** The bytes of a rows×cols f32 matrix with row stride ld at p, as one span (gaps included). */
const span = (p: number, rows: number, cols: number, ld: number): Region => [p, rows > 0 && cols > 0 ? 4 * ((rows - 1) * ld + cols) : 0];

/** The same matrix as the regions it occupies (one per row when rows have gaps): what an output overwrites. */
const rowsOf = (p: number, rows: number, cols: number, ld: number): Region[] =>
  ld === cols || rows <= 1 ? [span(p, rows, cols, ld)] : Array.from({ length: rows }, (_, i) => [p + 4 * i * ld, 4 * cols] as const);

/** f32 index of a byte pointer (f32 data is 4-byte aligned by the kernel set's conventions). */
function ix(ptr: number): number {
  if (!Number.isInteger(ptr) || ptr < 0 || ptr % 4 !== 0) throw new FisheroptError('BAD_VALUE', `webgpu kernels need 4-byte aligned pointers, got ${ptr}`);
  return ptr / 4;
}

/**
 * The kernels of `rt`; `host`: the kernels the decompositions run on, over the runtime's host arena
 * (default: `ref`).
 */
export function webgpuKernels(rt: GpuRuntime, host?: Kernels): { kernels: Kernels; implemented: readonly string[] } {
  const hk = host ?? refKernels({ get buffer() { return rt.hostBuffer; } });
  const el = (n: number) => rt.groupsFor(n);
  const rows = (m: number) => rt.groupsFor(m, 1);
  /** One SR-Sinkhorn round (rows, then columns), its scales times the power of two s. */
  const sinkhorn = (a: number, b: number, g: number, m: number, n: number, lda: number, rowTarget: number, colTarget: number, s: number) => {
    if (m > 0) rt.record('sinkhornRows', [ix(a), ix(b), ix(g), m, n, lda, rowTarget, s], rows(m));
    if (n > 0) rt.record('sinkhornCols', [ix(a), ix(b), ix(g), m, n, lda, colTarget, s], el(n));
  };
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
    sinkhornRound: (a, b, _acc, g, m, n, lda, rowTarget, colTarget) => sinkhorn(a, b, g, m, n, lda, rowTarget, colTarget, 1),
    rowStandardize: (out, ldo, a, lda, mean, std, m, n, eps) =>
      m * n > 0 && rt.record('rowStandardize', [ix(out), ldo, ix(a), lda, ix(mean), ix(std), m, n, eps], el(m * n)),
    racsColSq: (acc, g, m, n) => n > 0 && rt.record('racsColSq', [ix(acc), ix(g), m, n], el(n)),
    racsFixedPass: (q, acc, g, w, m, n, b) => {
      if (m > 0) rt.record('racsFixedRows', [ix(q), ix(g), ix(w), m, n, b], rows(m));
      if (n > 0) rt.record('racsFixedCols', [ix(acc), ix(g), ix(q), m, n], el(n));
    },
    racsFinalPass: (q, t, g, w, c, m, n, b) => m > 0 && rt.record('racsFinalRows', [ix(q), ix(t), ix(g), ix(w), ix(c), m, n, b], rows(m)),
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
  const M = ScalarMode;
  const scalars: Record<(typeof READBACK_KERNELS)[number], (...a: number[]) => number> = {
    sumsq: (x, n) => rt.scalar('sumsq', M.SUMSQ, { x: ix(x), n }),
    sinkgdRound: (alpha, beta, _acc, g, m, n, lda, rowTarget, colTarget, s, withMax) => {
      // max|g| does not depend on the round: read it back first (one readback), then record the round
      const max = withMax ? rt.scalar('sinkgdRound', M.MAX_ABS, { x: ix(g), n: m * n }) : 0;
      if (withMax && lda !== n && m > 1) throw new FisheroptError('BAD_OPTION', `webgpu backend: sinkgdRound reads max|g| of contiguous rows only (lda ${lda}, n ${n})`);
      sinkhorn(alpha, beta, g, m, n, lda, rowTarget, colTarget, s);
      return max;
    },
    maxAbs: (x, n) => rt.scalar('maxAbs', M.MAX_ABS, { x: ix(x), n }),
    dot: (x, y, n) => rt.scalar('dot', M.DOT, { x: ix(x), y: ix(y), n }),
    adafactorVecSumsq: (g, v, n, eps1Sq) => rt.scalar('adafactorVecSumsq', M.ADAFACTOR_VEC, { x: ix(g), y: ix(v), n, a: eps1Sq }),
    racsNormSq: (r, t, m) => rt.scalar('racsNormSq', M.RACS_NORM, { x: ix(r), y: ix(t), n: m }),
    adafactorFactoredSumsq: (g, r, c, m, n, rMean, eps1Sq) =>
      rt.scalar('adafactorFactoredSumsq', M.ADAFACTOR_FACTORED, { x: ix(g), y: ix(r), c: ix(c), n: m * n, cols: n, a: rMean, b: eps1Sq }),
    racsScaledSumsq: (g, r, c, m, n) => rt.scalar('racsScaledSumsq', M.RACS_SCALED, { x: ix(g), y: ix(r), c: ix(c), n: m * n, cols: n }),
  };
  const decompositions: Record<(typeof HOST_KERNELS)[number], (...a: number[]) => number> = {
    qrFactor: (a, lda, m, n, tau, scratch) =>
      rt.hostKernel('qrFactor', [span(a, m, n, lda)], [...rowsOf(a, m, n, lda), [tau, 4 * Math.min(m, n)]], () => hk.qrFactor(a, lda, m, n, tau, scratch)),
    qrFormQ: (q, ldq, a, lda, m, n, cols, tau, scratch) =>
      rt.hostKernel('qrFormQ', [span(a, m, n, lda), [tau, 4 * Math.min(m, n)]], rowsOf(q, m, cols, ldq), () => hk.qrFormQ(q, ldq, a, lda, m, n, cols, tau, scratch)),
    qrApply: (c, ldc, a, lda, m, kRefl, tau, p, mode, scratch) => {
      const cm = mode === QrApplyMode.Q_C || mode === QrApplyMode.QT_C ? rowsOf(c, m, p, ldc) : rowsOf(c, p, m, ldc);
      const cs = mode === QrApplyMode.Q_C || mode === QrApplyMode.QT_C ? span(c, m, p, ldc) : span(c, p, m, ldc);
      return rt.hostKernel('qrApply', [cs, span(a, m, kRefl, lda), [tau, 4 * kRefl]], cm, () => hk.qrApply(c, ldc, a, lda, m, kRefl, tau, p, mode, scratch));
    },
    eigh: (v, ldv, w, a, lda, n, scratch) =>
      rt.hostKernel('eigh', [span(a, n, n, lda)], [[w, 4 * n], ...(v ? rowsOf(v, n, n, ldv) : [])], () => hk.eigh(v, ldv, w, a, lda, n, scratch)),
    svd: (u, ldu, s, vt, ldvt, a, lda, m, n, full, scratch) => {
      const k = Math.min(m, n);
      const outs: Region[] = [[s, 4 * k]];
      if (u) outs.push(...rowsOf(u, m, full ? m : k, ldu));
      if (vt) outs.push(...rowsOf(vt, full ? n : k, n, ldvt));
      return rt.hostKernel('svd', [span(a, m, n, lda)], outs, () => hk.svd(u, ldu, s, vt, ldvt, a, lda, m, n, full, scratch));
    },
  };
  const out: Record<string, unknown> = { ...scalars, ...decompositions };
  for (const name of KERNEL_NAMES) {
    if (name in out) continue;
    const fn = impl[name];
    if (!fn) throw new Error(`webgpu backend: kernel ${name} has no implementation`);
    out[name] = (...a: number[]) => void fn(...a);
  }
  return { kernels: out as unknown as Kernels, implemented: KERNEL_NAMES.filter((n) => impl[n] || n in scalars) };
}
