/**
 * Fused kernels of the eigen optimizers (Eigen-Adam, SOAP, Shampoo, AdaDiag, AdaDiag++, AdaDiag with Adafactor (Gong et al. 2025; Nguyen et al. 2025, arXiv 2502.07488)).
 * Conventions as in `./elementwise.ts`.
 */
export interface EigenKernels {
}

export const EIGEN_KERNELS = [] as const satisfies readonly (keyof EigenKernels)[];
