import type { Kernels, Ptr } from '../kernels.js';
import type { OptionSchema, Options } from '../options.js';

/** One state buffer of a parameter (f32). Serialized as `${param}/${name}`. */
export interface SlotSpec {
  readonly name: string;
  readonly length: number;
}

/** What an optimizer sees of one parameter during a step: pointers into the arena. */
export interface ParamRef {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly p: Ptr;
  readonly g: Ptr;
  /** Slot pointers by slot name, as declared by `slots()`. */
  readonly slots: Readonly<Record<string, Ptr>>;
}

export interface StepContext {
  readonly kernels: Kernels;
  /** The 1-based number of the step being applied (torch's `state['step']` after its increment). */
  readonly step: number;
  /** This group's lr for this step (schedule applied). */
  readonly lr: number;
  /** Scratch for kernels: at least `scratchBytes()` bytes, 16-byte aligned, contents undefined. */
  readonly scratch: Ptr;
  /**
   * The arena's memory. Optimizers read and write arena values on the host through `host` instead,
   * which every backend supports (on `webgpu` this memory is not current during a step).
   */
  readonly memory: WebAssembly.Memory;
  /** Host reads and writes of arena values (small vectors and scalars: a factor's mean, a limiter's φ). */
  readonly host: HostArena;
}

/**
 * Arena values on the host during a step. `read` gives the values as every kernel called before it left
 * them (a view on CPU backends, a copy read back from the device on `webgpu`; treat it as read-only);
 * `write` stores values that every kernel called after it sees.
 */
export interface HostArena {
  read(ptr: Ptr, length: number): Float32Array;
  write(ptr: Ptr, values: ArrayLike<number>): void;
}

/** `HostArena` over a memory that is current on the host (ref, wasm, pool). */
export function memoryHost(memory: { readonly buffer: ArrayBufferLike }): HostArena {
  return {
    read: (ptr, length) => new Float32Array(memory.buffer, ptr, length),
    write: (ptr, values) => new Float32Array(memory.buffer, ptr, values.length).set(values),
  };
}

/**
 * An optimizer written once against the kernel set. The header comment of each implementation states
 * the update rule, the source it follows, and its state formula (`slots`).
 */
export interface OptimizerDef {
  readonly name: string;
  readonly summary: string;
  readonly schema: OptionSchema;
  /**
   * Matrix optimizers update 2-D weights only; routing sends every other parameter (and names matching
   * the fallback pattern) to the fallback optimizer. Elementwise optimizers take every shape.
   */
  readonly matrixOnly: boolean;
  /** Whether this optimizer can update a parameter of this shape. */
  handles(shape: readonly number[]): boolean;
  /** Cross-option checks beyond the schema (e.g. Nesterov needs momentum); an error text or null. */
  validate?(opts: Options): string | null;
  /** State buffers for one parameter: their sum of lengths × 4 is the documented state formula. */
  slots(shape: readonly number[], opts: Options): SlotSpec[];
  /** Scratch bytes one step of this parameter needs (shared by all parameters). */
  scratchBytes?(shape: readonly number[], opts: Options): number;
  /**
   * Estimated work of one update at this (1-based) step of the parameter, in units of about one flop or
   * one byte of memory traffic; refresh steps cost more. Only for balancing parameters across threads
   * (default 32 per element: an elementwise update's traffic).
   */
  cost?(shape: readonly number[], opts: Options, step: number): number;
  /** Apply one update to one parameter, reading its gradient, in place. */
  step(ctx: StepContext, param: ParamRef, opts: Options): void;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
