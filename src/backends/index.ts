/**
 * Backend selection: `ref` (scalar oracle), `wasm` (SIMD kernels, one thread), `pool` (the wasm
 * kernels on a worker pool over shared memory, Node), `webgpu` (WGSL kernels on a GPU through
 * WebGPU; `./webgpu/`), or `auto` (`wasm` when it loads, else `ref`; `pool` and `webgpu` are opt-in
 * because their `step()` returns a promise). `webgpu` without an adapter falls back to `auto`'s choice
 * and says why in `fallbackReason`.
 */
import type { Arena } from '../arena.js';
import { FisheroptError } from '../errors.js';
import type { Kernels } from '../kernels.js';
import type { PoolOptions, PoolRuntime } from './pool/index.js';
import type { GpuRuntime } from './webgpu/runtime.js';
import { refKernels } from './ref.js';
import { instantiateWasm, loadWasmModule, type WasmSource } from './wasm.js';

export type BackendName = 'ref' | 'wasm' | 'pool' | 'webgpu';
export type BackendChoice = BackendName | 'auto';
export const BACKENDS: readonly BackendChoice[] = ['auto', 'wasm', 'ref', 'pool', 'webgpu'];

export interface Backend {
  readonly name: BackendName;
  /** Kernels on the calling thread (for `pool`: the shared-memory build, one thread). */
  readonly kernels: Kernels;
  /** The worker pool (`pool` only). */
  readonly pool?: PoolRuntime;
  /** The device runtime (`webgpu` only); `kernels` then record dispatches on it. */
  readonly gpu?: GpuRuntime;
  /** Why `webgpu` was asked for and another backend was chosen. */
  readonly fallbackReason?: string;
}

export function checkBackend(choice: unknown): asserts choice is BackendChoice {
  if (!BACKENDS.includes(choice as BackendChoice)) {
    throw new FisheroptError('UNKNOWN_BACKEND', `unknown backend ${JSON.stringify(choice)}; expected one of ${BACKENDS.join(', ')}`);
  }
}

/**
 * Create the kernels of `choice` over the arena. `pool` needs a shared arena and one kernel scratch
 * region per helper thread (`helperScratch`).
 */
export async function createBackend(
  choice: BackendChoice, arena: Arena, wasm?: WasmSource, pool?: PoolOptions & { helperScratch: number[] },
): Promise<Backend> {
  checkBackend(choice);
  if (choice === 'ref') return createBackendSync('ref', arena);
  if (choice === 'webgpu') {
    const { acquireDevice } = await import('./webgpu/device.js');
    const got = await acquireDevice();
    if (!got.device) {
      const host = await createBackend('auto', arena, wasm);
      return { ...host, fallbackReason: `the webgpu backend is unavailable (${got.reason}); using ${host.name}` };
    }
    const [{ GpuRuntime }, { webgpuKernels }] = await Promise.all([import('./webgpu/runtime.js'), import('./webgpu/kernels.js')]);
    // The decompositions run on the host kernels (wasm, else ref) over the host mirror.
    const host = await createBackend('auto', arena, wasm);
    const gpu = new GpuRuntime(got.device, got.description, arena.memory);
    return { name: 'webgpu', kernels: webgpuKernels(gpu, host.kernels).kernels, gpu };
  }
  if (choice === 'pool') {
    if (!arena.shared) throw new FisheroptError('BAD_STATE', 'the pool backend needs a shared arena');
    let module: WebAssembly.Module;
    try {
      module = await loadWasmModule(wasm, 'mt');
    } catch (e) {
      throw new FisheroptError('BACKEND_UNAVAILABLE', `the pool backend could not load its kernels: ${(e as Error).message}`);
    }
    const { PoolRuntime } = await import('./pool/index.js');
    const runtime = new PoolRuntime(module, arena.memory, pool?.helperScratch ?? [], pool);
    await runtime.whenReady();
    return { name: 'pool', kernels: instantiateWasm(module, arena.memory), pool: runtime };
  }
  let module: WebAssembly.Module;
  try {
    module = await loadWasmModule(wasm);
  } catch (e) {
    if (choice === 'auto') return { name: 'ref', kernels: refKernels(arena.memory) };
    throw new FisheroptError('BACKEND_UNAVAILABLE', `the wasm backend could not be loaded: ${(e as Error).message}`);
  }
  return createBackendSync('wasm', arena, module);
}

/** Create `ref` kernels, or `wasm` kernels from an already-compiled module (`loadWasmModule()`), without awaiting. */
export function createBackendSync(choice: 'ref' | 'wasm', arena: Arena, module?: WebAssembly.Module): Backend {
  if (choice === 'ref') return { name: 'ref', kernels: refKernels(arena.memory) };
  if (choice !== 'wasm') throw new FisheroptError('UNKNOWN_BACKEND', `createBackendSync takes 'ref' or 'wasm', got ${JSON.stringify(choice)}`);
  if (!(module instanceof WebAssembly.Module)) throw new FisheroptError('BAD_OPTION', 'the wasm backend needs a compiled WebAssembly.Module (from loadWasmModule())');
  return { name: 'wasm', kernels: instantiateWasm(module, arena.memory) };
}
