/** One arena with the `ref` and `wasm` kernels over it, and helpers to place and read f32 data. */
import { beforeAll } from 'vitest';
import { Arena } from '../../dist/arena.js';
import { refKernels } from '../../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../../dist/backends/wasm.js';
import type { Kernels } from '../../dist/kernels.js';

export interface KernelBench {
  readonly arena: Arena;
  /** `ref` and `wasm`, filled in by a `beforeAll` hook. */
  readonly backends: Record<'ref' | 'wasm', Kernels>;
  /** Copy `data` into a fresh arena region (as f32); returns its byte offset. */
  put(data: ArrayLike<number>): number;
  /** The n f32 values at `ptr`, copied out as f64. */
  read(ptr: number, n: number): Float64Array;
}

export function kernelBench(bytes: number): KernelBench {
  const arena = new Arena({ initialBytes: bytes });
  const backends = {} as Record<'ref' | 'wasm', Kernels>;
  beforeAll(async () => {
    backends.ref = refKernels(arena.memory);
    backends.wasm = instantiateWasm(await loadWasmModule(), arena.memory);
  });
  return {
    arena,
    backends,
    put(data) {
      const p = arena.alloc(4 * data.length);
      new Float32Array(arena.buffer, p, data.length).set(data);
      return p;
    },
    read: (p, n) => Float64Array.from(new Float32Array(arena.buffer, p, n)),
  };
}
