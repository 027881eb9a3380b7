/**
 * `wasm`: the AssemblyScript SIMD kernels (`assembly/`), compiled to `fisheropt.wasm`, instantiated
 * over the arena's memory. The module imports its memory and allocates nothing: JS owns the layout.
 *
 * Loading: by default the `.wasm` is found next to this package's JS through `import.meta.url`. For
 * bundlers and browsers, pass the bytes, a URL or a compiled `WebAssembly.Module` explicitly
 * (`createOptimizer({ wasm })` or `setWasmSource()`).
 */
import { FisheroptError } from '../errors.js';
import { KERNEL_NAMES, type Kernels } from '../kernels.js';

export type WasmSource = BufferSource | URL | string | WebAssembly.Module;

let defaultSource: WasmSource | undefined;
const compiled = new Map<unknown, Promise<WebAssembly.Module>>();

/** The URL of the `.wasm` shipped beside this package's JS. */
export function defaultWasmUrl(): URL {
  return new URL('../fisheropt.wasm', import.meta.url);
}

/** Use `source` whenever no source is given explicitly (bytes, URL or compiled module). */
export function setWasmSource(source: WasmSource | undefined): void {
  defaultSource = source;
}

async function fetchBytes(url: URL): Promise<ArrayBuffer | Uint8Array> {
  if (url.protocol === 'file:') {
    // Node (and Deno/Bun): read from disk. Kept behind a dynamic import so browsers never load it.
    const fs = await import('node:fs/promises');
    return fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url.href} failed with HTTP ${res.status}`);
  return res.arrayBuffer();
}

/** Compile (once per source) the kernel module. */
export function loadWasmModule(source: WasmSource | undefined = defaultSource): Promise<WebAssembly.Module> {
  const key = source ?? 'default';
  let p = compiled.get(key);
  if (!p) {
    p = (async () => {
      if (source instanceof WebAssembly.Module) return source;
      let bytes: BufferSource;
      if (source === undefined || typeof source === 'string' || source instanceof URL) {
        const url = source === undefined ? defaultWasmUrl() : new URL(source, import.meta.url);
        bytes = (await fetchBytes(url)) as BufferSource;
      } else {
        bytes = source;
      }
      if (!WebAssembly.validate(bytes)) {
        throw new Error('this engine cannot validate fisheropt.wasm (WebAssembly SIMD is required)');
      }
      return WebAssembly.compile(bytes);
    })();
    p.catch(() => compiled.delete(key));
    compiled.set(key, p);
  }
  return p;
}

/** True when the kernel module can be compiled here (WebAssembly with SIMD, module found). */
export async function wasmAvailable(source?: WasmSource): Promise<boolean> {
  try {
    await loadWasmModule(source);
    return true;
  } catch {
    return false;
  }
}

/** The wasm export of a kernel: its name in snake_case with an `_f32` suffix (`adafactorRowVar` → `adafactor_row_var_f32`). */
export const wasmExportName = (kernel: string): string => `${kernel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_f32`;

/** Instantiate the kernels over `memory` (the arena's). */
export function instantiateWasm(module: WebAssembly.Module, memory: WebAssembly.Memory): Kernels {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new FisheroptError('BAD_STATE', 'a wasm kernel aborted');
      },
    },
  });
  const out: Record<string, unknown> = {};
  for (const name of KERNEL_NAMES) {
    const fn = instance.exports[wasmExportName(name)];
    if (typeof fn !== 'function') throw new FisheroptError('BACKEND_UNAVAILABLE', `fisheropt.wasm lacks the kernel ${wasmExportName(name)} (stale build?)`);
    out[name] = fn;
  }
  return out as unknown as Kernels;
}
