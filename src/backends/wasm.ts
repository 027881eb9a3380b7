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

/** `st`: single-thread build over a plain memory; `mt`: the same kernels over a shared memory (threads). */
export type WasmVariant = 'st' | 'mt';

const defaultSources: Partial<Record<WasmVariant, WasmSource>> = {};
const compiled = new Map<unknown, Promise<WebAssembly.Module>>();

/** The URL of the `.wasm` shipped beside this package's JS. */
export function defaultWasmUrl(variant: WasmVariant = 'st'): URL {
  return new URL(variant === 'mt' ? '../fisheropt-mt.wasm' : '../fisheropt.wasm', import.meta.url);
}

/** Use `source` whenever no source is given explicitly (bytes, URL or compiled module) for that build. */
export function setWasmSource(source: WasmSource | undefined, variant: WasmVariant = 'st'): void {
  defaultSources[variant] = source;
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

/** Compile (once per source) the kernel module of `variant`. */
export function loadWasmModule(source?: WasmSource, variant: WasmVariant = 'st'): Promise<WebAssembly.Module> {
  const src = source ?? defaultSources[variant];
  const key = src ?? `default:${variant}`;
  let p = compiled.get(key);
  if (!p) {
    p = (async () => {
      if (src instanceof WebAssembly.Module) return src;
      let bytes: BufferSource;
      if (src === undefined || typeof src === 'string' || (src as object) instanceof URL) {
        const url = src === undefined ? defaultWasmUrl(variant) : new URL(src as string | URL, import.meta.url);
        bytes = (await fetchBytes(url)) as BufferSource;
      } else {
        bytes = src;
      }
      if (!WebAssembly.validate(bytes)) {
        throw new Error(`this engine cannot validate the ${variant === 'mt' ? 'shared-memory ' : ''}kernel module (WebAssembly SIMD${variant === 'mt' ? ' and threads are' : ' is'} required)`);
      }
      return WebAssembly.compile(bytes);
    })();
    p.catch(() => compiled.delete(key));
    compiled.set(key, p);
  }
  return p;
}

/** True when the kernel module can be compiled here (WebAssembly with SIMD, module found). */
export async function wasmAvailable(source?: WasmSource, variant: WasmVariant = 'st'): Promise<boolean> {
  try {
    await loadWasmModule(source, variant);
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
