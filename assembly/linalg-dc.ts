/**
 * Divide and conquer for the symmetric tridiagonal eigenproblem (Cuppen's method with Gu–Eisenstat
 * eigenvectors), in f64: eigenvalues of T = tridiag(e, d, e) and its eigenvectors as the columns of Z.
 * The algorithm, step by step, is documented in `src/kernels/linalg.ts`; the oracle
 * (`src/backends/ref/linalg.ts`) runs the same steps with scalar loops.
 *
 * Recursion: a block [lo, hi) larger than LEAF is torn at mid = lo + ⌊s/2⌋ (β = e[mid−1] is subtracted
 * as |β| from d[mid−1] and d[mid]), both halves are solved, and `merge` combines them: the eigenpairs
 * of D + ρ·z·zᵀ (ρ = 2|β|, z from the last row of the left block's vectors and the first row of the
 * right block's, over √2) after deflation, then Z_block ← Z_block·U by f64 matrix products restricted
 * to the non-zero parts (the columns of each half are zero in the other half's rows unless a deflation
 * rotation mixed them). Leaves are solved by the QL iteration with the rotations applied to Z directly.
 */
import { at8, fill64, gemm64, hypot2 } from './linalg-blas';
import { al16, ldPad, pow2Below } from './linalg-qr';

// @ts-ignore: decorator
@inline export const LEAF: i32 = 32;
/** Rows per chunk of the merge products (the product goes through a CH×k buffer). */
// @ts-ignore: decorator
@inline const CH: i32 = 256;
// @ts-ignore: decorator
@inline const EPS: f64 = 2.220446049250313e-16;
// @ts-ignore: decorator
@inline const MAXIT: i32 = 120;

// Regions of the D&C work (`dcWorkBytes` in src/kernels/linalg.ts): [U n×ldPad(n)][T CH×ldPad(n)]
// [7 f64 n-vectors][5 i32 n-vectors].
// @ts-ignore: decorator
@inline export function dcWorkBytes(n: i32): usize {
  const ld = <usize>ldPad(n);
  return al16(<usize>n * ld << 3) + al16(<usize>CH * ld << 3) + 7 * al16(<usize>n << 3) + 5 * al16(<usize>n << 2);
}

// @ts-ignore: decorator
@inline function region(base: usize, n: i32, which: i32): usize {
  const ld = <usize>ldPad(n), v8 = al16(<usize>n << 3), v4 = al16(<usize>n << 2);
  const u = al16(<usize>n * ld << 3), t = al16(<usize>CH * ld << 3);
  if (which == 0) return base; // U
  if (which == 1) return base + u; // T
  if (which < 9) return base + u + t + <usize>(which - 2) * v8; // 2 z, 3 dk, 4 zk, 5 rtau, 6 zhat, 7 rowbuf, 8 norm
  return base + u + t + 7 * v8 + <usize>(which - 9) * v4; // 9 origin, 10 order, 11 ctype, 12 kidx, 13 dlist
}

// @ts-ignore: decorator
@inline function ldi(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function sti(p: usize, i: i32, v: i32): void {
  store<i32>(p + (<usize>i << 2), v);
}
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f64 {
  return load<f64>(at8(p, i));
}
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f64): void {
  store<f64>(at8(p, i), v);
}

// ---------------------------------------------------------------------------------------------------
// Secular equation

/**
 * Root i (0-based) of f(λ) = 1 + ρ·Σ_j zk_j²/(dk_j − λ) for ascending dk (k values): λ_i lies in
 * (dk_i, dk_{i+1}), or (dk_{k−1}, dk_{k−1} + ρ·‖zk‖²] for the last. Stores the origin o ∈ {i, i+1} (the
 * nearer pole, chosen by the sign of f at the midpoint) and τ = λ − dk_o, computed in τ so that
 * distances to the poles keep full relative accuracy. Iteration: the two-pole rational model (the
 * poles at dk_i and dk_{i+1} matched in value and slope at τ) solved exactly, safeguarded by a
 * bracket and bisection; stops when |f| is at its rounding level, or the step or the bracket reaches
 * f64 resolution, or after MAXIT steps.
 */
function secularRoot(i: i32, k: i32, dk: usize, zk: usize, rho: f64, origin: usize, rtau: usize): void {
  const last = i == k - 1;
  let o = i;
  let lo: f64 = 0, hi: f64 = 0;
  if (!last) {
    const di = ldf(dk, i);
    const half = (ldf(dk, i + 1) - di) * 0.5;
    let fm: f64 = 0;
    for (let j = 0; j < k; j++) {
      const zj = ldf(zk, j);
      fm += zj * (zj / ((ldf(dk, j) - di) - half));
    }
    fm = 1 + rho * fm;
    if (fm >= 0) {
      o = i;
      lo = 0;
      hi = half;
    } else {
      o = i + 1;
      lo = -((ldf(dk, i + 1) - di) - half);
      hi = 0;
    }
  } else {
    let zz: f64 = 0;
    for (let j = 0; j < k; j++) zz += ldf(zk, j) * ldf(zk, j);
    lo = 0;
    hi = rho * zz;
  }
  const dOrigin = ldf(dk, o);
  const dLeft = ldf(dk, i) - dOrigin;
  const dRight = last ? 0 : ldf(dk, i + 1) - dOrigin;
  let tau = 0.5 * (lo + hi);
  for (let it = 0; it < MAXIT; it++) {
    let psi: f64 = 0, dpsi: f64 = 0, phi: f64 = 0, dphi: f64 = 0, abs: f64 = 0;
    for (let j = 0; j <= i; j++) {
      const zj = ldf(zk, j);
      const t = zj / ((ldf(dk, j) - dOrigin) - tau);
      psi += zj * t;
      dpsi += t * t;
    }
    for (let j = i + 1; j < k; j++) {
      const zj = ldf(zk, j);
      const t = zj / ((ldf(dk, j) - dOrigin) - tau);
      phi += zj * t;
      dphi += t * t;
    }
    abs = phi - psi; // ψ ≤ 0 ≤ φ: the sum of the terms' magnitudes
    const f = 1 + rho * (psi + phi);
    if (Math.abs(f) <= 8 * EPS * (1 + rho * abs)) break;
    if (f < 0) lo = tau;
    else hi = tau;
    // Two-pole model g(η) = C + B1/(a − η) + B2/(b − η) at the current τ (η = step).
    const a = dLeft - tau;
    const b1 = rho * dpsi * a * a;
    let cc = 1 + (rho * psi - b1 / a);
    let next: f64 = NaN;
    if (last) {
      if (cc > 0) next = tau + (a + b1 / cc);
    } else {
      const b = dRight - tau;
      const b2 = rho * dphi * b * b;
      cc += rho * phi - b2 / b;
      const pp = cc * (a + b) + b1 + b2;
      const disc = max(pp * pp - 4 * cc * a * b * f, 0);
      const den = pp + (pp >= 0 ? Math.sqrt(disc) : -Math.sqrt(disc));
      if (den != 0) {
        const r1 = (2 * a * b * f) / den;
        const r2 = cc != 0 ? den / (2 * cc) : NaN;
        if (r1 > a && r1 < b) next = tau + r1;
        else if (r2 > a && r2 < b) next = tau + r2;
      }
    }
    if (!(next >= lo && next <= hi) || next == 0) next = 0.5 * (lo + hi);
    const done = Math.abs(next - tau) <= 2 * EPS * Math.abs(tau) || hi - lo <= 2 * EPS * max(Math.abs(lo), Math.abs(hi));
    tau = next;
    if (done) break;
  }
  sti(origin, i, o);
  stf(rtau, i, tau);
}

// ---------------------------------------------------------------------------------------------------
// Merge

/** Sorts order[0..s) (i32) by d[order] ascending, ties by index (heap sort; a total order). */
function sortAscending(d: usize, order: usize, s: i32): void {
  for (let i = 0; i < s; i++) sti(order, i, i);
  for (let start = (s >> 1) - 1; start >= 0; start--) sift(d, order, start, s);
  for (let end = s - 1; end > 0; end--) {
    const t = ldi(order, 0);
    sti(order, 0, ldi(order, end));
    sti(order, end, t);
    sift(d, order, 0, end);
  }
}

// @ts-ignore: decorator
@inline function lessAt(d: usize, a: i32, b: i32): bool {
  const da = ldf(d, a), db = ldf(d, b);
  return da < db || (da == db && a < b);
}

function sift(d: usize, order: usize, root: i32, end: i32): void {
  let r = root;
  for (;;) {
    let c = 2 * r + 1;
    if (c >= end) return;
    if (c + 1 < end && lessAt(d, ldi(order, c), ldi(order, c + 1))) c++;
    const or = ldi(order, r), oc = ldi(order, c);
    if (!lessAt(d, or, oc)) return;
    sti(order, r, oc);
    sti(order, c, or);
    r = c;
  }
}

/**
 * Merges the solved halves [lo, mid) and [mid, hi) coupled by β: on entry d[lo..hi) holds both halves'
 * eigenvalues (of the torn blocks) and Z[lo..hi)[lo..hi) their eigenvectors as columns (block
 * diagonal); on return the block's eigenpairs, non-deflated ones first (ascending), then the deflated.
 */
function merge(d: usize, lo: i32, mid: i32, hi: i32, beta: f64, z: usize, ld: i32, dc: usize, n: i32, pack: usize): void {
  if (beta == 0) return;
  const s = hi - lo, n1 = mid - lo;
  const dd = at8(d, lo); // block eigenvalues d_j, j = 0..s−1
  const zb = at8(z, lo * ld + lo); // block of Z, stride ld
  const u = region(dc, n, 0), tbuf = region(dc, n, 1);
  const zv = region(dc, n, 2), dk = region(dc, n, 3), zk = region(dc, n, 4), rtau = region(dc, n, 5);
  const zhat = region(dc, n, 6), rowbuf = region(dc, n, 7), norm = region(dc, n, 8);
  const origin = region(dc, n, 9), order = region(dc, n, 10), ctype = region(dc, n, 11);
  const kidx = region(dc, n, 12), dlist = region(dc, n, 13);
  const ldu = ldPad(n), ldt = ldPad(n);
  const rho = 2 * Math.abs(beta);
  const sg: f64 = beta >= 0 ? 1 : -1;
  // z = (last row of the left half's vectors, ±first row of the right half's) / √2.
  const rl = at8(zb, (n1 - 1) * ld), rr = at8(zb, n1 * ld);
  let dmax: f64 = 0;
  for (let j = 0; j < s; j++) {
    stf(zv, j, (ldf(rl, j) + sg * ldf(rr, j)) * Math.SQRT1_2);
    sti(ctype, j, j < n1 ? 1 : 2);
    dmax = max(dmax, Math.abs(ldf(dd, j)));
  }
  sortAscending(dd, order, s);
  // Deflation (LAPACK `laed2`): negligible ρ·|z_j|, or neighbours close enough that a rotation zeroing
  // one z entry leaves an off-diagonal |t·c·s| ≤ tol.
  const tol = 8 * EPS * max(dmax, rho);
  let k = 0, nd = 0, prev = -1;
  for (let t = 0; t < s; t++) {
    const j = ldi(order, t);
    if (rho * Math.abs(ldf(zv, j)) <= tol) {
      sti(dlist, nd++, j);
      continue;
    }
    if (prev < 0) {
      prev = j;
      continue;
    }
    const zp = ldf(zv, prev), zj = ldf(zv, j);
    const r = hypot2(zp, zj);
    const c = zj / r, sn = zp / r;
    const gap = ldf(dd, j) - ldf(dd, prev);
    if (Math.abs(gap * c * sn) <= tol) {
      // Columns prev, j ← (c·q_p − s·q_j, s·q_p + c·q_j); z_p ← 0, z_j ← r; prev is deflated.
      for (let row = 0; row < s; row++) {
        const pr = at8(zb, row * ld);
        const qp = ldf(pr, prev), qj = ldf(pr, j);
        stf(pr, prev, c * qp - sn * qj);
        stf(pr, j, sn * qp + c * qj);
      }
      const dp = ldf(dd, prev), dj = ldf(dd, j);
      stf(dd, prev, c * c * dp + sn * sn * dj);
      stf(dd, j, sn * sn * dp + c * c * dj);
      stf(zv, prev, 0);
      stf(zv, j, r);
      if (ldi(ctype, prev) != ldi(ctype, j)) {
        sti(ctype, prev, 3);
        sti(ctype, j, 3);
      }
      sti(dlist, nd++, prev);
    } else {
      sti(kidx, k++, prev);
    }
    prev = j;
  }
  if (prev >= 0) sti(kidx, k++, prev);
  if (k == 0) return; // all deflated: the (rotated) columns and d are the eigenpairs
  // Secular equation on the non-deflated part, scaled by a power of two σ ≈ max(|d_K|, ρ) (exact):
  // roots, ẑ and U are scale-invariant, and nothing overflows or underflows however small the block.
  let kmax = rho;
  for (let t = 0; t < k; t++) kmax = max(kmax, Math.abs(ldf(dd, ldi(kidx, t))));
  const sigma = pow2Below(kmax);
  const rs = rho / sigma;
  for (let t = 0; t < k; t++) {
    const j = ldi(kidx, t);
    stf(dk, t, ldf(dd, j) / sigma);
    stf(zk, t, ldf(zv, j));
  }
  for (let i = 0; i < k; i++) secularRoot(i, k, dk, zk, rs, origin, rtau);
  // Gu–Eisenstat: ẑ_j² = (λ_j − d_j)·Π_{i≠j} (λ_i − d_j)/(d_i − d_j) / ρ, all factors positive, with
  // λ_i − d_j = (d_{o_i} − d_j) + τ_i.
  for (let j = 0; j < k; j++) {
    const dj = ldf(dk, j);
    let w = ((ldf(dk, ldi(origin, j)) - dj) + ldf(rtau, j)) / rs;
    for (let i = 0; i < k; i++) {
      if (i == j) continue;
      w *= ((ldf(dk, ldi(origin, i)) - dj) + ldf(rtau, i)) / (ldf(dk, i) - dj);
    }
    const zh = Math.sqrt(Math.abs(w));
    stf(zhat, j, ldf(zk, j) >= 0 ? zh : -zh);
  }
  // Rows of U grouped by column type: type 1, then 3, then 2 (U row of K entry t at position kpos).
  let k1 = 0, k3 = 0;
  for (let t = 0; t < k; t++) {
    const ty = ldi(ctype, ldi(kidx, t));
    if (ty == 1) k1++;
    else if (ty == 3) k3++;
  }
  let p1 = 0, p3 = k1, p2 = k1 + k3;
  for (let t = 0; t < k; t++) {
    const j = ldi(kidx, t);
    const ty = ldi(ctype, j);
    const pos = ty == 1 ? p1++ : ty == 3 ? p3++ : p2++;
    sti(order, pos, j); // new column pos ← old column j
    // U[pos][i] = ẑ_t / (d_t − λ_i), (d_t − λ_i) = (d_t − d_{o_i}) − τ_i.
    const ur = at8(u, pos * ldu);
    const dt = ldf(dk, t), zt = ldf(zhat, t);
    for (let i = 0; i < k; i++) stf(ur, i, zt / ((dt - ldf(dk, ldi(origin, i))) - ldf(rtau, i)));
  }
  // Column norms of U, then unit columns.
  fill64(norm, k, 0);
  for (let r = 0; r < k; r++) {
    const ur = at8(u, r * ldu);
    for (let i = 0; i < k; i++) stf(norm, i, ldf(norm, i) + ldf(ur, i) * ldf(ur, i));
  }
  for (let i = 0; i < k; i++) stf(norm, i, 1 / Math.sqrt(ldf(norm, i)));
  for (let r = 0; r < k; r++) {
    const ur = at8(u, r * ldu);
    for (let i = 0; i < k; i++) stf(ur, i, ldf(ur, i) * ldf(norm, i));
  }
  // New column order of the block: [K grouped (order[0..k)), deflated (dlist)]; permute every row.
  for (let t = 0; t < nd; t++) sti(order, k + t, ldi(dlist, t));
  for (let row = 0; row < s; row++) {
    const pr = at8(zb, row * ld);
    for (let c = 0; c < s; c++) stf(rowbuf, c, ldf(pr, ldi(order, c)));
    for (let c = 0; c < s; c++) stf(pr, c, ldf(rowbuf, c));
  }
  // Eigenvalues: roots, then the deflated values.
  for (let t = 0; t < nd; t++) stf(rowbuf, t, ldf(dd, ldi(dlist, t)));
  for (let i = 0; i < k; i++) stf(dd, i, (ldf(dk, ldi(origin, i)) + ldf(rtau, i)) * sigma);
  for (let t = 0; t < nd; t++) stf(dd, k + t, ldf(rowbuf, t));
  // Z_block[:, 0..k) ← Z_block[:, K]·U: top rows use the type-1 and type-3 columns (U rows 0..k1+k3),
  // bottom rows the type-3 and type-2 ones (U rows k1..k); the others are zero there.
  mergeProduct(zb, ld, 0, n1, 0, k1 + k3, u, ldu, k, tbuf, ldt, pack);
  mergeProduct(zb, ld, n1, s, k1, k - k1, u, ldu, k, tbuf, ldt, pack);
}

/** Rows r0..r1 of the block: Z[r][0..k) ← Σ_{c<kk} Z[r][c0 + c]·U[c0 + c][0..k), CH rows at a time. */
function mergeProduct(zb: usize, ld: i32, r0: i32, r1: i32, c0: i32, kk: i32, u: usize, ldu: i32, k: i32, tbuf: usize, ldt: i32, pack: usize): void {
  for (let r = r0; r < r1; r += CH) {
    const rows = min(CH, r1 - r);
    if (kk == 0) {
      for (let q = 0; q < rows; q++) fill64(at8(zb, (r + q) * ld), k, 0);
      continue;
    }
    gemm64(rows, k, kk, 1.0, at8(zb, r * ld + c0), ld, 1, at8(u, c0 * ldu), ldu, tbuf, ldt, false, pack);
    for (let q = 0; q < rows; q++) {
      const dst = at8(zb, (r + q) * ld), src = at8(tbuf, q * ldt);
      let c = 0;
      for (; c + 2 <= k; c += 2) v128.store(at8(dst, c), v128.load(at8(src, c)));
      if (c < k) stf(dst, c, ldf(src, c));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Driver

/**
 * Solves block [lo, hi): tear, recurse, merge; leaves by `leafSolve` (QL with the rotations applied to
 * the block's columns of Z). Returns 0 or NO_CONVERGENCE (2) from a leaf.
 */
function solveRange(d: usize, e: usize, lo: i32, hi: i32, z: usize, ld: i32, dc: usize, n: i32, pack: usize): i32 {
  const s = hi - lo;
  if (s <= LEAF) return leafSolve(at8(d, lo), at8(e, lo), s, at8(z, lo * ld + lo), ld);
  const mid = lo + (s >> 1);
  const beta = ldf(e, mid - 1);
  const ab = Math.abs(beta);
  stf(d, mid - 1, ldf(d, mid - 1) - ab);
  stf(d, mid, ldf(d, mid) - ab);
  let st = solveRange(d, e, lo, mid, z, ld, dc, n, pack);
  if (st != 0) return st;
  st = solveRange(d, e, mid, hi, z, ld, dc, n, pack);
  if (st != 0) return st;
  merge(d, lo, mid, hi, beta, z, ld, dc, n, pack);
  return 0;
}

/**
 * Eigenpairs of the tridiagonal (d, e) of order n (e[i] couples i and i+1; destroyed): eigenvalues into
 * d (unordered), eigenvectors as the columns of Z (n×n, stride ld). dc: dcWorkBytes(n); pack: GEMM
 * packing for dimensions ≤ n.
 */
export function dcEigen(d: usize, e: usize, n: i32, z: usize, ld: i32, dc: usize, pack: usize): i32 {
  for (let r = 0; r < n; r++) fill64(at8(z, r * ld), n, 0);
  return solveRange(d, e, 0, n, z, ld, dc, n, pack);
}

// ---------------------------------------------------------------------------------------------------
// Leaves

/**
 * QL with Wilkinson shifts on a leaf (as `ql` in linalg-eig.ts, same deflation and shifts), the
 * rotations applied at once to the columns of the leaf's block of Z, which starts as I.
 */
function leafSolve(d: usize, e: usize, n: i32, zb: usize, ld: i32): i32 {
  if (n <= 0) return 0;
  for (let r = 0; r < n; r++) stf(zb, r * ld + r, 1);
  stf(e, n - 1, 0);
  let budget = 30 * n;
  for (let l = 0; l < n; l++) {
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const em = Math.abs(ldf(e, m));
        if (em <= EPS * (Math.abs(ldf(d, m)) + Math.abs(ldf(d, m + 1))) || em <= 1e-300) break;
      }
      if (m == l) break;
      if (budget-- == 0) return 2;
      const el = ldf(e, l);
      let g = (ldf(d, l + 1) - ldf(d, l)) / (2 * el);
      let r = hypot2(g, 1);
      g = ldf(d, m) - ldf(d, l) + el / (g + (g >= 0 ? r : -r));
      let sn: f64 = 1, c: f64 = 1, p: f64 = 0;
      let split = false;
      for (let i = m - 1; i >= l; i--) {
        const ei = ldf(e, i);
        const f = sn * ei, b = c * ei;
        r = hypot2(f, g);
        stf(e, i + 1, r);
        if (r == 0) {
          stf(d, i + 1, ldf(d, i + 1) - p);
          stf(e, m, 0);
          split = true;
          break;
        }
        sn = f / r;
        c = g / r;
        g = ldf(d, i + 1) - p;
        r = (ldf(d, i) - g) * sn + 2 * c * b;
        p = sn * r;
        stf(d, i + 1, g + p);
        g = c * r - b;
        for (let row = 0; row < n; row++) {
          const pr = at8(zb, row * ld);
          const a0 = ldf(pr, i), a1 = ldf(pr, i + 1);
          stf(pr, i + 1, sn * a0 + c * a1);
          stf(pr, i, c * a0 - sn * a1);
        }
      }
      if (split) continue;
      stf(d, l, ldf(d, l) - p);
      stf(e, l, g);
      stf(e, m, 0);
    }
  }
  return 0;
}
