/** Test problems shared by the matrix-optimizer tests. */
import { randomF32 } from './rng.js';

/**
 * Least squares ½·mean‖A·W − B‖² over k samples with A (k×m) random and B = A·W* for a random W* (m×n).
 * Returns f(W) = [loss, gradient] with the gradient in f32; `f.wStar` is W*.
 */
export function leastSquares(k: number, m: number, n: number, seed: number) {
  const a = randomF32(k * m, seed), wStar = randomF32(m * n, seed + 1);
  const b = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let p = 0; p < m; p++) for (let j = 0; j < n; j++) b[i * n + j] += a[i * m + p] * wStar[p * n + j];
  const f = (w: Float32Array): [number, Float32Array] => {
    const r = new Float64Array(k * n);
    for (let i = 0; i < k; i++) for (let p = 0; p < m; p++) for (let j = 0; j < n; j++) r[i * n + j] += a[i * m + p] * w[p * n + j];
    let loss = 0;
    for (let x = 0; x < k * n; x++) { r[x] -= b[x]; loss += r[x] * r[x]; }
    const g = new Float32Array(m * n);
    for (let i = 0; i < k; i++) for (let p = 0; p < m; p++) for (let j = 0; j < n; j++) g[p * n + j] += (a[i * m + p] * r[i * n + j]) / k;
    return [loss / (2 * k), g];
  };
  return Object.assign(f, { wStar });
}
