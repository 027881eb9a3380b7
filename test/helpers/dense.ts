/** Small dense f64 helpers for tests (row-major number arrays). */
import { normal, rng } from './rng.js';

/** C = A·B for A (m×k), B (k×n). */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
    const x = a[i * k + p];
    for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
  }
  return c;
}

export function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** A random n×n orthogonal matrix (Gram–Schmidt on normal samples, twice for accuracy). */
export function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = normal(rng(seed));
  const q = Float64Array.from({ length: n * n }, g);
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let r = 0; r < n; r++) d += q[r * n + i] * q[r * n + j];
        for (let r = 0; r < n; r++) q[r * n + j] -= d * q[r * n + i];
      }
      let s = 0;
      for (let r = 0; r < n; r++) s += q[r * n + j] ** 2;
      s = Math.sqrt(s);
      for (let r = 0; r < n; r++) q[r * n + j] /= s;
    }
  }
  return q;
}

/** Q·diag(λ)·Qᵀ for a random orthogonal Q. */
export function symmetricWithEigenvalues(lambda: number[], seed: number): Float64Array {
  const n = lambda.length;
  const q = randomOrthogonal(n, seed);
  const ql = Float64Array.from(q, (x, idx) => x * lambda[idx % n]);
  return matmul(ql, transpose(q, n, n), n, n, n);
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi in f64, descending. */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): number[] {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i * n + j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) {
      const apq = m[p * n + q];
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1), s = t * c;
      for (let k = 0; k < n; k++) {
        const akp = m[k * n + p], akq = m[k * n + q];
        m[k * n + p] = c * akp - s * akq;
        m[k * n + q] = s * akp + c * akq;
      }
      for (let k = 0; k < n; k++) {
        const apk = m[p * n + k], aqk = m[q * n + k];
        m[p * n + k] = c * apk - s * aqk;
        m[q * n + k] = s * apk + c * aqk;
      }
    }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]).sort((x, y) => y - x);
}

/** Singular values of an m×n matrix, descending (√ of the eigenvalues of the smaller Gram). */
export function singularValues(a: ArrayLike<number>, m: number, n: number): number[] {
  const gram = m <= n ? matmul(a, transpose(a, m, n), m, n, m) : matmul(transpose(a, m, n), a, n, m, n);
  return symmetricEigenvalues(gram, Math.min(m, n)).map((x) => Math.sqrt(Math.max(0, x)));
}
