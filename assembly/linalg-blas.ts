/**
 * f64 building blocks of the linalg kernels (`./linalg.ts`): dot, axpy, scale, an f64x2 matrix-product
 * micro-kernel, transposes, finiteness checks. Stateless and allocation-free like every kernel here;
 * all arrays are caller memory (byte pointers), sizes and strides in elements.
 *
 * These are linalg's own loops (the GEMM family in `./gemm.ts` is f32 and bit-exact; linalg works in
 * f64 throughout).
 */

/** Byte address of f64 element `i` of `base`. */
// @ts-ignore: decorator
@inline export function at8(base: usize, i: i32): usize {
  return base + (<usize>i << 3);
}

/** Byte address of f32 element `i` of `base`. */
// @ts-ignore: decorator
@inline export function at4(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** Σ x_i·y_i over n f64 values (four f64x2 partial sums, then the tail). */
export function dot64(x: usize, y: usize, n: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let a3 = f64x2.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const px = at8(x, i), py = at8(y, i);
    a0 = f64x2.add(a0, f64x2.mul(v128.load(px), v128.load(py)));
    a1 = f64x2.add(a1, f64x2.mul(v128.load(px, 16), v128.load(py, 16)));
    a2 = f64x2.add(a2, f64x2.mul(v128.load(px, 32), v128.load(py, 32)));
    a3 = f64x2.add(a3, f64x2.mul(v128.load(px, 48), v128.load(py, 48)));
  }
  for (; i + 2 <= n; i += 2) a0 = f64x2.add(a0, f64x2.mul(v128.load(at8(x, i)), v128.load(at8(y, i))));
  const s = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  if (i < n) r += load<f64>(at8(x, i)) * load<f64>(at8(y, i));
  return r;
}

/** y_i ← y_i + a·x_i over n f64 values. */
export function axpy64(y: usize, x: usize, n: i32, a: f64): void {
  const av = f64x2.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const px = at8(x, i), py = at8(y, i);
    v128.store(py, f64x2.add(v128.load(py), f64x2.mul(av, v128.load(px))));
    v128.store(py, f64x2.add(v128.load(py, 16), f64x2.mul(av, v128.load(px, 16))), 16);
  }
  for (; i < n; i++) {
    const py = at8(y, i);
    store<f64>(py, load<f64>(py) + a * load<f64>(at8(x, i)));
  }
}

/** x_i ← x_i·a over n f64 values. */
export function scale64(x: usize, n: i32, a: f64): void {
  const av = f64x2.splat(a);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const px = at8(x, i);
    v128.store(px, f64x2.mul(v128.load(px), av));
  }
  if (i < n) store<f64>(at8(x, i), load<f64>(at8(x, i)) * a);
}

/** Fills n f64 with v. */
export function fill64(x: usize, n: i32, v: f64): void {
  const vv = f64x2.splat(v);
  let i = 0;
  for (; i + 2 <= n; i += 2) v128.store(at8(x, i), vv);
  if (i < n) store<f64>(at8(x, i), v);
}

/** Copies n f64 from x to y (non-overlapping). */
export function copy64(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) v128.store(at8(y, i), v128.load(at8(x, i)));
  if (i < n) store<f64>(at8(y, i), load<f64>(at8(x, i)));
}

/** The rows×cols f64 matrix X (stride ldx) ← I (ones on the diagonal, zeros elsewhere). */
export function identity64(x: usize, ldx: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) {
    fill64(at8(x, i * ldx), cols, 0);
    if (i < cols) store<f64>(at8(x, i * ldx + i), 1);
  }
}

// ---------------------------------------------------------------------------------------------------
// Matrix product (packed, cache-blocked)

// Blocking (elements). Keep `gemmPackElems` in sync with `gemmPackElements` in src/kernels/linalg.ts.
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const NCB: i32 = 128;
// @ts-ignore: decorator
@inline const MCB: i32 = 32;

/** f64 elements of packing space for products whose dimensions are all ≤ D. */
// @ts-ignore: decorator
@inline export function gemmPackElems(D: i32): i32 {
  const d = max(D, 1);
  const kc = min(KC, d), nc = min(NCB, (d + 7) & ~7), mc = min(MCB, (d + 1) & ~1);
  return kc * nc + 2 * mc * kc;
}

/** Stores the valid part (rows < rows, columns < cols) of a 1×8 accumulator row at p. */
// @ts-ignore: decorator
@inline function storeRow8(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, cols: i32, al: v128, add: bool): void {
  const r0 = f64x2.mul(al, a0), r1 = f64x2.mul(al, a1), r2 = f64x2.mul(al, a2), r3 = f64x2.mul(al, a3);
  if (cols == 8) {
    if (add) {
      v128.store(p, f64x2.add(v128.load(p), r0));
      v128.store(p, f64x2.add(v128.load(p, 16), r1), 16);
      v128.store(p, f64x2.add(v128.load(p, 32), r2), 32);
      v128.store(p, f64x2.add(v128.load(p, 48), r3), 48);
    } else {
      v128.store(p, r0);
      v128.store(p, r1, 16);
      v128.store(p, r2, 32);
      v128.store(p, r3, 48);
    }
    return;
  }
  for (let c = 0; c < cols; c++) {
    const v = c < 2 ? r0 : c < 4 ? r1 : c < 6 ? r2 : r3;
    const x = (c & 1) == 0 ? f64x2.extract_lane(v, 0) : f64x2.extract_lane(v, 1);
    const pc = at8(p, c);
    if (add) store<f64>(pc, load<f64>(pc) + x);
    else store<f64>(pc, x);
  }
}

/**
 * 2×8 micro-kernel over packed panels: A panel (kc × 2, per p the two rows' values each splatted
 * to an f64x2), B strip (kc × 8); C rows i (and i+1 when rows = 2), columns < cols.
 *
 * One p step per iteration, on purpose (as `micro4x8` in ./gemm.ts): Binaryen merges the steps of a
 * source-unrolled loop into one expression tree per accumulator, which hoists the loads and makes V8
 * spill (the unrolled form ran ~25% slower). The A values come pre-splatted by the packing: two
 * plain loads per p and no shuffles (shuffles compete with the mul/add pipes on Zen 5; ~20% slower).
 */
function micro(kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, rows: i32, cols: i32, al: v128, add: bool): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c02 = f64x2.splat(0), c03 = f64x2.splat(0);
  let c10 = f64x2.splat(0), c11 = f64x2.splat(0), c12 = f64x2.splat(0), c13 = f64x2.splat(0);
  let a = pa, b = pb;
  let z0: v128, z1: v128, z2: v128, z3: v128, x: v128;
  for (let p = 0; p < kc; p++) {
    z0 = v128.load(b); z1 = v128.load(b, 16); z2 = v128.load(b, 32); z3 = v128.load(b, 48);
    x = v128.load(a);
    c00 = f64x2.add(c00, f64x2.mul(x, z0));
    c01 = f64x2.add(c01, f64x2.mul(x, z1));
    c02 = f64x2.add(c02, f64x2.mul(x, z2));
    c03 = f64x2.add(c03, f64x2.mul(x, z3));
    x = v128.load(a, 16);
    c10 = f64x2.add(c10, f64x2.mul(x, z0));
    c11 = f64x2.add(c11, f64x2.mul(x, z1));
    c12 = f64x2.add(c12, f64x2.mul(x, z2));
    c13 = f64x2.add(c13, f64x2.mul(x, z3));
    a += 32;
    b += 64;
  }
  storeRow8(c, c00, c01, c02, c03, cols, al, add);
  if (rows == 2) storeRow8(c + (<usize>ldc << 3), c10, c11, c12, c13, cols, al, add);
}

/**
 * C ← C + α·Σ_p X(i,p)·Z[p][j] (acc) or C ← α·Σ_p X(i,p)·Z[p][j] (!acc), for i < M, j < N, p < K, with
 * X(i,p) = x[i·xsi + p·xsp] (so X may be read transposed), Z and C row-major (ldz, ldc). `pack` holds
 * gemmPackElems(max(M, N, K)) f64.
 *
 * GotoBLAS structure: for each block of NCB columns and KC depths, Z's block is packed into 8-column
 * strips; for each block of MCB rows, X's block is packed into 2-row panels; the 2×8 micro-kernel
 * (8 f64x2 accumulators; per p four Z vectors, two X broadcasts, 8 mul + 8 add) sweeps strips (outer,
 * one strip stays in L1) and panels (inner). Each C element sums its products in increasing p within
 * a depth block, depth blocks in order.
 */
export function gemm64(
  M: i32, N: i32, K: i32, alpha: f64,
  x: usize, xsi: i32, xsp: i32,
  z: usize, ldz: i32,
  c: usize, ldc: i32, acc: bool, pack: usize,
): void {
  if (M <= 0 || N <= 0) return;
  const al = f64x2.splat(alpha);
  if (K <= 0) {
    if (!acc) for (let i = 0; i < M; i++) fill64(at8(c, i * ldc), N, 0);
    return;
  }
  const kcMax = min(KC, K), ncMax = min(NCB, (N + 7) & ~7);
  const bp = pack, ap = pack + (<usize>(kcMax * ncMax) << 3);
  for (let jc = 0; jc < N; jc += NCB) {
    const nc = min(NCB, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const add = acc || pc > 0;
      // Pack Z[pc..pc+kc)[jc..jc+nc) as strips of 8 columns (zero-padded), each kc×8 contiguous; Z is
      // read row by row (sequential reads, the writes land in the L2-resident packing buffer).
      const nc8 = nc & ~7;
      for (let p = 0; p < kc; p++) {
        const row = at8(z, (pc + p) * ldz + jc);
        let s = 0;
        for (; s < nc8; s += 8) {
          const src = at8(row, s), dst = bp + (<usize>(s * kc + p * 8) << 3);
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          v128.store(dst, v128.load(src, 32), 32);
          v128.store(dst, v128.load(src, 48), 48);
        }
        if (s < nc) {
          const w = nc - s;
          const src = at8(row, s), dst = bp + (<usize>(s * kc + p * 8) << 3);
          for (let q = 0; q < 8; q++) store<f64>(at8(dst, q), q < w ? load<f64>(at8(src, q)) : 0);
        }
      }
      for (let ic = 0; ic < M; ic += MCB) {
        const mc = min(MCB, M - ic);
        // Pack X(ic..ic+mc, pc..pc+kc) as 2-row panels (per p the two values as f64x2 splats, zero-padded).
        for (let r = 0; r < mc; r += 2) {
          const panel = ap + (<usize>(r * kc) << 4);
          const i0 = ic + r;
          const two = r + 1 < mc;
          for (let p = 0; p < kc; p++) {
            const q = at8(panel, 4 * p);
            v128.store(q, f64x2.splat(load<f64>(at8(x, i0 * xsi + (pc + p) * xsp))));
            v128.store(q, f64x2.splat(two ? load<f64>(at8(x, (i0 + 1) * xsi + (pc + p) * xsp)) : 0), 16);
          }
        }
        for (let s = 0; s < nc; s += 8) {
          const w = min(8, nc - s);
          const strip = bp + (<usize>(s * kc) << 3);
          for (let r = 0; r < mc; r += 2) {
            micro(kc, ap + (<usize>(r * kc) << 4), strip, at8(c, (ic + r) * ldc + jc + s), ldc, min(2, mc - r), w, al, add);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Transposes and copies

/** In-place transpose of the n×n f64 matrix X (stride ld), in 8×8 blocks. */
export function transposeSquare64(x: usize, ld: i32, n: i32): void {
  for (let ib = 0; ib < n; ib += 8) {
    const ie = min(ib + 8, n);
    // Diagonal block.
    for (let i = ib; i < ie; i++) {
      for (let j = i + 1; j < ie; j++) {
        const a = at8(x, i * ld + j), b = at8(x, j * ld + i);
        const t = load<f64>(a);
        store<f64>(a, load<f64>(b));
        store<f64>(b, t);
      }
    }
    // Blocks right of the diagonal swap with blocks below it.
    for (let jb = ib + 8; jb < n; jb += 8) {
      const je = min(jb + 8, n);
      for (let i = ib; i < ie; i++) {
        for (let j = jb; j < je; j++) {
          const a = at8(x, i * ld + j), b = at8(x, j * ld + i);
          const t = load<f64>(a);
          store<f64>(a, load<f64>(b));
          store<f64>(b, t);
        }
      }
    }
  }
}

/** Y (cols×rows, stride ldy) ← Xᵀ for the rows×cols f64 matrix X (stride ldx), in 8×8 blocks. */
export function transpose64(y: usize, ldy: i32, x: usize, ldx: i32, rows: i32, cols: i32): void {
  for (let ib = 0; ib < rows; ib += 8) {
    const ie = min(ib + 8, rows);
    for (let jb = 0; jb < cols; jb += 8) {
      const je = min(jb + 8, cols);
      for (let i = ib; i < ie; i++) {
        for (let j = jb; j < je; j++) store<f64>(at8(y, j * ldy + i), load<f64>(at8(x, i * ldx + j)));
      }
    }
  }
}

/** The rows×cols f64 matrix X (ldx) ← the f32 matrix A (lda), transposed when `trans` (X is then cols×rows). */
export function loadF32(x: usize, ldx: i32, a: usize, lda: i32, rows: i32, cols: i32, trans: bool): void {
  if (!trans) {
    for (let i = 0; i < rows; i++) {
      const pa = at4(a, i * lda), px = at8(x, i * ldx);
      let j = 0;
      for (; j + 4 <= cols; j += 4) {
        const v = v128.load(at4(pa, j));
        v128.store(at8(px, j), f64x2.promote_low_f32x4(v));
        v128.store(at8(px, j), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), 16);
      }
      for (; j < cols; j++) store<f64>(at8(px, j), <f64>load<f32>(at4(pa, j)));
    }
    return;
  }
  for (let ib = 0; ib < rows; ib += 8) {
    const ie = min(ib + 8, rows);
    for (let jb = 0; jb < cols; jb += 8) {
      const je = min(jb + 8, cols);
      for (let i = ib; i < ie; i++) {
        for (let j = jb; j < je; j++) store<f64>(at8(x, j * ldx + i), <f64>load<f32>(at4(a, i * lda + j)));
      }
    }
  }
}

/** The f32 matrix A (lda, rows×cols) ← f32(X) for the f64 matrix X (ldx), read transposed when `trans` (X is cols×rows). */
export function storeF32(a: usize, lda: i32, x: usize, ldx: i32, rows: i32, cols: i32, trans: bool): void {
  if (!trans) {
    for (let i = 0; i < rows; i++) {
      const pa = at4(a, i * lda), px = at8(x, i * ldx);
      let j = 0;
      for (; j + 4 <= cols; j += 4) {
        const lo = f32x4.demote_f64x2_zero(v128.load(at8(px, j)));
        const hi = f32x4.demote_f64x2_zero(v128.load(at8(px, j), 16));
        v128.store(at4(pa, j), v128.shuffle<f32>(lo, hi, 0, 1, 4, 5));
      }
      for (; j < cols; j++) store<f32>(at4(pa, j), <f32>load<f64>(at8(px, j)));
    }
    return;
  }
  for (let ib = 0; ib < rows; ib += 8) {
    const ie = min(ib + 8, rows);
    for (let jb = 0; jb < cols; jb += 8) {
      const je = min(jb + 8, cols);
      for (let i = ib; i < ie; i++) {
        for (let j = jb; j < je; j++) store<f32>(at4(a, i * lda + j), <f32>load<f64>(at8(x, j * ldx + i)));
      }
    }
  }
}

/** True when the `cols` f32 values at `a` are all finite (exponent bits not all ones). */
export function finiteRow(a: usize, cols: i32): bool {
  const mask = i32x4.splat(0x7f800000);
  let bad = i32x4.splat(0);
  let j = 0;
  for (; j + 4 <= cols; j += 4) bad = v128.or(bad, i32x4.eq(v128.and(v128.load(at4(a, j)), mask), mask));
  if (v128.any_true(bad)) return false;
  for (; j < cols; j++) if ((load<u32>(at4(a, j)) & 0x7f800000) == 0x7f800000) return false;
  return true;
}

/** True when the rows×cols f32 matrix A (stride lda) is all finite. */
export function finiteF32(a: usize, lda: i32, rows: i32, cols: i32): bool {
  for (let i = 0; i < rows; i++) if (!finiteRow(at4(a, i * lda), cols)) return false;
  return true;
}

/** √(a² + b²) without overflow or harmful underflow (same formula as the oracle's `hypot2`). */
export function hypot2(a: f64, b: f64): f64 {
  let x = Math.abs(a), y = Math.abs(b);
  if (x < y) {
    const t = x;
    x = y;
    y = t;
  }
  if (x == 0) return 0;
  const r = y / x;
  return x * Math.sqrt(1 + r * r);
}
