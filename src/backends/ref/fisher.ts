/** Scalar oracle of the fisher kernels (see `../../kernels/fisher.ts`). */
import type { FisherKernels } from '../../kernels/fisher.js';
import type { Heap } from './heap.js';

export class RefFisher implements FisherKernels {
  constructor(protected readonly heap: Heap) {}
}
