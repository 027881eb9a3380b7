/** Scalar oracle of the gemm kernels (see `../../kernels/gemm.ts`). */
import type { GemmKernels } from '../../kernels/gemm.js';
import type { Heap } from './heap.js';

export class RefGemm implements GemmKernels {
  constructor(protected readonly heap: Heap) {}
}
