/** Scalar oracle of the reduce kernels (see `../../kernels/reduce.ts`). */
import type { ReduceKernels } from '../../kernels/reduce.js';
import type { Heap } from './heap.js';

export class RefReduce implements ReduceKernels {
  constructor(protected readonly heap: Heap) {}
}
