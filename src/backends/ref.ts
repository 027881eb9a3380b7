/**
 * `ref`: the scalar TypeScript oracle. Written for clarity: one element at a time, `Math.fround` after
 * every f32 operation, reductions in the documented lane order (see `../kernels.ts`). Every other
 * backend is tested against this one. One module per kernel family under `./ref/`.
 */
import { KERNEL_NAMES, type Kernels } from '../kernels.js';
import { RefEigen } from './ref/eigen.js';
import { RefElementwise } from './ref/elementwise.js';
import { RefFisher } from './ref/fisher.js';
import { RefGemm } from './ref/gemm.js';
import { RefLinalg } from './ref/linalg.js';
import { RefReduce } from './ref/reduce.js';
import { Heap, type RefMemory } from './ref/heap.js';

export type { RefMemory } from './ref/heap.js';

/** All reference kernels over one memory. */
export function refKernels(memory: RefMemory): Kernels {
  const heap = new Heap(memory);
  const families: object[] = [new RefElementwise(heap), new RefReduce(heap), new RefGemm(heap), new RefLinalg(heap), new RefFisher(heap), new RefEigen(heap)];
  const out: Record<string, unknown> = {};
  for (const name of KERNEL_NAMES) {
    const fam = families.find((x) => typeof (x as Record<string, unknown>)[name] === 'function');
    if (!fam) throw new Error(`ref backend: kernel ${name} has no implementation`);
    out[name] = ((fam as Record<string, unknown>)[name] as (...a: unknown[]) => unknown).bind(fam);
  }
  return out as unknown as Kernels;
}

/** `new RefKernels(memory)`: the same as `refKernels(memory)`, as a class. */
export const RefKernels = function RefKernels(this: unknown, memory: RefMemory) {
  return refKernels(memory);
} as unknown as new (memory: RefMemory) => Kernels;
