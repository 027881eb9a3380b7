/**
 * Work estimates of one parameter update (`OptimizerDef.cost`), in units of about one f32 flop or one
 * byte of memory traffic, used only to balance parameter updates across threads. Decompositions run
 * in f64 (half the SIMD lanes), which their weights include; the constants are rough operation counts,
 * not measurements, and only their ratios matter.
 */
import { numel } from './types.js';

/** Memory-bound elementwise update touching `bytes` bytes per element. */
export const perElement = (bytes: number) => (shape: readonly number[]): number => bytes * numel(shape);

/** Whether step t (1-based) refreshes with interval K (t = 1, K+1, 2K+1, …). */
export const refreshes = (t: number, interval: unknown): boolean => (t - 1) % (interval as number) === 0;

/** Matrix dims: d the smaller side, N the larger. */
export function sides(shape: readonly number[]): { d: number; N: number } {
  const [m, n] = shape;
  return { d: Math.min(m, n), N: Math.max(m, n) };
}

/** Symmetric eigendecomposition of an n×n matrix. */
export const eighCost = (n: number): number => 40 * n ** 3;

/** SVD of a d×N matrix (d ≤ N): thin, or with the complete N×N basis too. */
export const svdCost = (d: number, N: number, full = false): number => 40 * d * d * N + (full ? 16 * N ** 3 : 0);

/** Householder QR of an m×r matrix with Q formed. */
export const qrCost = (m: number, r: number): number => 16 * m * r * r;
