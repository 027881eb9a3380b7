/** Backend selection: `ref` (scalar oracle), `wasm` (SIMD kernels), or `auto` (the fastest available). */
import type { Arena } from '../arena.js';
import { FisheroptError } from '../errors.js';
import type { Kernels } from '../kernels.js';
import { refKernels } from './ref.js';
import { instantiateWasm, loadWasmModule, type WasmSource } from './wasm.js';

export type BackendName = 'ref' | 'wasm';
export type BackendChoice = BackendName | 'auto';
export const BACKENDS: readonly BackendChoice[] = ['auto', 'wasm', 'ref'];

export interface Backend {
  readonly name: BackendName;
  readonly kernels: Kernels;
}

/** Create the kernels of `choice` over the arena. `auto` picks `wasm` when it loads, else `ref`. */
export async function createBackend(choice: BackendChoice, arena: Arena, wasm?: WasmSource): Promise<Backend> {
  if (!BACKENDS.includes(choice)) {
    throw new FisheroptError('UNKNOWN_BACKEND', `unknown backend ${JSON.stringify(choice)}; expected one of ${BACKENDS.join(', ')}`);
  }
  if (choice === 'ref') return { name: 'ref', kernels: refKernels(arena.memory) };
  let module: WebAssembly.Module;
  try {
    module = await loadWasmModule(wasm);
  } catch (e) {
    if (choice === 'auto') return { name: 'ref', kernels: refKernels(arena.memory) };
    throw new FisheroptError('BACKEND_UNAVAILABLE', `the wasm backend could not be loaded: ${(e as Error).message}`);
  }
  return { name: 'wasm', kernels: instantiateWasm(module, arena.memory) };
}
