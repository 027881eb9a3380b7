/** Scalar oracle of the linalg kernels (see `../../kernels/linalg.ts`). */
import type { LinalgKernels } from '../../kernels/linalg.js';
import type { Heap } from './heap.js';

export class RefLinalg implements LinalgKernels {
  constructor(protected readonly heap: Heap) {}
}
