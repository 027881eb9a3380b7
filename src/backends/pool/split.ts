/**
 * How each kernel is split across threads. Every split gives bit for bit the result of one call:
 * - `elems`: elementwise kernels over n values, split into contiguous element ranges (pointer
 *   arguments advanced by 4 bytes per element; `fillUniform`'s counter offset advanced too);
 * - `rows`: row-wise kernels and gemm, split into row ranges (pointers advanced by rows × stride);
 * - `cols`: column reductions, split into column ranges (each column still sums its rows in order);
 * - `max`: max-abs, whose result does not depend on the order;
 * - syrk: diagonal blocks (one per thread) by syrk, the blocks left of them by gemm split by rows, and
 *   their mirror images (`parallel-kernels.ts`);
 * - kernels not listed (scalar sums in lane order, decompositions, `sinkhornRound`, `sinkgdRound`,
 *   `racsColSq` and `racsFixedPass` whose column sums run over all rows in order, tiny kernels) run whole
 *   on the leader, so their results never depend on the number of threads.
 */
import type { Kernels } from '../../kernels.js';

type Args = number[];

export interface Split {
  /** Units of work (elements, rows or columns) and the cost per unit, for the threshold. */
  units(a: Args): number;
  unitCost(a: Args): number;
  /** The arguments of the call restricted to units [u0, u1); `scratch` is the thread's own scratch. */
  part(a: Args, u0: number, u1: number, scratch: number): Args;
  /** Units are rounded to multiples of this (keeps SIMD loops whole). */
  grain: number;
  /** How the per-part return values combine (default: none). */
  combine?: 'max';
}

const withArgs = (a: Args, changes: [number, number][]): Args => {
  const b = a.slice();
  for (const [i, v] of changes) b[i] = v;
  return b;
};

/** Elementwise kernel: pointer args advanced by 4·u0 bytes, count argument set to u1 − u0. */
function elems(ptrs: number[], count: number, extra: (a: Args, u0: number) => [number, number][] = () => []): Split {
  return {
    grain: 64,
    units: (a) => a[count],
    unitCost: () => 1,
    part: (a, u0, u1) => withArgs(a, [...ptrs.map((i): [number, number] => [i, a[i] + 4 * u0]), [count, u1 - u0], ...extra(a, u0)]),
  };
}

/** Row-wise kernel: each pointer advanced by u0 rows of its stride (a constant or an argument index). */
function rows(mArg: number, ptrs: [arg: number, stride: (a: Args) => number][], cost: (a: Args) => number, scratchArg?: number): Split {
  return {
    grain: 1,
    units: (a) => a[mArg],
    unitCost: cost,
    part: (a, u0, u1, scratch) => {
      const ch: [number, number][] = ptrs.map(([i, stride]) => [i, a[i] === 0 ? 0 : a[i] + 4 * u0 * stride(a)]);
      ch.push([mArg, u1 - u0]);
      if (scratchArg !== undefined) ch.push([scratchArg, scratch]);
      return withArgs(a, ch);
    },
  };
}

const one = () => 1;
const arg = (i: number) => (a: Args) => a[i];

export const SPLITS: Partial<Record<keyof Kernels, Split>> = {
  scale: elems([0], 1),
  axpy: elems([0, 1], 2),
  fill: elems([0], 1),
  fillUniform: elems([0], 1, (a, u0) => [[3, (a[3] + u0) | 0]]),
  sgd: elems([0, 1, 2], 3),
  adam: elems([0, 1, 2, 3, 4], 5),
  lerp: elems([0, 1], 2),
  normScale: elems([0, 1], 2),
  adamDirection: elems([0, 1, 2, 3], 4),
  adafactorVecVar: elems([0, 1], 2),
  adafactorVecApply: elems([0, 1, 2], 3),
  // adafactorRowVar(r, g, m, n, …)
  adafactorRowVar: rows(2, [[0, one], [1, arg(3)]], arg(3)),
  // adafactorFactoredApply(p, g, r, c, m, n, …)
  adafactorFactoredApply: rows(4, [[0, arg(5)], [1, arg(5)], [2, one]], arg(5)),
  // rowSumsq(out, a, m, n, lda)
  rowSumsq: rows(2, [[0, one], [1, arg(4)]], arg(3)),
  // rowMeanStd(mean, std, a, m, n, lda, ddof)
  rowMeanStd: rows(3, [[0, one], [1, one], [2, arg(5)]], (a) => 2 * a[4]),
  // scaleRowsCols(out, ldo, a, lda, r, c, m, n)
  scaleRowsCols: rows(6, [[0, arg(1)], [2, arg(3)], [4, one]], arg(7)),
  // rowStandardize(out, ldo, a, lda, mean, std, m, n, eps)
  rowStandardize: rows(6, [[0, arg(1)], [2, arg(3)], [4, one], [5, one]], arg(7)),
  // gemm(c, ldc, a, lda, transA, b, ldb, transB, m, n, k, alpha, beta, scratch): rows of C
  gemm: {
    grain: 4,
    units: (a) => a[8],
    unitCost: (a) => 2 * a[9] * a[10],
    part: (a, u0, u1, scratch) =>
      withArgs(a, [[0, a[0] + 4 * u0 * a[1]], [2, a[4] ? a[2] + 4 * u0 : a[2] + 4 * u0 * a[3]], [8, u1 - u0], [13, scratch]]),
  },
  // colSumsq(out, acc, a, m, n, lda): column ranges
  colSumsq: {
    grain: 4,
    units: (a) => a[4],
    unitCost: (a) => a[3],
    part: (a, u0, u1) => withArgs(a, [[0, a[0] + 4 * u0], [1, a[1] + 8 * u0], [2, a[2] + 4 * u0], [4, u1 - u0]]),
  },
  maxAbs: { ...elems([0], 1), combine: 'max' },
};

/** copy splits only when source and destination do not overlap (memmove semantics otherwise). */
export function copySplit(a: Args): Split | undefined {
  const [dst, src, n] = a;
  return Math.abs(dst - src) >= 4 * n ? elems([0, 1], 2) : undefined;
}
