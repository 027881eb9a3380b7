/**
 * The arena: one `WebAssembly.Memory` holding every parameter, gradient, optimizer-state slot and
 * kernel scratch buffer. The library owns this memory; users get `Float32Array` views into it.
 *
 * Layout is planned by the optimizer at creation: a reserved first page (address 0 is never a tensor,
 * and nothing of the wasm module's own lives there), then 16-byte aligned regions handed out by a bump
 * allocator. The memory grows only between steps, never during one; views must be re-created after
 * growth (`Optimizer.param()` / `grad()` always return fresh views).
 */
import { FisheroptError } from './errors.js';

export const PAGE_BYTES = 65536;
/** wasm32 addresses at most 4 GiB: 65536 pages. */
export const MAX_PAGES = 65536;
/** Bytes reserved at the bottom of the arena. */
export const RESERVED_BYTES = PAGE_BYTES;
export const ALIGN = 16;

export const alignUp = (x: number, a: number = ALIGN): number => Math.ceil(x / a) * a;

export interface ArenaOptions {
  /** Back the arena by a SharedArrayBuffer (for worker pools). Default false. */
  shared?: boolean;
  /** Bytes to reserve up front (beyond the reserved page); the memory is created this large. */
  initialBytes?: number;
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  private top = RESERVED_BYTES;

  constructor(opts: ArenaOptions = {}) {
    this.shared = opts.shared ?? false;
    const pages = Arena.pagesFor(RESERVED_BYTES + (opts.initialBytes ?? 0));
    this.memory = this.shared
      ? new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: pages });
  }

  /** Pages needed for `bytes`, or a clear error past the wasm32 limit. */
  static pagesFor(bytes: number): number {
    const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
    if (pages > MAX_PAGES) {
      throw new FisheroptError(
        'ARENA_TOO_LARGE',
        `the arena needs ${bytes} bytes (${pages} pages of 64 KiB) but wasm32 memory is limited to 4 GiB (${MAX_PAGES} pages)`,
      );
    }
    return pages;
  }

  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  /** Bytes in use (the bump pointer). */
  get used(): number {
    return this.top;
  }

  /** Allocate `bytes` (16-byte aligned), growing the memory if needed. Returns the byte offset. */
  alloc(bytes: number): number {
    const ptr = alignUp(this.top);
    const end = ptr + alignUp(Math.max(bytes, 0));
    this.ensure(end);
    this.top = end;
    return ptr;
  }

  /** Make sure the memory holds at least `bytes` bytes. */
  ensure(bytes: number): void {
    const need = Arena.pagesFor(bytes);
    const have = this.memory.buffer.byteLength / PAGE_BYTES;
    if (need > have) {
      try {
        this.memory.grow(need - have);
      } catch (e) {
        throw new FisheroptError('ARENA_GROW_FAILED', `could not grow the arena to ${bytes} bytes: ${(e as Error).message}`);
      }
    }
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
}
