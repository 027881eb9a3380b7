/**
 * The kernel set: the one list of kernel names, arguments and exact semantics, by family
 * (`./kernels/*.ts`). Every backend implements `Kernels`; `ref` is the oracle. Conventions are in
 * `./kernels/elementwise.ts`.
 */
import { EIGEN_KERNELS, type EigenKernels } from './kernels/eigen.js';
import { ELEMENTWISE_KERNELS, type ElementwiseKernels } from './kernels/elementwise.js';
import { FISHER_KERNELS, type FisherKernels } from './kernels/fisher.js';
import { GEMM_KERNELS, type GemmKernels } from './kernels/gemm.js';
import { LINALG_KERNELS, type LinalgKernels } from './kernels/linalg.js';
import { REDUCE_KERNELS, type ReduceKernels } from './kernels/reduce.js';

export type { Ptr } from './kernels/ptr.js';
export { KernelFlag } from './kernels/elementwise.js';
export type { EigenKernels, ElementwiseKernels, FisherKernels, GemmKernels, LinalgKernels, ReduceKernels };

export type Kernels = ElementwiseKernels & ReduceKernels & GemmKernels & LinalgKernels & FisherKernels & EigenKernels;

/** Names of every kernel, for conformance tables, bindings and feature checks. */
export const KERNEL_NAMES: readonly (keyof Kernels)[] = [
  ...ELEMENTWISE_KERNELS, ...REDUCE_KERNELS, ...GEMM_KERNELS, ...LINALG_KERNELS, ...FISHER_KERNELS, ...EIGEN_KERNELS,
];
