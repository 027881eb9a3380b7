/**
 * Scalar oracle of the linalg kernels (see `../../kernels/linalg.ts` for the contract and algorithms).
 *
 * Written for clarity: unblocked Householder algorithms in f64 over working copies in the caller's
 * scratch, with the vectors a reflector acts on stored contiguously (a QR works on the columns of A,
 * so its working copy is Aᵀ; eigenvectors end as rows of Y = Vᵀ), and the divide-and-conquer
 * eigensolver with plain loops (its small per-merge arrays are JS arrays). The `wasm` backend computes
 * the same quantities blocked, on row-major copies, with f64x2 SIMD; only the f64 rounding order
 * differs.
 */
import {
  type LinalgKernels, LinalgStatus, blockWorkBytes, dcWorkBytes,
} from '../../kernels/linalg.js';
import type { Ptr } from '../../kernels/ptr.js';
import type { Heap } from './heap.js';

const { OK, NON_FINITE, NO_CONVERGENCE, BAD_ARGUMENT } = LinalgStatus;

/** f64 machine epsilon (2⁻⁵²): the QL deflation threshold, relative to the neighbouring diagonal. */
export const EPS64 = 2.220446049250313e-16;
/** Absolute deflation floor for off-diagonals (far below anything f32 data produces). */
export const TINY64 = 1e-300;

const al16 = (bytes: number): number => Math.ceil(Math.max(bytes, 0) / 16) * 16;

/** Bump allocator over the caller's scratch (byte offsets, 16-byte aligned regions). */
class Bump {
  constructor(private at: number) {}
  /** A region of `count` f64; returns its f64 index. */
  f64(count: number): number {
    const p = this.at;
    this.at += al16(8 * count);
    return p >> 3;
  }
  /** A region of `count` i32; returns its i32 index. */
  i32(count: number): number {
    const p = this.at;
    this.at += al16(4 * count);
    return p >> 2;
  }
  skip(bytes: number): void {
    this.at += bytes;
  }
}

/** Below this, α² + ‖x₂‖² may have lost digits to subnormals: the norm is recomputed scaled. */
export const HOUSE_SMALL = 2 ** -900;

/**
 * Householder reflector for x = (α, x₂) with ‖x₂‖² = sq, x₂ = F[x..x+len): [β, τ, 1/(α − β)] (τ = 0:
 * H = I). ‖x‖ is α² + sq under a square root, or, when that is tiny (entries that decayed to ~1e-150
 * and less, as in the reduction of exactly low-rank matrices), recomputed with every entry scaled by an
 * exact power of two near max|x|.
 */
export function house(alpha: number, sq: number, F: Float64Array, x: number, len: number): [number, number, number] {
  if (sq === 0) return [alpha, 0, 0];
  let norm = Math.sqrt(alpha * alpha + sq);
  if (alpha * alpha + sq < HOUSE_SMALL) {
    let amax = Math.abs(alpha);
    for (let i = 0; i < len; i++) amax = Math.max(amax, Math.abs(F[x + i]));
    const sc = pow2Below(amax);
    let ss = (alpha / sc) * (alpha / sc);
    for (let i = 0; i < len; i++) ss += (F[x + i] / sc) * (F[x + i] / sc);
    norm = Math.sqrt(ss) * sc;
  }
  const beta = alpha >= 0 ? -norm : norm;
  return [beta, (beta - alpha) / beta, 1 / (alpha - beta)];
}

/** √(a² + b²) without overflow or harmful underflow. */
export function hypot2(a: number, b: number): number {
  let x = Math.abs(a), y = Math.abs(b);
  if (x < y) {
    const t = x;
    x = y;
    y = t;
  }
  if (x === 0) return 0;
  const r = y / x;
  return x * Math.sqrt(1 + r * r);
}

const isFiniteF = (x: number): boolean => x - x === 0;

const pow2View = new Float64Array(1);
const pow2Bits = new BigUint64Array(pow2View.buffer);

/** The largest power of two ≤ x for normal x > 0 (the smallest normal below that): an exact scale. */
export function pow2Below(x: number): number {
  pow2View[0] = x;
  pow2Bits[0] &= 0x7ff0000000000000n;
  return pow2View[0] === 0 ? 2.2250738585072014e-308 : pow2View[0];
}

/** svd: U = B·Σ⁻¹ without a QR when every σᵢ ≥ DIRECT_U·σ₁ (thin, or square). */
const DIRECT_U = 1e-4;

/** Leaf size of the divide-and-conquer eigensolver (leaves are solved by QL). */
const DC_LEAF = 32;

/**
 * Root i of the secular equation f(λ) = 1 + ρ·Σ_j zk_j²/(dk_j − λ) (dk ascending, ρ > 0): returns the
 * nearer pole's index o and τ = λ − dk_o. Two-pole rational model steps inside a bisection bracket (see
 * `secularRoot` in assembly/linalg-dc.ts for the details; same steps and stopping rules).
 */
export function secularRoot(i: number, dk: Float64Array, zk: Float64Array, rho: number): [number, number] {
  const k = dk.length;
  const last = i === k - 1;
  let o = i, lo = 0, hi = 0;
  if (!last) {
    const di = dk[i];
    const half = (dk[i + 1] - di) * 0.5;
    let fm = 0;
    for (let j = 0; j < k; j++) fm += zk[j] * (zk[j] / ((dk[j] - di) - half));
    fm = 1 + rho * fm;
    if (fm >= 0) {
      hi = half;
    } else {
      o = i + 1;
      lo = -((dk[i + 1] - di) - half);
    }
  } else {
    let zz = 0;
    for (let j = 0; j < k; j++) zz += zk[j] * zk[j];
    hi = rho * zz;
  }
  const dOrigin = dk[o];
  const dLeft = dk[i] - dOrigin;
  const dRight = last ? 0 : dk[i + 1] - dOrigin;
  let tau = 0.5 * (lo + hi);
  for (let it = 0; it < 120; it++) {
    let psi = 0, dpsi = 0, phi = 0, dphi = 0;
    for (let j = 0; j <= i; j++) {
      const t = zk[j] / ((dk[j] - dOrigin) - tau);
      psi += zk[j] * t;
      dpsi += t * t;
    }
    for (let j = i + 1; j < k; j++) {
      const t = zk[j] / ((dk[j] - dOrigin) - tau);
      phi += zk[j] * t;
      dphi += t * t;
    }
    const f = 1 + rho * (psi + phi);
    if (Math.abs(f) <= 8 * EPS64 * (1 + rho * (phi - psi))) break;
    if (f < 0) lo = tau;
    else hi = tau;
    // Two-pole model g(η) = C + B1/(a − η) + B2/(b − η), matching f and f' at τ.
    const a = dLeft - tau;
    const b1 = rho * dpsi * a * a;
    let cc = 1 + (rho * psi - b1 / a);
    let next = NaN;
    if (last) {
      if (cc > 0) next = tau + (a + b1 / cc);
    } else {
      const b = dRight - tau;
      const b2 = rho * dphi * b * b;
      cc += rho * phi - b2 / b;
      const pp = cc * (a + b) + b1 + b2;
      const disc = Math.max(pp * pp - 4 * cc * a * b * f, 0);
      const den = pp + (pp >= 0 ? Math.sqrt(disc) : -Math.sqrt(disc));
      if (den !== 0) {
        const r1 = (2 * a * b * f) / den;
        const r2 = cc !== 0 ? den / (2 * cc) : NaN;
        if (r1 > a && r1 < b) next = tau + r1;
        else if (r2 > a && r2 < b) next = tau + r2;
      }
    }
    if (!(next >= lo && next <= hi) || next === 0) next = 0.5 * (lo + hi);
    const done = Math.abs(next - tau) <= 2 * EPS64 * Math.abs(tau) || hi - lo <= 2 * EPS64 * Math.max(Math.abs(lo), Math.abs(hi));
    tau = next;
    if (done) break;
  }
  return [o, tau];
}

export class RefLinalg implements LinalgKernels {
  constructor(protected readonly heap: Heap) {}

  // --------------------------------------------------------------------------------------------------
  // Shared building blocks (all on the f64 view `F`, indices in elements)

  /** Non-finite check of an f32 matrix. */
  private finiteF32(a: Ptr, ld: number, rows: number, cols: number): boolean {
    const A = this.heap.f32, o = a >> 2;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (!isFiniteF(A[o + i * ld + j])) return false;
    return true;
  }

  /** Are the reflectors (below the diagonal of the first k columns of the m-row A) and tau finite? */
  private finiteReflectors(a: Ptr, lda: number, m: number, k: number, tau: Ptr): boolean {
    const A = this.heap.f32, o = a >> 2, t = tau >> 2;
    for (let j = 0; j < k; j++) {
      if (!isFiniteF(A[t + j])) return false;
      for (let i = j + 1; i < m; i++) if (!isFiniteF(A[o + i * lda + j])) return false;
    }
    return true;
  }

  /**
   * Householder QR of the m×ncols matrix whose columns are the rows of W (W[j·ldw + i] = A_ij), in
   * place: column j ends as (R_0j..R_jj, v_j below), τ_j at F[tau + j].
   */
  private qrCols(w: number, ldw: number, m: number, ncols: number, tau: number): void {
    const F = this.heap.f64;
    const k = Math.min(m, ncols);
    for (let j = 0; j < k; j++) {
      const cj = w + j * ldw;
      let sq = 0;
      for (let i = j + 1; i < m; i++) sq += F[cj + i] * F[cj + i];
      const [beta, t, scale] = house(F[cj + j], sq, F, cj + j + 1, m - j - 1);
      F[tau + j] = t;
      if (t === 0) continue;
      for (let i = j + 1; i < m; i++) F[cj + i] *= scale;
      F[cj + j] = beta;
      for (let c = j + 1; c < ncols; c++) {
        const cc = w + c * ldw;
        let s = F[cc + j];
        for (let i = j + 1; i < m; i++) s += F[cj + i] * F[cc + i];
        s *= t;
        F[cc + j] -= s;
        for (let i = j + 1; i < m; i++) F[cc + i] -= s * F[cj + i];
      }
    }
  }

  /**
   * y ← H·y for the `count` vectors y_c = F[y + c·ldy + ·] (components from..from+len−1), where
   * H = I − τ·v·vᵀ and v = F[v + 0..len−1].
   */
  private reflect(v: number, tau: number, len: number, y: number, ldy: number, count: number, from: number): void {
    if (tau === 0) return;
    const F = this.heap.f64;
    for (let c = 0; c < count; c++) {
      const yc = y + c * ldy + from;
      let s = 0;
      for (let i = 0; i < len; i++) s += F[v + i] * F[yc + i];
      s *= tau;
      for (let i = 0; i < len; i++) F[yc + i] -= s * F[v + i];
    }
  }

  /**
   * Copies reflector j (components j..m−1, unit first) into F[dst..] from f32 storage (`f32` true) or
   * f64, element i of reflector j being at base + j·sr + i·sc; returns τ = 2/‖v‖² (0 when the stored
   * τ is 0).
   */
  private gatherReflector(f32: boolean, base: number, sr: number, sc: number, j: number, m: number, storedTau: number, dst: number): number {
    const F = this.heap.f64, A = f32 ? this.heap.f32 : F;
    F[dst] = 1;
    let sq = 0;
    for (let i = j + 1; i < m; i++) {
      const x = A[base + j * sr + i * sc];
      F[dst + i - j] = x;
      sq += x * x;
    }
    return storedTau === 0 ? 0 : 2 / (1 + sq);
  }

  /**
   * Tridiagonalizes the symmetric n×n S (row-major, ld n, both triangles), LAPACK `sytd2` style with
   * row storage: d[k] = S_kk, e[k] = T_k,k+1; reflector k (k = 0..n−3) acts on indices k+1..n−1, its
   * vector (unit first) is left in S[k][k+1..n−1], τ_k in F[tau + k]. p and w are n-vectors of work.
   */
  private tridiagonalize(s: number, n: number, d: number, e: number, tau: number, p: number, w: number): void {
    const F = this.heap.f64;
    for (let k = 0; k + 2 < n; k++) {
      const rk = s + k * n;
      // Reflector from x = S[k][k+1..n−1] (column k below the diagonal, by symmetry).
      let sq = 0;
      for (let j = k + 2; j < n; j++) sq += F[rk + j] * F[rk + j];
      const [beta, t, scale] = house(F[rk + k + 1], sq, F, rk + k + 2, n - k - 2);
      F[d + k] = F[rk + k];
      F[e + k] = beta;
      F[tau + k] = t;
      F[rk + k + 1] = 1;
      for (let j = k + 2; j < n; j++) F[rk + j] *= scale;
      if (t === 0) {
        for (let j = k + 2; j < n; j++) F[rk + j] = 0;
        continue;
      }
      // p = τ·S₂₂·v over the trailing block (indices k+1..n−1).
      let pv = 0;
      for (let i = k + 1; i < n; i++) {
        const ri = s + i * n;
        let acc = 0;
        for (let j = k + 1; j < n; j++) acc += F[ri + j] * F[rk + j];
        F[p + i] = t * acc;
        pv += F[p + i] * F[rk + i];
      }
      // w = p − (τ/2)(pᵀv)·v;  S₂₂ ← S₂₂ − v·wᵀ − w·vᵀ.
      const kk = 0.5 * t * pv;
      for (let i = k + 1; i < n; i++) F[w + i] = F[p + i] - kk * F[rk + i];
      for (let i = k + 1; i < n; i++) {
        const ri = s + i * n, vi = F[rk + i], wi = F[w + i];
        for (let j = k + 1; j < n; j++) F[ri + j] -= vi * F[w + j] + wi * F[rk + j];
      }
    }
    if (n >= 2) {
      F[d + n - 2] = F[s + (n - 2) * n + n - 2];
      F[e + n - 2] = F[s + (n - 2) * n + n - 1];
    }
    if (n >= 1) F[d + n - 1] = F[s + (n - 1) * n + n - 1];
    if (n >= 1) F[e + n - 1] = 0;
  }

  /**
   * Eigenvalues of the tridiagonal (d, e) (e[i] couples i and i+1; destroyed) by the implicit QL
   * iteration with Wilkinson shifts (EISPACK `tql2`), into d, unordered. With zb ≥ 0 (a divide-and-
   * conquer leaf) the n×n block of Z at zb (row stride ld) is set to I and receives every rotation on
   * its columns. Returns OK or NO_CONVERGENCE (more than 30·n sweeps).
   */
  private ql(d: number, e: number, n: number, zb = -1, ld = 0): number {
    const F = this.heap.f64;
    if (n <= 0) return OK;
    if (zb >= 0) for (let r = 0; r < n; r++) F[zb + r * ld + r] = 1;
    F[e + n - 1] = 0;
    let budget = 30 * n;
    for (let l = 0; l < n; l++) {
      for (;;) {
        let m = l;
        for (; m < n - 1; m++) {
          const em = Math.abs(F[e + m]);
          if (em <= EPS64 * (Math.abs(F[d + m]) + Math.abs(F[d + m + 1])) || em <= TINY64) break;
        }
        if (m === l) break;
        if (budget-- === 0) return NO_CONVERGENCE;
        let g = (F[d + l + 1] - F[d + l]) / (2 * F[e + l]);
        let r = hypot2(g, 1);
        g = F[d + m] - F[d + l] + F[e + l] / (g + (g >= 0 ? r : -r));
        let s = 1, c = 1, p = 0;
        let split = false;
        for (let i = m - 1; i >= l; i--) {
          const f = s * F[e + i], b = c * F[e + i];
          r = hypot2(f, g);
          F[e + i + 1] = r;
          if (r === 0) {
            F[d + i + 1] -= p;
            F[e + m] = 0;
            split = true;
            break;
          }
          s = f / r;
          c = g / r;
          g = F[d + i + 1] - p;
          r = (F[d + i] - g) * s + 2 * c * b;
          p = s * r;
          F[d + i + 1] = g + p;
          g = c * r - b;
          if (zb >= 0) {
            for (let row = 0; row < n; row++) {
              const pr = zb + row * ld;
              const a0 = F[pr + i], a1 = F[pr + i + 1];
              F[pr + i + 1] = s * a0 + c * a1;
              F[pr + i] = c * a0 - s * a1;
            }
          }
        }
        if (split) continue;
        F[d + l] -= p;
        F[e + l] = g;
        F[e + m] = 0;
      }
    }
    return OK;
  }

  /**
   * Sorts d descending (ties by index) and, when y ≥ 0, permutes the rows of Y (n×n) alike and gives
   * each row a positive largest-magnitude component. perm: n i32 of work; tmp: n f64 of work.
   */
  private sortDescending(d: number, n: number, y: number, perm: number, tmp: number): void {
    const F = this.heap.f64;
    const I = new Int32Array(this.heap.f64.buffer);
    for (let i = 0; i < n; i++) I[perm + i] = i;
    // Insertion sort on (−d, index): a total order, so the result does not depend on the sort method.
    const before = (a: number, b: number): boolean => F[d + a] > F[d + b] || (F[d + a] === F[d + b] && a < b);
    for (let i = 1; i < n; i++) {
      const x = I[perm + i];
      let j = i - 1;
      while (j >= 0 && before(x, I[perm + j])) {
        I[perm + j + 1] = I[perm + j];
        j--;
      }
      I[perm + j + 1] = x;
    }
    for (let i = 0; i < n; i++) F[tmp + i] = F[d + I[perm + i]];
    for (let i = 0; i < n; i++) F[d + i] = F[tmp + i];
    if (y < 0) return;
    // Row permutation Y[i] ← Y[perm[i]], then signs.
    const copy = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) copy[i] = F[y + i];
    for (let i = 0; i < n; i++) {
      const src = I[perm + i] * n, dst = y + i * n;
      let big = 0, at = 0;
      for (let k = 0; k < n; k++) {
        const a = Math.abs(copy[src + k]);
        if (a > big) {
          big = a;
          at = k;
        }
      }
      const sg = copy[src + at] < 0 ? -1 : 1;
      for (let k = 0; k < n; k++) F[dst + k] = sg * copy[src + k];
    }
  }

  /**
   * Eigendecomposition of the symmetric n×n S (f64, row-major, ld n, destroyed): eigenvalues
   * descending into d; when wantVectors, the eigenvectors as rows of Y (n×n). Work regions from `lay`.
   */
  private eighCore(s: number, y: number, n: number, wantVectors: boolean, lay: EighLayout): number {
    const F = this.heap.f64;
    this.tridiagonalize(s, n, lay.d, lay.e, lay.tau, lay.p, lay.w);
    if (!wantVectors) {
      const st = this.ql(lay.d, lay.e, n);
      if (st !== OK) return st;
      this.sortDescending(lay.d, n, -1, lay.perm, lay.p);
      return OK;
    }
    // Eigenvectors of T by divide and conquer: Z (n×n, columns = vectors) in Y's region.
    const st = this.divideAndConquer(lay.d, lay.e, n, y);
    if (st !== OK) return st;
    // V = Q·Z with Q = H_0·…·H_{n−3} (H_k acts on rows k+1..n−1, v_k in S[k][k+1..n−1]): H_{n−3} first.
    const srow = new Float64Array(n);
    for (let k = n - 3; k >= 0; k--) {
      const t = F[lay.tau + k];
      if (t === 0) continue;
      const rk = s + k * n;
      srow.fill(0);
      for (let i = k + 1; i < n; i++) {
        const vi = F[rk + i], zi = y + i * n;
        for (let j = 0; j < n; j++) srow[j] += vi * F[zi + j];
      }
      for (let i = k + 1; i < n; i++) {
        const vi = t * F[rk + i], zi = y + i * n;
        for (let j = 0; j < n; j++) F[zi + j] -= vi * srow[j];
      }
    }
    // Y = Vᵀ (rows = eigenvectors), then the order and signs.
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const t = F[y + i * n + j];
        F[y + i * n + j] = F[y + j * n + i];
        F[y + j * n + i] = t;
      }
    }
    this.sortDescending(lay.d, n, y, lay.perm, lay.p);
    return OK;
  }

  // --------------------------------------------------------------------------------------------------
  // Divide and conquer (Cuppen, Gu–Eisenstat), as assembly/linalg-dc.ts

  /**
   * Eigenpairs of the tridiagonal (d, e) (e[i] couples i and i+1; destroyed): eigenvalues into d
   * (unordered), eigenvectors as the columns of the n×n row-major Z.
   */
  private divideAndConquer(d: number, e: number, n: number, z: number): number {
    const F = this.heap.f64;
    for (let i = 0; i < n * n; i++) F[z + i] = 0;
    return this.dcRange(d, e, 0, n, z, n);
  }

  private dcRange(d: number, e: number, lo: number, hi: number, z: number, ld: number): number {
    const F = this.heap.f64;
    const s = hi - lo;
    if (s <= DC_LEAF) return this.ql(d + lo, e + lo, s, z + lo * ld + lo, ld);
    // Tear: T = diag(T₁ − |β|·e_last·e_lastᵀ, T₂ − |β|·e_1·e_1ᵀ) + |β|·w·wᵀ, w = e_last ± e_1.
    const mid = lo + (s >> 1);
    const beta = F[e + mid - 1];
    F[d + mid - 1] -= Math.abs(beta);
    F[d + mid] -= Math.abs(beta);
    let st = this.dcRange(d, e, lo, mid, z, ld);
    if (st !== OK) return st;
    st = this.dcRange(d, e, mid, hi, z, ld);
    if (st !== OK) return st;
    this.dcMerge(d, lo, mid, hi, beta, z, ld);
    return OK;
  }

  /**
   * Merges the solved halves [lo, mid) and [mid, hi) coupled by β (see assembly/linalg-dc.ts `merge`):
   * deflation, secular equation, Gu–Eisenstat vectors, Z_block ← Z_block·U. The block's eigenpairs end
   * non-deflated first (ascending), then the deflated ones.
   */
  private dcMerge(d: number, lo: number, mid: number, hi: number, beta: number, z: number, ld: number): void {
    if (beta === 0) return;
    const F = this.heap.f64;
    const s = hi - lo, n1 = mid - lo;
    const zb = z + lo * ld + lo;
    const dd = d + lo;
    const rho = 2 * Math.abs(beta);
    const sg = beta >= 0 ? 1 : -1;
    const zv = new Float64Array(s), ctype = new Int32Array(s);
    let dmax = 0;
    for (let j = 0; j < s; j++) {
      zv[j] = (F[zb + (n1 - 1) * ld + j] + sg * F[zb + n1 * ld + j]) * Math.SQRT1_2;
      ctype[j] = j < n1 ? 1 : 2;
      dmax = Math.max(dmax, Math.abs(F[dd + j]));
    }
    const order = Array.from({ length: s }, (_, j) => j).sort((a, b) => F[dd + a] - F[dd + b] || a - b);
    // Deflation.
    const tol = 8 * EPS64 * Math.max(dmax, rho);
    const K: number[] = [], deflated: number[] = [];
    let prev = -1;
    for (const j of order) {
      if (rho * Math.abs(zv[j]) <= tol) {
        deflated.push(j);
        continue;
      }
      if (prev < 0) {
        prev = j;
        continue;
      }
      const r = hypot2(zv[prev], zv[j]);
      const c = zv[j] / r, sn = zv[prev] / r;
      if (Math.abs((F[dd + j] - F[dd + prev]) * c * sn) <= tol) {
        for (let row = 0; row < s; row++) {
          const pr = zb + row * ld;
          const qp = F[pr + prev], qj = F[pr + j];
          F[pr + prev] = c * qp - sn * qj;
          F[pr + j] = sn * qp + c * qj;
        }
        const dp = F[dd + prev], dj = F[dd + j];
        F[dd + prev] = c * c * dp + sn * sn * dj;
        F[dd + j] = sn * sn * dp + c * c * dj;
        zv[prev] = 0;
        zv[j] = r;
        if (ctype[prev] !== ctype[j]) ctype[prev] = ctype[j] = 3;
        deflated.push(prev);
      } else {
        K.push(prev);
      }
      prev = j;
    }
    if (prev >= 0) K.push(prev);
    const k = K.length;
    if (k === 0) return;
    // Secular equation, scaled by a power of two σ ≈ max(|d_K|, ρ) (exact; roots, ẑ and U are
    // scale-invariant, and nothing overflows or underflows however small the block).
    let kmax = rho;
    for (const j of K) kmax = Math.max(kmax, Math.abs(F[dd + j]));
    const sigma = pow2Below(kmax), rs = rho / sigma;
    const dk = Float64Array.from(K, (j) => F[dd + j] / sigma), zk = Float64Array.from(K, (j) => zv[j]);
    const origin = new Int32Array(k), rtau = new Float64Array(k);
    for (let i = 0; i < k; i++) [origin[i], rtau[i]] = secularRoot(i, dk, zk, rs);
    // Gu–Eisenstat ẑ and the eigenvectors U of D + ρ·ẑ·ẑᵀ (columns), unit length.
    const zhat = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let w = ((dk[origin[j]] - dk[j]) + rtau[j]) / rs;
      for (let i = 0; i < k; i++) if (i !== j) w *= ((dk[origin[i]] - dk[j]) + rtau[i]) / (dk[i] - dk[j]);
      zhat[j] = zk[j] >= 0 ? Math.sqrt(Math.abs(w)) : -Math.sqrt(Math.abs(w));
    }
    const u = new Float64Array(k * k); // u[t·k + i]: component t (K order) of vector i
    const norm = new Float64Array(k);
    for (let t = 0; t < k; t++) {
      for (let i = 0; i < k; i++) {
        const x = zhat[t] / ((dk[t] - dk[origin[i]]) - rtau[i]);
        u[t * k + i] = x;
        norm[i] += x * x;
      }
    }
    for (let i = 0; i < k; i++) norm[i] = 1 / Math.sqrt(norm[i]);
    // New block: columns 0..k−1 = Z_block[:, K]·U, then the deflated columns; eigenvalues alike.
    const old = new Float64Array(s * s);
    for (let row = 0; row < s; row++) for (let c = 0; c < s; c++) old[row * s + c] = F[zb + row * ld + c];
    const dOld = Float64Array.from({ length: s }, (_, j) => F[dd + j]);
    for (let row = 0; row < s; row++) {
      const pr = zb + row * ld;
      for (let i = 0; i < k; i++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += old[row * s + K[t]] * (u[t * k + i] * norm[i]);
        F[pr + i] = acc;
      }
      for (let t = 0; t < deflated.length; t++) F[pr + k + t] = old[row * s + deflated[t]];
    }
    for (let i = 0; i < k; i++) F[dd + i] = (dk[origin[i]] + rtau[i]) * sigma;
    for (let t = 0; t < deflated.length; t++) F[dd + k + t] = dOld[deflated[t]];
  }

  // --------------------------------------------------------------------------------------------------
  // Kernels

  qrFactor(a: Ptr, lda: number, m: number, n: number, tau: Ptr, scratch: Ptr): number {
    if (m < 0 || n < 0 || lda < n || (a & 3) !== 0 || (tau & 3) !== 0 || (scratch & 7) !== 0) return BAD_ARGUMENT;
    if (!this.finiteF32(a, lda, m, n)) return NON_FINITE;
    const A = this.heap.f32, F = this.heap.f64, o = a >> 2, k = Math.min(m, n);
    const bump = new Bump(scratch);
    const w = bump.f64(m * n), t = bump.f64(k);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) F[w + j * m + i] = A[o + i * lda + j];
    this.qrCols(w, m, m, n, t);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) A[o + i * lda + j] = F[w + j * m + i];
    for (let j = 0; j < k; j++) A[(tau >> 2) + j] = F[t + j];
    return OK;
  }

  qrFormQ(q: Ptr, ldq: number, a: Ptr, lda: number, m: number, n: number, cols: number, tau: Ptr, scratch: Ptr): number {
    if (m < 0 || n < 0 || cols < 0 || cols > m || lda < n || ldq < cols) return BAD_ARGUMENT;
    if (((q | a | tau) & 3) !== 0 || (scratch & 7) !== 0) return BAD_ARGUMENT;
    const k = Math.min(m, n);
    if (!this.finiteReflectors(a, lda, m, k, tau)) return NON_FINITE;
    const A = this.heap.f32, F = this.heap.f64;
    const bump = new Bump(scratch);
    const qt = bump.f64(m * cols), v = bump.f64(m); // v: inside the block work
    // Qt rows are the columns of Q: start from e_c, apply H_{k−1} first (backward accumulation).
    for (let i = 0; i < m * cols; i++) F[qt + i] = 0;
    for (let c = 0; c < cols; c++) F[qt + c * m + c] = 1;
    for (let j = k - 1; j >= 0; j--) {
      if (j >= cols) continue; // H_j leaves columns < j untouched
      const t = this.gatherReflector(true, a >> 2, 1, lda, j, m, A[(tau >> 2) + j], v);
      this.reflect(v, t, m - j, qt + j * m, m, cols - j, j);
    }
    const oq = q >> 2;
    for (let i = 0; i < m; i++) for (let c = 0; c < cols; c++) A[oq + i * ldq + c] = F[qt + c * m + i];
    return OK;
  }

  qrApply(c: Ptr, ldc: number, a: Ptr, lda: number, m: number, kRefl: number, tau: Ptr, p: number, mode: number, scratch: Ptr): number {
    const left = mode === 0 || mode === 1;
    if (m < 0 || kRefl < 0 || kRefl > m || p < 0 || lda < kRefl || !(mode >= 0 && mode <= 3)) return BAD_ARGUMENT;
    if (ldc < (left ? p : m) || ((c | a | tau) & 3) !== 0 || (scratch & 7) !== 0) return BAD_ARGUMENT;
    const rows = left ? m : p, width = left ? p : m;
    if (!this.finiteReflectors(a, lda, m, kRefl, tau) || !this.finiteF32(c, ldc, rows, width)) return NON_FINITE;
    const A = this.heap.f32, F = this.heap.f64, oc = c >> 2;
    const bump = new Bump(scratch);
    const x = bump.f64(m * p), v = bump.f64(m);
    // Vectors x_r (length m) transformed by Q or Qᵀ: columns of C (left) or rows of C (right, where
    // C·Q = (Qᵀ·Cᵀ)ᵀ).
    for (let r = 0; r < p; r++) for (let i = 0; i < m; i++) F[x + r * m + i] = left ? A[oc + i * ldc + r] : A[oc + r * ldc + i];
    // Q·x applies H_{k−1} first; Qᵀ·x applies H_0 first.
    const byQ = mode === 0 || mode === 3;
    for (let s = 0; s < kRefl; s++) {
      const j = byQ ? kRefl - 1 - s : s;
      const t = this.gatherReflector(true, a >> 2, 1, lda, j, m, A[(tau >> 2) + j], v);
      this.reflect(v, t, m - j, x, m, p, j);
    }
    for (let r = 0; r < p; r++) {
      for (let i = 0; i < m; i++) {
        if (left) A[oc + i * ldc + r] = F[x + r * m + i];
        else A[oc + r * ldc + i] = F[x + r * m + i];
      }
    }
    return OK;
  }

  eigh(v: Ptr, ldv: number, w: Ptr, a: Ptr, lda: number, n: number, scratch: Ptr): number {
    if (n < 0 || lda < n || (v !== 0 && ldv < n) || ((v | w | a) & 3) !== 0 || (scratch & 7) !== 0) return BAD_ARGUMENT;
    if (!this.finiteF32(a, lda, n, n)) return NON_FINITE;
    const A = this.heap.f32, F = this.heap.f64, o = a >> 2;
    const lay = eighLayout(new Bump(scratch), n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) F[lay.s + i * n + j] = 0.5 * (A[o + i * lda + j] + A[o + j * lda + i]);
    const st = this.eighCore(lay.s, lay.y, n, v !== 0, lay);
    if (st !== OK) return st;
    for (let i = 0; i < n; i++) A[(w >> 2) + i] = F[lay.d + i];
    if (v !== 0) {
      const ov = v >> 2;
      for (let r = 0; r < n; r++) for (let j = 0; j < n; j++) A[ov + r * ldv + j] = F[lay.y + j * n + r];
    }
    return OK;
  }

  svd(u: Ptr, ldu: number, s: Ptr, vt: Ptr, ldvt: number, a: Ptr, lda: number, m: number, n: number, full: number, scratch: Ptr): number {
    const big = Math.max(m, n), k = Math.min(m, n);
    const vectors = u !== 0 || vt !== 0;
    if (m < 0 || n < 0 || lda < n || (full !== 0 && full !== 1) || (u === 0) !== (vt === 0)) return BAD_ARGUMENT;
    const cols = full ? big : k;
    if (vectors && (ldu < (full ? m : k) || ldvt < n)) return BAD_ARGUMENT;
    if (((u | s | vt | a) & 3) !== 0 || (scratch & 7) !== 0) return BAD_ARGUMENT;
    if (!this.finiteF32(a, lda, m, n)) return NON_FINITE;
    const A = this.heap.f32, F = this.heap.f64, o = a >> 2;
    const tall = m >= n;
    const M = big, N = k; // X = A (tall) or Aᵀ (wide) is M×N, M ≥ N
    const bump = new Bump(scratch);
    const x = bump.f64(M * N), bt = bump.f64(M * N), qt = bump.f64(M * cols), sig = bump.f64(N), tq = bump.f64(N);
    const lay = eighLayout(bump, N);
    // X, row-major M×N.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        if (tall) F[x + i * N + j] = A[o + i * lda + j];
        else F[x + j * N + i] = A[o + i * lda + j];
      }
    }
    // G = Xᵀ·X into S.
    const g = lay.s;
    for (let i = 0; i < N * N; i++) F[g + i] = 0;
    for (let r = 0; r < M; r++) {
      const xr = x + r * N;
      for (let i = 0; i < N; i++) {
        const xi = F[xr + i];
        for (let j = 0; j < N; j++) F[g + i * N + j] += xi * F[xr + j];
      }
    }
    const st = this.eighCore(g, lay.y, N, vectors, lay);
    if (st !== OK) return st;
    if (!vectors) {
      for (let i = 0; i < N; i++) A[(s >> 2) + i] = Math.sqrt(Math.max(F[lay.d + i], 0));
      return OK;
    }
    const y = lay.y;
    // Bᵀ: row i = X·y_i (the i-th column of B = X·V), σ_i = its norm, then normalized.
    for (let i = 0; i < N; i++) {
      const yi = y + i * N, bi = bt + i * M;
      let sq = 0;
      for (let r = 0; r < M; r++) {
        const xr = x + r * N;
        let acc = 0;
        for (let j = 0; j < N; j++) acc += F[xr + j] * F[yi + j];
        F[bi + r] = acc;
        sq += acc * acc;
      }
      F[sig + i] = Math.sqrt(sq);
    }
    this.sortColumns(sig, N, bt, M, y, lay.perm, lay.p);
    for (let i = 0; i < N; i++) {
      const si = F[sig + i];
      if (si > 0) for (let r = 0; r < M; r++) F[bt + i * M + r] /= si;
    }
    for (let i = 0; i < N; i++) A[(s >> 2) + i] = F[sig + i];
    const ou = u >> 2, ovt = vt >> 2;
    // Well-conditioned and nothing to complete: U = B·Σ⁻¹ is orthonormal to ε₆₄·σ₁²/(σᵢσⱼ) ≤ 2e-8 (the
    // columns of Y are G-orthogonal to working precision); otherwise orthonormalize B by QR.
    if (cols === N && N > 0 && F[sig + N - 1] > 0 && F[sig + N - 1] >= DIRECT_U * F[sig]) {
      for (let i = 0; i < N; i++) {
        for (let r = 0; r < M; r++) {
          if (tall) A[ou + r * ldu + i] = F[bt + i * M + r];
          else A[ovt + i * ldvt + r] = F[bt + i * M + r];
        }
        for (let j = 0; j < N; j++) {
          if (tall) A[ovt + i * ldvt + j] = F[y + i * N + j];
          else A[ou + j * ldu + i] = F[y + i * N + j];
        }
      }
      return OK;
    }
    // B = Q·R; Qt rows = the first `cols` columns of Q.
    this.qrCols(bt, M, M, N, tq);
    for (let i = 0; i < M * cols; i++) F[qt + i] = 0;
    for (let c = 0; c < cols; c++) F[qt + c * M + c] = 1;
    const vv = bump.f64(M); // inside blockWorkBytes(M), counted after the eigensolver's regions
    for (let j = N - 1; j >= 0; j--) {
      const t = this.gatherReflector(false, bt, M, 1, j, M, F[tq + j], vv);
      this.reflect(vv, t, M - j, qt + j * M, M, cols - j, j);
    }
    for (let i = 0; i < N; i++) {
      if (F[bt + i * M + i] < 0) for (let r = 0; r < M; r++) F[qt + i * M + r] = -F[qt + i * M + r];
    }
    if (tall) {
      for (let r = 0; r < M; r++) for (let c = 0; c < cols; c++) A[ou + r * ldu + c] = F[qt + c * M + r];
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) A[ovt + i * ldvt + j] = F[y + i * N + j];
    } else {
      for (let r = 0; r < N; r++) for (let i = 0; i < N; i++) A[ou + r * ldu + i] = F[y + i * N + r];
      for (let c = 0; c < cols; c++) for (let j = 0; j < M; j++) A[ovt + c * ldvt + j] = F[qt + c * M + j];
    }
    return OK;
  }

  /**
   * Orders σ (N values) descending, stable, permuting the rows of Bᵀ (length M) and of Y (length N)
   * alike. A no-op unless rounding reordered nearly equal singular values.
   */
  private sortColumns(sig: number, N: number, bt: number, M: number, y: number, perm: number, tmp: number): void {
    const F = this.heap.f64;
    let sorted = true;
    for (let i = 1; i < N; i++) if (F[sig + i] > F[sig + i - 1]) sorted = false;
    if (sorted) return;
    const I = new Int32Array(F.buffer);
    for (let i = 0; i < N; i++) I[perm + i] = i;
    for (let i = 1; i < N; i++) {
      const xi = I[perm + i];
      let j = i - 1;
      while (j >= 0 && F[sig + xi] > F[sig + I[perm + j]]) {
        I[perm + j + 1] = I[perm + j];
        j--;
      }
      I[perm + j + 1] = xi;
    }
    const bcopy = F.slice(bt, bt + N * M), ycopy = F.slice(y, y + N * N);
    for (let i = 0; i < N; i++) F[tmp + i] = F[sig + I[perm + i]];
    for (let i = 0; i < N; i++) {
      const src = I[perm + i];
      F[sig + i] = F[tmp + i];
      for (let r = 0; r < M; r++) F[bt + i * M + r] = bcopy[src * M + r];
      for (let r = 0; r < N; r++) F[y + i * N + r] = ycopy[src * N + r];
    }
  }
}

/** Scratch regions of the eigensolver (f64 / i32 element indices). */
interface EighLayout {
  s: number;
  y: number;
  d: number;
  e: number;
  tau: number;
  p: number;
  w: number;
  perm: number;
}

/** The eigensolver's regions, in the order `eighScratchBytes` counts them. */
function eighLayout(bump: Bump, n: number): EighLayout {
  const s = bump.f64(n * n), y = bump.f64(n * n);
  const d = bump.f64(n), e = bump.f64(n), tau = bump.f64(n), p = bump.f64(n), w = bump.f64(n);
  const perm = bump.i32(n);
  bump.skip(blockWorkBytes(n) + dcWorkBytes(n));
  return { s, y, d, e, tau, p, w, perm };
}
