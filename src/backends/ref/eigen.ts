/** Scalar oracle of the eigen kernels (see `../../kernels/eigen.ts`). */
import type { EigenKernels } from '../../kernels/eigen.js';
import type { Heap } from './heap.js';

export class RefEigen implements EigenKernels {
  constructor(protected readonly heap: Heap) {}
}
