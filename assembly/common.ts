/**
 * Shared helpers for the SIMD kernels. Everything here is `@inline` and stateless: the module keeps no
 * mutable globals, no statics and no data segments (it may be instantiated in several threads over one
 * shared memory). Semantics follow `src/kernels.ts` exactly; `src/backends/ref.ts` is the oracle.
 *
 * Bit-exactness rules used throughout:
 * - every f32 operation is a plain IEEE f32 op (`f32x4.*` in vector loops, `f32.*` in scalar tails), in
 *   the documented order; no FMA, no relaxed SIMD, no reassociation;
 * - `max` is `f32x4.max` / `f32.max` (NaN-propagating, −0 < +0), like `Math.max`;
 * - reductions square in f64 (exact for an f32 input) and keep four lane sums, each added in order.
 *
 * Loop shape: main loops handle 8 elements per iteration (two 4-lane steps), then at most one 4-lane
 * step, then a scalar tail of n % 4. The unroll is for V8: TurboFan re-materialises `splat` constants
 * inside the loop body (port-5 shuffles on x86) and checks for interrupts once per iteration, so a
 * 4-element loop runs ~30% slower than this shape in cache. It does not change any operation order:
 * elementwise kernels are independent per element, and reductions keep adding to the same four lanes in
 * increasing index order.
 */

// Flag bits: mirror `KernelFlag` in src/kernels.ts.
export const MAXIMIZE: i32 = 1;
export const LERP_SMALL: i32 = 2;
export const L2: i32 = 4;
export const MOMENTUM: i32 = 8;
export const FIRST: i32 = 16;
export const NESTEROV: i32 = 32;
export const AMSGRAD: i32 = 64;
export const KEEP_M: i32 = 128;

/**
 * Compile-time switches for specialised loops. A kernel body takes type arguments `On` / `Off` and tests
 * them with `isOn<T>()`, a compile-time constant: every instantiation is its own branch-free loop, and
 * the exported kernel picks one instantiation from `flags` outside the loop. (Plain boolean arguments to
 * `@inline` bodies are not enough: the optimizer folds the near-identical copies back into one loop.)
 */
export type On = i32;
export type Off = f32;

// @ts-ignore: decorator
@inline export function isOn<T>(): bool {
  return isInteger<T>();
}

/** Sign-bit mask applied to the gradient: flips its sign under MAXIMIZE (same bits as `f32.neg`). */
// @ts-ignore: decorator
@inline export function signMask(flags: i32): u32 {
  return (flags & MAXIMIZE) != 0 ? 0x80000000 : 0;
}

/** `x` with its sign bit xor-ed with `mask` (negation when mask is the sign bit). */
// @ts-ignore: decorator
@inline export function flipSign(x: f32, mask: u32): f32 {
  return reinterpret<f32>(reinterpret<u32>(x) ^ mask);
}

/** PyTorch's lerp in f32: a + w·(b − a) when SMALL is `On`, else b − (b − a)·(1 − w). */
// @ts-ignore: decorator
@inline export function lerp<SMALL>(a: f32, b: f32, w: f32, omw: f32): f32 {
  const d: f32 = b - a;
  if (isOn<SMALL>()) return a + w * d;
  return b - d * omw;
}

/** Four-lane `lerp`. */
// @ts-ignore: decorator
@inline export function lerpV<SMALL>(a: v128, b: v128, w: v128, omw: v128): v128 {
  const d = f32x4.sub(b, a);
  if (isOn<SMALL>()) return f32x4.add(a, f32x4.mul(w, d));
  return f32x4.sub(b, f32x4.mul(d, omw));
}

/** Squares (in f64) of lanes 0 and 1 of an f32x4. */
// @ts-ignore: decorator
@inline export function sqLo(x: v128): v128 {
  const d = f64x2.promote_low_f32x4(x);
  return f64x2.mul(d, d);
}

/** Squares (in f64) of lanes 2 and 3 of an f32x4. */
// @ts-ignore: decorator
@inline export function sqHi(x: v128): v128 {
  const d = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3));
  return f64x2.mul(d, d);
}

/** Square of an f32 in f64 (exact). */
// @ts-ignore: decorator
@inline export function sq(x: f32): f64 {
  const d = <f64>x;
  return d * d;
}

/** Byte offset of f32 element `i`. */
// @ts-ignore: decorator
@inline export function off4(i: i32): usize {
  return <usize>i << 2;
}

/** Byte offset of f64 element `i`. */
// @ts-ignore: decorator
@inline export function off8(i: i32): usize {
  return <usize>i << 3;
}

/** `normScale`'s scale: f32(√(t/s)) with the quotient and root in f64; 0 for s = 0 or beyond the f32 range. */
// @ts-ignore: decorator
@inline export function normScaleOf(s: f64, t: f64): f32 {
  if (s == 0) return 0;
  const r = <f32>Math.sqrt(t / s);
  return r == Infinity ? 0 : r;
}
