/**
 * Reductions and scalings: row/column sums of squares, row mean and standard deviation, out_ij = r_i·a_ij·c_j, max-abs, dot.
 * Conventions as in `./elementwise.ts`.
 */
export interface ReduceKernels {
}

export const REDUCE_KERNELS = [] as const satisfies readonly (keyof ReduceKernels)[];
