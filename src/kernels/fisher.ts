/**
 * Fused kernels of the fisher optimizers (RACS, Alice, Alice-0, GaLore (Gong et al. 2025, arXiv 2502.07752)).
 * Conventions as in `./elementwise.ts`.
 */
export interface FisherKernels {
}

export const FISHER_KERNELS = [] as const satisfies readonly (keyof FisherKernels)[];
