/**
 * Decompositions: Householder QR, symmetric eigendecomposition, SVD.
 * Conventions as in `./elementwise.ts`.
 */
export interface LinalgKernels {
}

export const LINALG_KERNELS = [] as const satisfies readonly (keyof LinalgKernels)[];
