/**
 * linalg kernels: Householder QR (factor, form Q, apply Q), symmetric eigendecomposition, SVD. The
 * contract, algorithms and tolerances are in `src/kernels/linalg.ts`; the oracle is
 * `src/backends/ref/linalg.ts`.
 *
 * Each kernel validates its arguments (status 3) and checks its input for NaN/±Infinity (status 1)
 * before writing anything, copies the input to f64 working arrays in `scratch`, computes there and
 * rounds to f32 once at the end. Scratch layouts follow the `*ScratchBytes` helpers (16-byte aligned
 * regions in the order they are counted there). Stateless: no globals, no allocation.
 *
 * Modules: `linalg-blas.ts` (f64 dot/axpy/micro-kernel/transposes), `linalg-qr.ts` (blocked
 * Householder), `linalg-eig.ts` (tridiagonalization, QL, sorting).
 */
import { at4, at8, fill64, finiteF32, finiteRow, gemm64, loadF32, storeF32, transpose64 } from './linalg-blas';
import { BAD_ARGUMENT, NON_FINITE, OK, eighBytes, eighCore, eighRegion } from './linalg-eig';
import { al16, applyQCore, formQCore, ldPad, qrFactorCore, workPack } from './linalg-qr';

/** U = B·Σ⁻¹ without a QR when every σᵢ ≥ DIRECT_U·σ₁ (thin, or square, SVD). */
// @ts-ignore: decorator
@inline const DIRECT_U: f64 = 1e-4;

// @ts-ignore: decorator
@inline function f64Bytes(count: i32): usize {
  return al16(<usize>max(count, 0) << 3);
}

/** Reflectors below the diagonal of the first k columns of the m-row f32 A, and τ, all finite? */
function finiteReflectors(a: usize, lda: i32, m: i32, k: i32, tau: usize): bool {
  if (!finiteRow(tau, k)) return false;
  for (let i = 1; i < m; i++) if (!finiteRow(at4(a, i * lda), min(i, k))) return false;
  return true;
}

// @ts-ignore: decorator
@inline function misaligned4(p: usize): bool {
  return (p & 3) != 0;
}

export function qr_factor_f32(a: usize, lda: i32, m: i32, n: i32, tau: usize, scratch: usize): i32 {
  if (m < 0 || n < 0 || lda < n || misaligned4(a) || misaligned4(tau) || (scratch & 7) != 0) return BAD_ARGUMENT;
  if (!finiteF32(a, lda, m, n)) return NON_FINITE;
  const k = min(m, n);
  const ldf = ldPad(n);
  const af = scratch, t64 = af + f64Bytes(m * ldf), work = t64 + f64Bytes(k);
  loadF32(af, ldf, a, lda, m, n, false);
  qrFactorCore(af, ldf, m, n, t64, work);
  storeF32(a, lda, af, ldf, m, n, false);
  for (let j = 0; j < k; j++) store<f32>(at4(tau, j), <f32>load<f64>(at8(t64, j)));
  return OK;
}

export function qr_form_q_f32(q: usize, ldq: i32, a: usize, lda: i32, m: i32, n: i32, cols: i32, tau: usize, scratch: usize): i32 {
  if (m < 0 || n < 0 || cols < 0 || cols > m || lda < n || ldq < cols) return BAD_ARGUMENT;
  if (misaligned4(q) || misaligned4(a) || misaligned4(tau) || (scratch & 7) != 0) return BAD_ARGUMENT;
  const k = min(m, n);
  if (!finiteReflectors(a, lda, m, k, tau)) return NON_FINITE;
  const ldf = ldPad(cols);
  const qf = scratch, work = qf + f64Bytes(m * ldf);
  formQCore<f32>(qf, ldf, a, 1, lda, m, k, cols, tau, work);
  storeF32(q, ldq, qf, ldf, m, cols, false);
  return OK;
}

export function qr_apply_f32(c: usize, ldc: i32, a: usize, lda: i32, m: i32, kRefl: i32, tau: usize, p: i32, mode: i32, scratch: usize): i32 {
  const left = mode == 0 || mode == 1;
  if (m < 0 || kRefl < 0 || kRefl > m || p < 0 || lda < kRefl || mode < 0 || mode > 3) return BAD_ARGUMENT;
  const width = left ? p : m;
  if (ldc < width || misaligned4(c) || misaligned4(a) || misaligned4(tau) || (scratch & 7) != 0) return BAD_ARGUMENT;
  if (!finiteReflectors(a, lda, m, kRefl, tau)) return NON_FINITE;
  if (!finiteF32(c, ldc, left ? m : p, left ? p : m)) return NON_FINITE;
  // The m×p f64 working matrix holds the vectors Q acts on as columns: C (left) or Cᵀ (right, where
  // C·Q = (Qᵀ·Cᵀ)ᵀ).
  const ldf = ldPad(p);
  const cf = scratch, work = cf + f64Bytes(m * ldf);
  const trans = mode == 1 || mode == 2;
  if (left) loadF32(cf, ldf, c, ldc, m, p, false);
  else loadF32(cf, ldf, c, ldc, p, m, true);
  applyQCore<f32>(cf, ldf, a, 1, lda, m, kRefl, tau, p, trans, work);
  if (left) storeF32(c, ldc, cf, ldf, m, p, false);
  else storeF32(c, ldc, cf, ldf, p, m, true);
  return OK;
}

export function eigh_f32(v: usize, ldv: i32, w: usize, a: usize, lda: i32, n: i32, scratch: usize): i32 {
  if (n < 0 || lda < n || (v != 0 && ldv < n) || misaligned4(v) || misaligned4(w) || misaligned4(a) || (scratch & 7) != 0) return BAD_ARGUMENT;
  if (!finiteF32(a, lda, n, n)) return NON_FINITE;
  const s = eighRegion(scratch, n, 0), ld = ldPad(n);
  loadF32(s, ld, a, lda, n, n, false);
  // S ← (A + Aᵀ)/2, both triangles.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const pij = at8(s, i * ld + j), pji = at8(s, j * ld + i);
      const x = 0.5 * (load<f64>(pij) + load<f64>(pji));
      store<f64>(pij, x);
      store<f64>(pji, x);
    }
  }
  const st = eighCore(scratch, n, v != 0);
  if (st != OK) return st;
  const d = eighRegion(scratch, n, 2);
  for (let i = 0; i < n; i++) store<f32>(at4(w, i), <f32>load<f64>(at8(d, i)));
  if (v != 0) storeF32(v, ldv, eighRegion(scratch, n, 1), ld, n, n, true);
  return OK;
}

export function svd_f32(u: usize, ldu: i32, s: usize, vt: usize, ldvt: i32, a: usize, lda: i32, m: i32, n: i32, full: i32, scratch: usize): i32 {
  const big = max(m, n), k = min(m, n);
  const vectors = u != 0 || vt != 0;
  if (m < 0 || n < 0 || lda < n || (full != 0 && full != 1) || (u == 0) != (vt == 0)) return BAD_ARGUMENT;
  const ucols = full != 0 ? m : k;
  if (vectors && (ldu < ucols || ldvt < n)) return BAD_ARGUMENT;
  if (misaligned4(u) || misaligned4(s) || misaligned4(vt) || misaligned4(a) || (scratch & 7) != 0) return BAD_ARGUMENT;
  if (!finiteF32(a, lda, m, n)) return NON_FINITE;
  const tall = m >= n;
  const M = big, N = k, cols = full != 0 ? big : k;
  const ldn = ldPad(N), ldq = ldPad(cols);
  const x = scratch;
  const b = x + f64Bytes(M * ldn);
  const qf = b + f64Bytes(M * ldn);
  const sig = qf + f64Bytes(M * ldq);
  const tq = sig + f64Bytes(N);
  const eb = tq + f64Bytes(N);
  const work = eb + eighBytes(N);
  const pk = workPack(work, M); // the block work's GEMM packing region
  const g = eighRegion(eb, N, 0), y = eighRegion(eb, N, 1), d = eighRegion(eb, N, 2), tmp = eighRegion(eb, N, 5);
  // X = A (tall) or Aᵀ (wide), M×N; G = Xᵀ·X.
  loadF32(x, ldn, a, lda, m, n, !tall);
  // Lower triangle by column blocks (G[j:, j:j+w] = X[:, j:]ᵀ·X[:, j:j+w]), then mirrored.
  for (let j = 0; j < N; j += 128) {
    const w = min(128, N - j);
    gemm64(N - j, w, M, 1.0, at8(x, j), 1, ldn, at8(x, j), ldn, at8(g, j * ldn + j), ldn, false, pk);
  }
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) store<f64>(at8(g, i * ldn + j), load<f64>(at8(g, j * ldn + i)));
  const st = eighCore(eb, N, vectors);
  if (st != OK) return st;
  if (!vectors) {
    for (let i = 0; i < N; i++) store<f32>(at4(s, i), <f32>Math.sqrt(max(load<f64>(at8(d, i)), 0)));
    return OK;
  }
  // B = X·V (V = Yᵀ, formed in the free S region), σ_i = ‖b_i‖.
  transpose64(g, ldn, y, ldn, N, N);
  gemm64(M, N, N, 1.0, x, ldn, 1, g, ldn, b, ldn, false, pk);
  fill64(sig, N, 0);
  for (let r = 0; r < M; r++) {
    const br = at8(b, r * ldn);
    for (let j = 0; j < N; j++) {
      const z = load<f64>(at8(br, j));
      store<f64>(at8(sig, j), load<f64>(at8(sig, j)) + z * z);
    }
  }
  for (let j = 0; j < N; j++) store<f64>(at8(sig, j), Math.sqrt(load<f64>(at8(sig, j))));
  sortColumns(sig, N, b, ldn, M, y, g, qf, tmp);
  // Normalize the columns (divisor 1 where σ = 0), factor, form Q.
  for (let j = 0; j < N; j++) {
    const sj = load<f64>(at8(sig, j));
    store<f64>(at8(tmp, j), sj > 0 ? sj : 1);
  }
  for (let r = 0; r < M; r++) {
    const br = at8(b, r * ldn);
    let j = 0;
    for (; j + 2 <= N; j += 2) v128.store(at8(br, j), f64x2.div(v128.load(at8(br, j)), v128.load(at8(tmp, j))));
    if (j < N) store<f64>(at8(br, j), load<f64>(at8(br, j)) / load<f64>(at8(tmp, j)));
  }
  for (let i = 0; i < N; i++) store<f32>(at4(s, i), <f32>load<f64>(at8(sig, i)));
  // Well-conditioned and nothing to complete: U = B·Σ⁻¹ is orthonormal to ε₆₄·σ₁²/(σᵢσⱼ) ≤ 2e-8 (the
  // columns of Y are G-orthogonal to working precision); otherwise orthonormalize B by QR.
  const sMin = N > 0 ? load<f64>(at8(sig, N - 1)) : 0;
  if (cols == N && sMin > 0 && sMin >= DIRECT_U * load<f64>(at8(sig, 0))) {
    if (tall) {
      storeF32(u, ldu, b, ldn, M, N, false);
      storeF32(vt, ldvt, y, ldn, N, N, false);
    } else {
      storeF32(u, ldu, y, ldn, N, N, true);
      storeF32(vt, ldvt, b, ldn, N, M, true);
    }
    return OK;
  }
  qrFactorCore(b, ldn, M, N, tq, work);
  formQCore<f64>(qf, ldq, b, 1, ldn, M, N, cols, tq, work);
  // Signs: diag(R) ≥ 0.
  for (let j = 0; j < N; j++) store<f64>(at8(tmp, j), load<f64>(at8(b, j * ldn + j)) < 0 ? -1 : 1);
  for (let r = 0; r < M; r++) {
    const qr = at8(qf, r * ldq);
    let j = 0;
    for (; j + 2 <= N; j += 2) v128.store(at8(qr, j), f64x2.mul(v128.load(at8(qr, j)), v128.load(at8(tmp, j))));
    if (j < N) store<f64>(at8(qr, j), load<f64>(at8(qr, j)) * load<f64>(at8(tmp, j)));
  }
  if (tall) {
    storeF32(u, ldu, qf, ldq, M, cols, false);
    storeF32(vt, ldvt, y, ldn, N, N, false);
  } else {
    storeF32(u, ldu, y, ldn, N, N, true);
    storeF32(vt, ldvt, qf, ldq, cols, M, true);
  }
  return OK;
}

/**
 * Orders σ (N values) descending, stable, permuting the columns of B (M×N) and the rows of Y (N×N)
 * alike; a no-op unless rounding reordered nearly equal singular values. `ytmp` (N×N), `btmp` (M×N)
 * and `dtmp` (N) are free work.
 */
function sortColumns(sig: usize, N: i32, b: usize, ld: i32, M: i32, y: usize, ytmp: usize, btmp: usize, dtmp: usize): void {
  let sorted = true;
  for (let i = 1; i < N; i++) if (load<f64>(at8(sig, i)) > load<f64>(at8(sig, i - 1))) sorted = false;
  if (sorted) return;
  // Stable insertion sort of indices, kept as f64 in dtmp.
  for (let i = 0; i < N; i++) store<f64>(at8(dtmp, i), <f64>i);
  for (let i = 1; i < N; i++) {
    const xi = load<f64>(at8(dtmp, i));
    const key = load<f64>(at8(sig, <i32>xi));
    let j = i - 1;
    while (j >= 0 && key > load<f64>(at8(sig, <i32>load<f64>(at8(dtmp, j))))) {
      store<f64>(at8(dtmp, j + 1), load<f64>(at8(dtmp, j)));
      j--;
    }
    store<f64>(at8(dtmp, j + 1), xi);
  }
  for (let i = 0; i < M * ld; i++) store<f64>(at8(btmp, i), load<f64>(at8(b, i)));
  for (let i = 0; i < N * ld; i++) store<f64>(at8(ytmp, i), load<f64>(at8(y, i)));
  for (let i = 0; i < N; i++) {
    const src = <i32>load<f64>(at8(dtmp, i));
    for (let r = 0; r < M; r++) store<f64>(at8(b, r * ld + i), load<f64>(at8(btmp, r * ld + src)));
    for (let r = 0; r < N; r++) store<f64>(at8(y, i * ld + r), load<f64>(at8(ytmp, src * ld + r)));
  }
  // σ in the new order (B's columns were permuted, so recompute from the permuted index list).
  for (let i = 0; i < N; i++) store<f64>(at8(btmp, i), load<f64>(at8(sig, <i32>load<f64>(at8(dtmp, i)))));
  for (let i = 0; i < N; i++) store<f64>(at8(sig, i), load<f64>(at8(btmp, i)));
}
