/**
 * GEMM family: C ← α·op(A)·op(B) + β·C through strides, symmetric Gram / Gram-EMA, tall-skinny products.
 * Conventions as in `./elementwise.ts`.
 */
export interface GemmKernels {
}

export const GEMM_KERNELS = [] as const satisfies readonly (keyof GemmKernels)[];
