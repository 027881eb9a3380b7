/**
 * Symmetric eigensolver core in f64: Householder tridiagonalization; eigenvalues only by the implicit
 * QL iteration; with eigenvectors by divide and conquer (`./linalg-dc.ts`) and the back-transformation
 * by the blocked reflectors; sorting. Algorithms and conventions: `src/kernels/linalg.ts`; the oracle
 * is `src/backends/ref/linalg.ts` (same steps, unblocked and unfused).
 */
import { at8, copy64, dot64, hypot2, scale64, transposeSquare64 } from './linalg-blas';
import { dcEigen, dcWorkBytes } from './linalg-dc';
import { al16, applyQCore, blockWorkBytes, houseBeta, ldPad, workPack } from './linalg-qr';

// Status codes (LinalgStatus in src/kernels/linalg.ts).
// @ts-ignore: decorator
@inline export const OK: i32 = 0;
// @ts-ignore: decorator
@inline export const NON_FINITE: i32 = 1;
// @ts-ignore: decorator
@inline export const NO_CONVERGENCE: i32 = 2;
// @ts-ignore: decorator
@inline export const BAD_ARGUMENT: i32 = 3;

// @ts-ignore: decorator
@inline const EPS64: f64 = 2.220446049250313e-16;
// @ts-ignore: decorator
@inline const TINY64: f64 = 1e-300;

/** Scratch bytes of the eigensolver (`eighScratchBytes` in src/kernels/linalg.ts). */
// @ts-ignore: decorator
@inline export function eighBytes(n: i32): usize {
  const nn = al16(<usize>n * <usize>(n + 10) << 3), v = al16(<usize>n << 3);
  return 2 * nn + 5 * v + al16(<usize>n << 2) + blockWorkBytes(n) + dcWorkBytes(n);
}

// ---------------------------------------------------------------------------------------------------
// Tridiagonalization

/**
 * Reflector from row k of S (x = S[k][k+1..n−1]): d[k] = S_kk, e[k] = β, τ_k; v (unit first) is left in
 * S[k][k+1..n−1]. Returns τ_k.
 */
function rowReflector(s: usize, ld: i32, n: i32, k: i32, d: usize, e: usize, tau: usize): f64 {
  const rk = at8(s, k * ld);
  const len = n - k - 2;
  const alpha = load<f64>(at8(rk, k + 1));
  const sq = dot64(at8(rk, k + 2), at8(rk, k + 2), len);
  store<f64>(at8(d, k), load<f64>(at8(rk, k)));
  store<f64>(at8(rk, k + 1), 1);
  if (sq == 0) {
    store<f64>(at8(e, k), alpha);
    store<f64>(at8(tau, k), 0);
    return 0;
  }
  const beta = houseBeta(alpha, sq, at8(rk, k + 2), len);
  const t = (beta - alpha) / beta;
  scale64(at8(rk, k + 2), len, 1 / (alpha - beta));
  store<f64>(at8(e, k), beta);
  store<f64>(at8(tau, k), t);
  return t;
}

/**
 * w ← p − (τ/2)(pᵀv)·v over indices lo..n−1 after p ← τ·p (p holds the raw products S₂₂·v).
 */
function formW(p: usize, w: usize, v: usize, lo: i32, n: i32, t: f64): void {
  const len = n - lo;
  scale64(at8(p, lo), len, t);
  const kk = 0.5 * t * dot64(at8(p, lo), at8(v, lo), len);
  for (let i = lo; i < n; i++) store<f64>(at8(w, i), load<f64>(at8(p, i)) - kk * load<f64>(at8(v, i)));
}

/**
 * Row i of the trailing block in lower storage, columns lo..i (i = the diagonal): S_ij −= a·w_j + b·v_j
 * (the pending rank-2 update, a = v_i, b = w_i), then with the updated values and the next reflector u:
 * p_j += S_ij·u_i for j < i (the upper triangle's share, by symmetry) and returns Σ_{j≤i} S_ij·u_j.
 */
function updateLowerRow(row: usize, w: usize, v: usize, u: usize, p: usize, lo: i32, i: i32, a: f64, b: f64): f64 {
  const av = f64x2.splat(a), bv = f64x2.splat(b);
  const ui = load<f64>(at8(u, i));
  const uv = f64x2.splat(ui);
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let j = lo;
  for (; j + 4 <= i; j += 4) {
    const pr = at8(row, j), pw = at8(w, j), pv = at8(v, j), pu = at8(u, j), pp = at8(p, j);
    const r0 = f64x2.sub(v128.load(pr), f64x2.add(f64x2.mul(av, v128.load(pw)), f64x2.mul(bv, v128.load(pv))));
    const r1 = f64x2.sub(v128.load(pr, 16), f64x2.add(f64x2.mul(av, v128.load(pw, 16)), f64x2.mul(bv, v128.load(pv, 16))));
    v128.store(pr, r0);
    v128.store(pr, r1, 16);
    s0 = f64x2.add(s0, f64x2.mul(r0, v128.load(pu)));
    s1 = f64x2.add(s1, f64x2.mul(r1, v128.load(pu, 16)));
    v128.store(pp, f64x2.add(v128.load(pp), f64x2.mul(r0, uv)));
    v128.store(pp, f64x2.add(v128.load(pp, 16), f64x2.mul(r1, uv)), 16);
  }
  const sv = f64x2.add(s0, s1);
  let acc = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  for (; j < i; j++) {
    const pr = at8(row, j);
    const r = load<f64>(pr) - (a * load<f64>(at8(w, j)) + b * load<f64>(at8(v, j)));
    store<f64>(pr, r);
    acc += r * load<f64>(at8(u, j));
    const pp = at8(p, j);
    store<f64>(pp, load<f64>(pp) + r * ui);
  }
  // Diagonal.
  const pd = at8(row, i);
  const r = load<f64>(pd) - (a * load<f64>(at8(w, i)) + b * load<f64>(at8(v, i)));
  store<f64>(pd, r);
  return acc + r * ui;
}

/**
 * Householder tridiagonalization of the symmetric n×n S (row-major, stride ld, both triangles on
 * entry), with the oracle's outputs (`tridiagonalize` in src/backends/ref/linalg.ts): d, e (e[n−1] = 0),
 * reflector k in S[k][k+1..n−1] (unit first), τ_k. p, w: n f64 of work.
 *
 * After the first step only the lower triangle of the trailing block is kept up to date, and each
 * step's rank-2 update is fused with the next step's product p = S₂₂·u: one pass over half of the
 * trailing block per step (each row: update, dot with u, and u_i times the row added into p for the
 * upper triangle's share).
 */
export function tridiagonalize(s: usize, ld: i32, n: i32, d: usize, e: usize, tau: usize, p: usize, w: usize): void {
  if (n <= 0) return;
  store<f64>(at8(e, n - 1), 0);
  if (n <= 2) {
    store<f64>(at8(d, 0), load<f64>(s));
    if (n == 2) {
      store<f64>(at8(e, 0), load<f64>(at8(s, 1)));
      store<f64>(at8(d, 1), load<f64>(at8(s, ld + 1)));
    }
    return;
  }
  // Step 0 on the full symmetric input: reflector, p = S₂₂·v over rows/columns 1..n−1, w.
  let t = rowReflector(s, ld, n, 0, d, e, tau);
  for (let i = 1; i < n; i++) store<f64>(at8(p, i), dot64(at8(s, i * ld + 1), at8(s, 1), n - 1));
  formW(p, w, s, 1, n, t);
  for (let k = 0; k + 2 < n; k++) {
    // Pending: S₂₂ −= v_k·w_kᵀ + w_k·v_kᵀ over indices k+1..n−1 (v_k = S[k][·], w_k = w[·]).
    const vk = at8(s, k * ld);
    const c = k + 1;
    // Column k+1 (rows k+1..n−1, lower storage) first: it gives reflector k+1.
    const vc = load<f64>(at8(vk, c)), wc = load<f64>(at8(w, c));
    for (let i = c; i < n; i++) {
      const pi = at8(s, i * ld + c);
      store<f64>(pi, load<f64>(pi) - (load<f64>(at8(vk, i)) * wc + load<f64>(at8(w, i)) * vc));
    }
    if (k + 3 < n) {
      const r1 = at8(s, c * ld);
      for (let j = c + 1; j < n; j++) store<f64>(at8(r1, j), load<f64>(at8(s, j * ld + c)));
      t = rowReflector(s, ld, n, c, d, e, tau);
      for (let i = c + 1; i < n; i++) store<f64>(at8(p, i), 0);
      for (let i = c + 1; i < n; i++) {
        const dot = updateLowerRow(at8(s, i * ld), w, vk, r1, p, c + 1, i, load<f64>(at8(vk, i)), load<f64>(at8(w, i)));
        store<f64>(at8(p, i), load<f64>(at8(p, i)) + dot);
      }
      formW(p, w, r1, c + 1, n, t);
    } else {
      // Last step: the 2×2 block at n−2 (its column n−2 is updated above).
      const pl = at8(s, (n - 1) * ld + n - 1);
      const a = load<f64>(at8(vk, n - 1)), b = load<f64>(at8(w, n - 1));
      store<f64>(pl, load<f64>(pl) - (a * b + b * a));
      store<f64>(at8(d, n - 2), load<f64>(at8(s, (n - 2) * ld + n - 2)));
      store<f64>(at8(e, n - 2), load<f64>(at8(s, (n - 1) * ld + n - 2)));
      store<f64>(at8(d, n - 1), load<f64>(pl));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// QL iteration (eigenvalues only)

/**
 * Eigenvalues of the tridiagonal (d, e) by the implicit QL iteration with Wilkinson shifts (EISPACK
 * `tql2` without vectors; the oracle's `ql`): deflation where |e_m| ≤ ε₆₄·(|d_m| + |d_m+1|) or
 * |e_m| ≤ 1e-300, at most 30·n sweeps. e is destroyed; d receives the eigenvalues, unordered.
 */
export function ql(d: usize, e: usize, n: i32): i32 {
  if (n == 0) return OK;
  store<f64>(at8(e, n - 1), 0);
  let budget = 30 * n;
  for (let l = 0; l < n; l++) {
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const em = Math.abs(load<f64>(at8(e, m)));
        if (em <= EPS64 * (Math.abs(load<f64>(at8(d, m))) + Math.abs(load<f64>(at8(d, m + 1)))) || em <= TINY64) break;
      }
      if (m == l) break;
      if (budget-- == 0) return NO_CONVERGENCE;
      const el = load<f64>(at8(e, l));
      let g = (load<f64>(at8(d, l + 1)) - load<f64>(at8(d, l))) / (2 * el);
      let r = hypot2(g, 1);
      g = load<f64>(at8(d, m)) - load<f64>(at8(d, l)) + el / (g + (g >= 0 ? r : -r));
      let sn: f64 = 1, c: f64 = 1, p: f64 = 0;
      let split = false;
      for (let i = m - 1; i >= l; i--) {
        const ei = load<f64>(at8(e, i));
        const f = sn * ei, b = c * ei;
        r = hypot2(f, g);
        store<f64>(at8(e, i + 1), r);
        if (r == 0) {
          store<f64>(at8(d, i + 1), load<f64>(at8(d, i + 1)) - p);
          store<f64>(at8(e, m), 0);
          split = true;
          break;
        }
        sn = f / r;
        c = g / r;
        g = load<f64>(at8(d, i + 1)) - p;
        r = (load<f64>(at8(d, i)) - g) * sn + 2 * c * b;
        p = sn * r;
        store<f64>(at8(d, i + 1), g + p);
        g = c * r - b;
      }
      if (split) continue;
      store<f64>(at8(d, l), load<f64>(at8(d, l)) - p);
      store<f64>(at8(e, l), g);
      store<f64>(at8(e, m), 0);
    }
  }
  return OK;
}

// ---------------------------------------------------------------------------------------------------
// Sorting

/** Is index a before index b: d[a] > d[b], ties by index. */
// @ts-ignore: decorator
@inline function before(d: usize, a: i32, b: i32): bool {
  const da = load<f64>(at8(d, a)), db = load<f64>(at8(d, b));
  return da > db || (da == db && a < b);
}

/** Heap sort of perm[0..n−1] (i32) by `before` (a total order: any sort gives the same result). */
function sortPerm(d: usize, perm: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<i32>(perm + (<usize>i << 2), i);
  // Max-heap on "after" so that the root is the last in order.
  for (let start = (n >> 1) - 1; start >= 0; start--) siftDown(d, perm, start, n);
  for (let end = n - 1; end > 0; end--) {
    const t = load<i32>(perm);
    store<i32>(perm, load<i32>(perm + (<usize>end << 2)));
    store<i32>(perm + (<usize>end << 2), t);
    siftDown(d, perm, 0, end);
  }
}

function siftDown(d: usize, perm: usize, root: i32, end: i32): void {
  let r = root;
  for (;;) {
    let child = 2 * r + 1;
    if (child >= end) return;
    const pc = load<i32>(perm + (<usize>child << 2));
    if (child + 1 < end) {
      const pc1 = load<i32>(perm + (<usize>(child + 1) << 2));
      if (before(d, pc, pc1)) child++; // the child later in order
    }
    const pr = load<i32>(perm + (<usize>r << 2)), pch = load<i32>(perm + (<usize>child << 2));
    if (!before(d, pr, pch)) return;
    store<i32>(perm + (<usize>r << 2), pch);
    store<i32>(perm + (<usize>child << 2), pr);
    r = child;
  }
}

/**
 * Sorts d descending and, when y ≠ 0, permutes the rows of Y alike (in place, by cycles) and gives each
 * row a positive largest-magnitude component. perm: n i32; tmp: n f64.
 */
function sortDescending(d: usize, n: i32, y: usize, ld: i32, perm: usize, tmp: usize): void {
  sortPerm(d, perm, n);
  for (let i = 0; i < n; i++) store<f64>(at8(tmp, i), load<f64>(at8(d, load<i32>(perm + (<usize>i << 2)))));
  for (let i = 0; i < n; i++) store<f64>(at8(d, i), load<f64>(at8(tmp, i)));
  if (y == 0) return;
  for (let start = 0; start < n; start++) {
    const ps = perm + (<usize>start << 2);
    const src0 = load<i32>(ps);
    if (src0 < 0 || src0 == start) continue;
    // Cycle: Y[start] ← Y[perm[start]] ← …; marks visited entries by storing −1 − perm.
    copy64(tmp, at8(y, start * ld), n);
    let j = start;
    for (;;) {
      const pj = perm + (<usize>j << 2);
      const src = load<i32>(pj);
      store<i32>(pj, -1 - src);
      if (src == start) {
        copy64(at8(y, j * ld), tmp, n);
        break;
      }
      copy64(at8(y, j * ld), at8(y, src * ld), n);
      j = src;
    }
  }
  for (let i = 0; i < n; i++) {
    const row = at8(y, i * ld);
    let big: f64 = 0, at = 0;
    for (let k = 0; k < n; k++) {
      const a = Math.abs(load<f64>(at8(row, k)));
      if (a > big) {
        big = a;
        at = k;
      }
    }
    if (load<f64>(at8(row, at)) < 0) scale64(row, n, -1);
  }
}

// ---------------------------------------------------------------------------------------------------
// Core

/** Regions of the eigensolver's scratch. */
// @ts-ignore: decorator
@inline export function eighRegion(base: usize, n: i32, which: i32): usize {
  const nn = al16(<usize>n * <usize>(n + 10) << 3), v = al16(<usize>n << 3);
  // 0 S, 1 Y, 2 d, 3 e, 4 tau, 5 p, 6 w, 7 perm, 9 block work, 10 D&C work
  if (which == 0) return base;
  if (which == 1) return base + nn;
  if (which <= 6) return base + 2 * nn + <usize>(which - 2) * v;
  if (which == 7) return base + 2 * nn + 5 * v;
  const bw = base + 2 * nn + 5 * v + al16(<usize>n << 2);
  if (which == 9) return bw;
  return bw + blockWorkBytes(n);
}

/**
 * Eigendecomposition of the symmetric n×n f64 S at eighRegion(base, n, 0) (destroyed): eigenvalues
 * descending into eighRegion(base, n, 2); with vectors, eigenvectors as the rows of Y (region 1).
 */
export function eighCore(base: usize, n: i32, vectors: bool): i32 {
  const s = eighRegion(base, n, 0), y = eighRegion(base, n, 1);
  const d = eighRegion(base, n, 2), e = eighRegion(base, n, 3), tau = eighRegion(base, n, 4);
  const p = eighRegion(base, n, 5), w = eighRegion(base, n, 6), perm = eighRegion(base, n, 7);
  const work = eighRegion(base, n, 9);
  const ld = ldPad(n);
  if (n <= 0) return OK;
  tridiagonalize(s, ld, n, d, e, tau, p, w);
  if (!vectors) {
    const st = ql(d, e, n);
    if (st != OK) return st;
    sortDescending(d, n, 0, ld, perm, p);
    return OK;
  }
  // Eigenvectors of T by divide and conquer (columns of Z, in Y's region), then V = Q·Z with
  // Q = H_0·…·H_{n−3} acting on rows 1..n−1 (reflector k's element i at S[k][1 + i]), then Y = Vᵀ.
  const st = dcEigen(d, e, n, y, ld, eighRegion(base, n, 10), workPack(work, n));
  if (st != OK) return st;
  if (n > 2) applyQCore<f64>(at8(y, ld), ld, at8(s, 1), ld, 1, n - 1, n - 2, tau, n, false, work);
  transposeSquare64(y, ld, n);
  sortDescending(d, n, y, ld, perm, p);
  return OK;
}
