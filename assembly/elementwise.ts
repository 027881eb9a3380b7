/**
 * Elementwise kernels: scale, axpy, copy, fill, addDiag, normScale, lerp, the fused SGD / Adam(W) steps and Adam's direction.
 *
 * Each kernel is one pass: 4-lane `f32x4` steps (unaligned `v128.load`/`v128.store`, two per loop
 * iteration, see `common.ts`) and a scalar tail (n % 4 elements) with the same operation order.
 * Flag-dependent work is specialised outside the loops: the `*Loop` bodies are generic over `On` / `Off`
 * switches (see `common.ts`), one branch-free instantiation per flag combination. MAXIMIZE is a sign-bit
 * xor (exactly `−g`), never a branch.
 */
import {
  AMSGRAD, FIRST, KEEP_M, L2, LERP_SMALL, MOMENTUM, NESTEROV, Off, On,
  flipSign, isOn, lerp, lerpV, normScaleOf, off4, signMask,
} from './common';

// ---------------------------------------------------------------------------------------------------
// scale, axpy

// @ts-ignore: decorator
@inline function scaleStep(px: usize, sV: v128): void {
  v128.store(px, f32x4.mul(sV, v128.load(px)));
}

/** dst_i ← src_i (memmove of n f32 values). */
export function copy_f32(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, off4(n));
}

/** x_i ← value. */
export function fill_f32(x: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) v128.store(x + off4(i), v);
  for (; i < n; i++) store<f32>(x + off4(i), value);
}

/** Seeded uniform values in [−1, 1) from a counter-based hash (see src/kernels/elementwise.ts). */
export function fill_uniform_f32(x: usize, n: i32, seed: i32, offset: i32): void {
  for (let i = 0; i < n; i++) {
    let h = <u32>seed + <u32>(offset + i) * 0x9e3779b9;
    h ^= h >>> 16;
    h *= 0x7feb352d;
    h ^= h >>> 15;
    h *= 0x846ca68b;
    h ^= h >>> 16;
    store<f32>(x + off4(i), <f32>(h >>> 8) * 1.1920928955078125e-7 - 1);
  }
}

/** a_ii ← f32(a_ii + value) for i < n. */
export function add_diag_f32(a: usize, lda: i32, n: i32, value: f32): void {
  for (let i = 0; i < n; i++) {
    const p = a + off4(i * lda + i);
    store<f32>(p, load<f32>(p) + value);
  }
}

/** out_i ← normScaleOf(x_i, target) (see src/kernels/elementwise.ts). */
export function norm_scale_f32(out: usize, x: usize, n: i32, target: f64): void {
  for (let i = 0; i < n; i++) store<f32>(out + off4(i), normScaleOf(<f64>load<f32>(x + off4(i)), target));
}

/** x_i ← f32(s·x_i). */
export function scale_f32(x: usize, n: i32, s: f32): void {
  const sV = f32x4.splat(s);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const px = x + off4(i);
    scaleStep(px, sV);
    scaleStep(px + 16, sV);
  }
  if (i < n4) {
    scaleStep(x + off4(i), sV);
    i += 4;
  }
  for (; i < n; i++) {
    const px = x + off4(i);
    store<f32>(px, s * load<f32>(px));
  }
}

// @ts-ignore: decorator
@inline function axpyStep(py: usize, px: usize, aV: v128): void {
  v128.store(py, f32x4.add(v128.load(py), f32x4.mul(aV, v128.load(px))));
}

/** y_i ← f32(y_i + f32(a·x_i)). */
export function axpy_f32(y: usize, x: usize, n: i32, a: f32): void {
  const aV = f32x4.splat(a);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    axpyStep(y + o, x + o, aV);
    axpyStep(y + o + 16, x + o + 16, aV);
  }
  if (i < n4) {
    const o = off4(i);
    axpyStep(y + o, x + o, aV);
    i += 4;
  }
  for (; i < n; i++) {
    const o = off4(i);
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

// ---------------------------------------------------------------------------------------------------
// SGD

/** Four elements of SGD at byte offset `o` (flags as in `sgdLoop`). */
// @ts-ignore: decorator
@inline function sgdStep<L2_, MOM, FIRST_, NEST>(
  p: usize, g: usize, buf: usize, o: usize, signV: v128, wdV: v128, momV: v128, omdV: v128, nlrV: v128,
): void {
  let gv = v128.xor(v128.load(g + o), signV);
  const pv = v128.load(p + o);
  if (isOn<L2_>()) gv = f32x4.add(gv, f32x4.mul(wdV, pv));
  if (isOn<MOM>()) {
    let b = gv;
    if (!isOn<FIRST_>()) b = f32x4.add(f32x4.mul(v128.load(buf + o), momV), f32x4.mul(omdV, gv));
    v128.store(buf + o, b);
    if (isOn<NEST>()) gv = f32x4.add(gv, f32x4.mul(momV, b));
    else gv = b;
  }
  v128.store(p + o, f32x4.add(pv, f32x4.mul(nlrV, gv)));
}

/**
 * One SGD loop specialised at compile time: L2, MOM (momentum buffer), FIRST (buf ← g) and NEST
 * (Nesterov) are `On` / `Off`.
 */
function sgdLoop<L2_, MOM, FIRST_, NEST>(
  p: usize, g: usize, buf: usize, n: i32, wd: f32, mom: f32, omd: f32, nlr: f32, sign: u32,
): void {
  const signV = i32x4.splat(sign);
  const wdV = f32x4.splat(wd);
  const momV = f32x4.splat(mom);
  const omdV = f32x4.splat(omd);
  const nlrV = f32x4.splat(nlr);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    sgdStep<L2_, MOM, FIRST_, NEST>(p, g, buf, o, signV, wdV, momV, omdV, nlrV);
    sgdStep<L2_, MOM, FIRST_, NEST>(p, g, buf, o + 16, signV, wdV, momV, omdV, nlrV);
  }
  if (i < n4) {
    sgdStep<L2_, MOM, FIRST_, NEST>(p, g, buf, off4(i), signV, wdV, momV, omdV, nlrV);
    i += 4;
  }
  for (; i < n; i++) {
    const o = off4(i);
    let gi = flipSign(load<f32>(g + o), sign);
    const pi = load<f32>(p + o);
    if (isOn<L2_>()) gi = gi + wd * pi;
    if (isOn<MOM>()) {
      let b = gi;
      if (!isOn<FIRST_>()) b = load<f32>(buf + o) * mom + omd * gi;
      store<f32>(buf + o, b);
      if (isOn<NEST>()) gi = gi + mom * b;
      else gi = b;
    }
    store<f32>(p + o, pi + nlr * gi);
  }
}

/**
 * SGD (torch.optim.SGD), per element:
 *   g ← ±g;  if L2: g ← f32(g + f32(wd·p))
 *   if MOMENTUM: buf ← FIRST ? g : f32(f32(buf·momentum) + f32(omDampening·g))
 *                g ← NESTEROV ? f32(g + f32(momentum·buf)) : buf
 *   p ← f32(p + f32(negLr·g))
 * FIRST and NESTEROV are ignored without MOMENTUM; `buf` is then never touched.
 */
export function sgd_f32(
  p: usize, g: usize, buf: usize, n: i32, wd: f32, momentum: f32, omDampening: f32, negLr: f32, flags: i32,
): void {
  const s = signMask(flags);
  const mode = (flags & MOMENTUM) == 0 ? 0 : 1 + ((flags & FIRST) != 0 ? 2 : 0) + ((flags & NESTEROV) != 0 ? 1 : 0);
  if ((flags & L2) != 0) {
    switch (mode) {
      case 0: sgdLoop<On, Off, Off, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 1: sgdLoop<On, On, Off, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 2: sgdLoop<On, On, Off, On>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 3: sgdLoop<On, On, On, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      default: sgdLoop<On, On, On, On>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
    }
  } else {
    switch (mode) {
      case 0: sgdLoop<Off, Off, Off, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 1: sgdLoop<Off, On, Off, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 2: sgdLoop<Off, On, Off, On>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      case 3: sgdLoop<Off, On, On, Off>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
      default: sgdLoop<Off, On, On, On>(p, g, buf, n, wd, momentum, omDampening, negLr, s); break;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Adam / AdamW

/** Four elements of Adam at byte offset `o` (flags as in `adamLoop`). */
// @ts-ignore: decorator
@inline function adamStep<L2_, SMALL, AMS>(
  p: usize, g: usize, m: usize, v: usize, vmax: usize, o: usize,
  signV: v128, wdV: v128, decV: v128, a1V: v128, omA1V: v128, b2V: v128, a2V: v128, bcV: v128, epsV: v128, nssV: v128,
): void {
  let gv = v128.xor(v128.load(g + o), signV);
  let pv = v128.load(p + o);
  if (isOn<L2_>()) gv = f32x4.add(gv, f32x4.mul(wdV, pv));
  pv = f32x4.mul(pv, decV);
  const mv = lerpV<SMALL>(v128.load(m + o), gv, a1V, omA1V);
  let vv = f32x4.add(f32x4.mul(v128.load(v + o), b2V), f32x4.mul(f32x4.mul(a2V, gv), gv));
  v128.store(m + o, mv);
  v128.store(v + o, vv);
  if (isOn<AMS>()) {
    vv = f32x4.max(v128.load(vmax + o), vv);
    v128.store(vmax + o, vv);
  }
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), bcV), epsV);
  v128.store(p + o, f32x4.add(pv, f32x4.div(f32x4.mul(nssV, mv), denom)));
}

/** One Adam loop specialised at compile time: L2, SMALL (lerp branch) and AMS (AMSGrad) are `On` / `Off`. */
function adamLoop<L2_, SMALL, AMS>(
  p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  wd: f32, decay: f32, a1: f32, omA1: f32, b2: f32, a2: f32, bc2Sqrt: f32, eps: f32, nss: f32, sign: u32,
): void {
  const signV = i32x4.splat(sign);
  const wdV = f32x4.splat(wd);
  const decV = f32x4.splat(decay);
  const a1V = f32x4.splat(a1);
  const omA1V = f32x4.splat(omA1);
  const b2V = f32x4.splat(b2);
  const a2V = f32x4.splat(a2);
  const bcV = f32x4.splat(bc2Sqrt);
  const epsV = f32x4.splat(eps);
  const nssV = f32x4.splat(nss);
  const n4 = n & ~3;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const o = off4(i);
    adamStep<L2_, SMALL, AMS>(p, g, m, v, vmax, o, signV, wdV, decV, a1V, omA1V, b2V, a2V, bcV, epsV, nssV);
    adamStep<L2_, SMALL, AMS>(p, g, m, v, vmax, o + 16, signV, wdV, decV, a1V, omA1V, b2V, a2V, bcV, epsV, nssV);
  }
  if (i < n4) {
    adamStep<L2_, SMALL, AMS>(p, g, m, v, vmax, off4(i), signV, wdV, decV, a1V, omA1V, b2V, a2V, bcV, epsV, nssV);
    i += 4;
  }
  for (; i < n; i++) {
    const o = off4(i);
    let gi = flipSign(load<f32>(g + o), sign);
    let pi = load<f32>(p + o);
    if (isOn<L2_>()) gi = gi + wd * pi;
    pi = pi * decay;
    const mi = lerp<SMALL>(load<f32>(m + o), gi, a1, omA1);
    let vi: f32 = load<f32>(v + o) * b2 + (a2 * gi) * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    if (isOn<AMS>()) {
      vi = max<f32>(load<f32>(vmax + o), vi);
      store<f32>(vmax + o, vi);
    }
    const denom: f32 = sqrt<f32>(vi) / bc2Sqrt + eps;
    store<f32>(p + o, pi + (nss * mi) / denom);
  }
}

/**
 * Adam / AdamW (torch single-tensor path), per element:
 *   g ← ±g;  if L2: g ← f32(g + f32(wd·p))
 *   p ← f32(p·decay)
 *   m ← lerp(m, g, a1)
 *   v ← f32(f32(v·b2) + f32(f32(a2·g)·g))
 *   if AMSGRAD: vmax ← max(vmax, v); vv = vmax else vv = v
 *   denom ← f32(f32(f32(sqrt(vv)) / bc2Sqrt) + eps)
 *   p ← f32(p + f32(f32(negStepSize·m) / denom))
 * `vmax` is never touched without AMSGRAD.
 */
export function adam_f32(
  p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  wd: f32, decay: f32, a1: f32, omA1: f32, b2: f32, a2: f32, bc2Sqrt: f32, eps: f32, negStepSize: f32,
  flags: i32,
): void {
  const s = signMask(flags);
  const k = ((flags & L2) != 0 ? 4 : 0) | ((flags & LERP_SMALL) != 0 ? 2 : 0) | ((flags & AMSGRAD) != 0 ? 1 : 0);
  switch (k) {
    case 0: adamLoop<Off, Off, Off>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 1: adamLoop<Off, Off, On>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 2: adamLoop<Off, On, Off>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 3: adamLoop<Off, On, On>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 4: adamLoop<On, Off, Off>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 5: adamLoop<On, Off, On>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    case 6: adamLoop<On, On, Off>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
    default: adamLoop<On, On, On>(p, g, m, v, vmax, n, wd, decay, a1, omA1, b2, a2, bc2Sqrt, eps, negStepSize, s); break;
  }
}

/** a_i ← lerp(a_i, b_i, w): PyTorch's lerp, branch chosen by LERP_SMALL. */
function lerpLoop<SMALL>(a: usize, b: usize, n: i32, w: f32, omw: f32): void {
  const wV = f32x4.splat(w);
  const omwV = f32x4.splat(omw);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = off4(i);
    v128.store(a + o, lerpV<SMALL>(v128.load(a + o), v128.load(b + o), wV, omwV));
  }
  for (; i < n; i++) {
    const o = off4(i);
    store<f32>(a + o, lerp<SMALL>(load<f32>(a + o), load<f32>(b + o), w, omw));
  }
}

export function lerp_f32(a: usize, b: usize, n: i32, w: f32, omw: f32, flags: i32): void {
  if ((flags & LERP_SMALL) != 0) lerpLoop<On>(a, b, n, w, omw);
  else lerpLoop<Off>(a, b, n, w, omw);
}

/** Adam's direction (see src/kernels/elementwise.ts): KEEP leaves m as given, SMALL picks the lerp branch. */
function adamDirLoop<SMALL, KEEP>(
  d: usize, g: usize, m: usize, v: usize, n: i32,
  a1: f32, omA1: f32, b2: f32, a2: f32, ms: f32, bc: f32, eps: f32,
): void {
  const a1V = f32x4.splat(a1);
  const omA1V = f32x4.splat(omA1);
  const b2V = f32x4.splat(b2);
  const a2V = f32x4.splat(a2);
  const msV = f32x4.splat(ms);
  const bcV = f32x4.splat(bc);
  const epsV = f32x4.splat(eps);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = off4(i);
    const gv = v128.load(g + o);
    let mv = v128.load(m + o);
    if (!isOn<KEEP>()) mv = lerpV<SMALL>(mv, gv, a1V, omA1V);
    const vv = f32x4.add(f32x4.mul(v128.load(v + o), b2V), f32x4.mul(f32x4.mul(a2V, gv), gv));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), bcV), epsV);
    v128.store(d + o, f32x4.div(f32x4.mul(msV, mv), denom));
  }
  for (; i < n; i++) {
    const o = off4(i);
    const gi = load<f32>(g + o);
    let mi = load<f32>(m + o);
    if (!isOn<KEEP>()) mi = lerp<SMALL>(mi, gi, a1, omA1);
    const vi: f32 = load<f32>(v + o) * b2 + (a2 * gi) * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const denom: f32 = sqrt<f32>(vi) / bc + eps;
    store<f32>(d + o, (ms * mi) / denom);
  }
}

export function adam_direction_f32(
  d: usize, g: usize, m: usize, v: usize, n: i32,
  a1: f32, omA1: f32, b2: f32, a2: f32, mScale: f32, bc2Sqrt: f32, eps: f32, flags: i32,
): void {
  const small = (flags & LERP_SMALL) != 0;
  if ((flags & KEEP_M) != 0) {
    if (small) adamDirLoop<On, On>(d, g, m, v, n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps);
    else adamDirLoop<Off, On>(d, g, m, v, n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps);
  } else if (small) adamDirLoop<On, Off>(d, g, m, v, n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps);
  else adamDirLoop<Off, Off>(d, g, m, v, n, a1, omA1, b2, a2, mScale, bc2Sqrt, eps);
}
