/** fisher kernels: see src/kernels/fisher.ts for the contract; bit-identical to the ref. */
import { off4, off8 } from './common';

// @ts-ignore: decorator
@inline function lo64(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

// @ts-ignore: decorator
@inline function hi64(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3));
}

export function racs_col_weight_f32(out: usize, acc: usize, g: usize, w: usize, m: i32, n: i32): void {
  const n2 = n & ~1;
  for (let j = 0; j < n; j++) store<f64>(acc + off8(j), 0);
  for (let i = 0; i < m; i++) {
    const row = g + off4(i * n);
    const wd = <f64>load<f32>(w + off4(i));
    const wv = f64x2.splat(wd);
    let j = 0;
    for (; j < n2; j += 2) {
      const x = f64x2.promote_low_f32x4(v128.load64_zero(row + off4(j)));
      const pa = acc + off8(j);
      v128.store(pa, f64x2.add(v128.load(pa), f64x2.mul(f64x2.mul(x, x), wv)));
    }
    if (j < n) {
      const x = <f64>load<f32>(row + off4(j));
      store<f64>(acc + off8(j), load<f64>(acc + off8(j)) + (x * x) * wd);
    }
  }
  for (let j = 0; j < n; j++) store<f32>(out + off4(j), <f32>load<f64>(acc + off8(j)));
}

export function racs_row_weight_f32(out: usize, g: usize, w: usize, m: i32, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < m; i++) {
    const row = g + off4(i * n);
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const a = v128.load(row + off4(j));
      const b = v128.load(w + off4(j));
      const al = lo64(a), ah = hi64(a);
      lo = f64x2.add(lo, f64x2.mul(f64x2.mul(al, al), lo64(b)));
      hi = f64x2.add(hi, f64x2.mul(f64x2.mul(ah, ah), hi64(b)));
    }
    let s0 = f64x2.extract_lane(lo, 0);
    let s1 = f64x2.extract_lane(lo, 1);
    let s2 = f64x2.extract_lane(hi, 0);
    const s3 = f64x2.extract_lane(hi, 1);
    if (j < n) {
      let x = <f64>load<f32>(row + off4(j));
      s0 += (x * x) * <f64>load<f32>(w + off4(j));
      if (j + 1 < n) {
        x = <f64>load<f32>(row + off4(j + 1));
        s1 += (x * x) * <f64>load<f32>(w + off4(j + 1));
        if (j + 2 < n) {
          x = <f64>load<f32>(row + off4(j + 2));
          s2 += (x * x) * <f64>load<f32>(w + off4(j + 2));
        }
      }
    }
    store<f32>(out + off4(i), <f32>((s0 + s1) + (s2 + s3)));
  }
}

export function racs_rsqrt_f32(out: usize, x: usize, n: i32, floor: f32): void {
  const n4 = n & ~3;
  const fv = f32x4.splat(floor);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i < n4; i += 4) {
    v128.store(out + off4(i), f32x4.div(one, f32x4.sqrt(f32x4.max(v128.load(x + off4(i)), fv))));
  }
  for (; i < n; i++) store<f32>(out + off4(i), <f32>1 / sqrt<f32>(max<f32>(load<f32>(x + off4(i)), floor)));
}

export function racs_scaled_sumsq_f32(g: usize, r: usize, c: usize, m: i32, n: i32): f64 {
  const n4 = n & ~3;
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0;
  for (let i = 0; i < m; i++) {
    const row = g + off4(i * n);
    const ri = load<f32>(r + off4(i));
    const rv = f32x4.splat(ri);
    let j = 0;
    for (; j < n4; j += 4) {
      const u = f32x4.mul(f32x4.mul(rv, v128.load(row + off4(j))), v128.load(c + off4(j)));
      const ul = lo64(u), uh = hi64(u);
      lo = f64x2.add(lo, f64x2.mul(ul, ul));
      hi = f64x2.add(hi, f64x2.mul(uh, uh));
    }
    if (j < n) {
      // Tail lanes 0..2 of this row go after the vector part of the same row (lane sums are per lane,
      // each in increasing index order): fold them into the vector accumulators' lanes.
      let u = <f64>((ri * load<f32>(row + off4(j))) * load<f32>(c + off4(j)));
      s0 = f64x2.extract_lane(lo, 0) + u * u;
      s1 = f64x2.extract_lane(lo, 1);
      s2 = f64x2.extract_lane(hi, 0);
      if (j + 1 < n) {
        u = <f64>((ri * load<f32>(row + off4(j + 1))) * load<f32>(c + off4(j + 1)));
        s1 += u * u;
        if (j + 2 < n) {
          u = <f64>((ri * load<f32>(row + off4(j + 2))) * load<f32>(c + off4(j + 2)));
          s2 += u * u;
        }
      }
      lo = f64x2.replace_lane(f64x2.replace_lane(lo, 0, s0), 1, s1);
      hi = f64x2.replace_lane(hi, 0, s2);
    }
  }
  return (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1)) + (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
}

export function racs_scaled_apply_f32(p: usize, g: usize, r: usize, c: usize, m: i32, n: i32, coeff: f32): void {
  const n4 = n & ~3;
  const kv = f32x4.splat(coeff);
  for (let i = 0; i < m; i++) {
    const row = off4(i * n);
    const ri = load<f32>(r + off4(i));
    const rv = f32x4.splat(ri);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = row + off4(j);
      const u = f32x4.mul(f32x4.mul(rv, v128.load(g + o)), v128.load(c + off4(j)));
      v128.store(p + o, f32x4.add(v128.load(p + o), f32x4.mul(kv, u)));
    }
    for (; j < n; j++) {
      const o = row + off4(j);
      const u: f32 = (ri * load<f32>(g + o)) * load<f32>(c + off4(j));
      store<f32>(p + o, load<f32>(p + o) + coeff * u);
    }
  }
}
