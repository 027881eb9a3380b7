/**
 * WGSL compute shaders of the WebGPU backend, one per kernel (or kernel phase), all over the same
 * bind group layout:
 *   binding 0  `A`: the device arena, `array<f32>`, addressed by f32 index (= the host pointer / 4);
 *   binding 1  `P`: this dispatch's parameters, a uniform struct at a dynamic offset (fields in order,
 *              4 bytes each: `u` u32 (pointers as f32 indices, counts, flags), `f` f32);
 *   binding 2  `X`: the status buffer, `array<u32>`: word 0 the step gate (non-zero: skip), words 1–3
 *              the step status (non-finite flag, f32 bits of Σg², f32 bits of the clip factor), and
 *              per-workgroup partials of the gradient check from word 16 on.
 * Every shader but the status ones starts with the gate test, so a step whose gradients fail the
 * finiteness check writes nothing, decided on the device.
 *
 * Arithmetic is f32 with the kernel set's order of operations; sums are f32 (tree sums in workgroup
 * memory for rows, sequential for columns), not the f64 lane order of `ref`, so results agree with
 * `ref` within a tolerance, not bit for bit. WGSL lets implementations assume no NaN or infinity in
 * arithmetic, so special values are tested through their bits where the kernel set defines them.
 */

export type FieldType = 'u' | 'f';

export interface ShaderDef {
  /** Parameter fields in order: `name:type`. */
  readonly fields: readonly (readonly [string, FieldType])[];
  /** WGSL after the common header (declares `main`). */
  readonly code: string;
}

export const WG = 256;

const fields = (spec: string): (readonly [string, FieldType])[] =>
  spec.split(/\s+/).filter(Boolean).map((s) => {
    const [name, t] = s.split(':');
    return [name, t as FieldType] as const;
  });

/** The WGSL source of one shader: bindings, its parameter struct, helpers, its code. */
export function wgslSource(def: ShaderDef): string {
  // Members get a trailing underscore so that no field name collides with a WGSL reserved word.
  const members = def.fields.map(([n, t]) => `  ${n}_: ${t === 'u' ? 'u32' : 'f32'},`).join('\n');
  return `
struct Params {
${members || '  unused: u32,'}
};
@group(0) @binding(0) var<storage, read_write> A: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;
@group(0) @binding(2) var<storage, read_write> X: array<u32>;
const WG: u32 = ${WG}u;
const F_MAXIMIZE: u32 = 1u;
const F_LERP_SMALL: u32 = 2u;
const F_L2: u32 = 4u;
const F_MOMENTUM: u32 = 8u;
const F_FIRST: u32 = 16u;
const F_NESTEROV: u32 = 32u;
const F_AMSGRAD: u32 = 64u;
const F_KEEP_M: u32 = 128u;
fn qnan() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn notFinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
fn lerpT(a: f32, b: f32, w: f32, omw: f32, small: bool) -> f32 {
  let d = b - a;
  if (small) { return a + w * d; }
  return b - d * omw;
}
fn maxNan(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b)) { return qnan(); }
  return max(a, b);
}
// normScale's scale: sqrt(t / s), 0 for s = 0, s = +inf or a result beyond the f32 range, NaN for NaN
// or negative s.
fn nscale(s: f32, t: f32) -> f32 {
  let bits = bitcast<u32>(s);
  if ((bits & 0x7fffffffu) == 0u || bits == 0x7f800000u) { return 0.0; }
  if ((bits & 0x7fffffffu) > 0x7f800000u || (bits & 0x80000000u) != 0u) { return qnan(); }
  let r = sqrt(t) / sqrt(s);
  if (notFinite(r)) { return 0.0; }
  return r;
}
/** s·y for sinkgdRound's power-of-two scale s: 0 where that overflows (NaN stays NaN). */
fn sscale(y: f32, s: f32) -> f32 {
  let z = y * s;
  if ((bitcast<u32>(z) & 0x7fffffffu) == 0x7f800000u) { return 0.0; }
  return z;
}
var<workgroup> red: array<f32, ${WG}>;
var<workgroup> gateW: u32;
var<workgroup> bcast: f32;
// Sum of one value per invocation over the workgroup (call in uniform control flow).
fn wgSum(lid: u32, v: f32) -> f32 { return wgCombine(lid, v, false); }
// Sum, or NaN-propagating max, of one value per invocation over the workgroup (uniform control flow).
fn wgCombine(lid: u32, v: f32, isMax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (isMax) { red[lid] = maxNan(red[lid], red[lid + s]); } else { red[lid] = red[lid] + red[lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { bcast = red[0]; }
  return workgroupUniformLoad(&bcast);
}
// The gate as a workgroup-uniform value (for shaders with barriers).
fn gateClosed(lid: u32) -> bool {
  if (lid == 0u) { gateW = X[0]; }
  return workgroupUniformLoad(&gateW) != 0u;
}
${def.code.replace(/\bP\.(\w+)/g, 'P.$1_')}`;
}

/** One invocation per element i < P.n (grid-stride), gated. `body` sees `i`. */
const elementwise = (spec: string, body: string): ShaderDef => ({
  fields: fields(spec),
  code: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  if (X[0] != 0u) { return; }
  for (var i = gid.x; i < P.n; i = i + nw.x * WG) {
${body}
  }
}`,
});

/** One invocation per element of an m×n matrix (grid-stride over m·n), gated. `body` sees `i`, `j`. */
const matrixwise = (spec: string, body: string): ShaderDef => ({
  fields: fields(spec),
  code: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  if (X[0] != 0u) { return; }
  let total = P.m * P.n;
  for (var e = gid.x; e < total; e = e + nw.x * WG) {
    let i = e / P.n;
    let j = e % P.n;
${body}
  }
}`,
});

/** One workgroup per row (grid-stride over rows), gated; `body` sees `i`, `lid` and may call `wgSum`. */
const rowwise = (spec: string, body: string): ShaderDef => ({
  fields: fields(spec),
  code: `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  if (gateClosed(lid)) { return; }
  for (var i = wid.x; i < P.m; i = i + nw.x) {
${body}
  }
}`,
});

/** One invocation per column j < P.n (grid-stride), gated; `body` sees `j`. */
const colwise = (spec: string, body: string): ShaderDef => elementwise(spec, body.replace(/\bj\b/g, 'i'));

const ADAM_CORE = `
    let mi = select(lerpT(A[P.m + i], g, P.a1, P.omA1, (P.flags & F_LERP_SMALL) != 0u), A[P.m + i], (P.flags & F_KEEP_M) != 0u);
    let vi = A[P.v + i] * P.b2 + (P.a2 * g) * g;
    A[P.m + i] = mi;
    A[P.v + i] = vi;`;

/** Fused Adafactor factor: u = f32(1 / sqrt(max(v, eps1Sq))) · g. */
const RSQRT_U = (v: string, g: string) => `(1.0 / sqrt(maxNan(${v}, P.eps1Sq))) * ${g}`;

export const SHADERS = {
  scale: elementwise('x:u n:u s:f', '    A[P.x + i] = P.s * A[P.x + i];'),
  axpy: elementwise('y:u x:u n:u a:f', '    A[P.y + i] = A[P.y + i] + P.a * A[P.x + i];'),
  copy: elementwise('dst:u src:u n:u', '    A[P.dst + i] = A[P.src + i];'),
  /** memmove of overlapping ranges: one invocation, in the direction that reads before it overwrites. */
  copySerial: {
    fields: fields('dst:u src:u n:u'),
    code: `
@compute @workgroup_size(1)
fn main() {
  if (X[0] != 0u) { return; }
  if (P.dst < P.src) {
    for (var i = 0u; i < P.n; i = i + 1u) { A[P.dst + i] = A[P.src + i]; }
  } else {
    for (var i = P.n; i > 0u; i = i - 1u) { A[P.dst + i - 1u] = A[P.src + i - 1u]; }
  }
}`,
  },
  fill: elementwise('x:u n:u value:f', '    A[P.x + i] = P.value;'),
  fillUniform: elementwise('x:u n:u seed:u offset:u', `
    var h = P.seed + (P.offset + i) * 0x9E3779B9u;
    h = h ^ (h >> 16u);
    h = h * 0x7FEB352Du;
    h = h ^ (h >> 15u);
    h = h * 0x846CA68Bu;
    h = h ^ (h >> 16u);
    A[P.x + i] = f32(h >> 8u) * (1.0 / 8388608.0) - 1.0;`),
  addDiag: elementwise('a:u lda:u n:u value:f', '    A[P.a + i * P.lda + i] = A[P.a + i * P.lda + i] + P.value;'),
  normScale: elementwise('out:u x:u n:u target:f', '    A[P.out + i] = nscale(A[P.x + i], P.target);'),
  sgd: elementwise('p:u g:u buf:u n:u wd:f momentum:f omDampening:f negLr:f flags:u', `
    var g = A[P.g + i];
    if ((P.flags & F_MAXIMIZE) != 0u) { g = -g; }
    let p = A[P.p + i];
    if ((P.flags & F_L2) != 0u) { g = g + P.wd * p; }
    if ((P.flags & F_MOMENTUM) != 0u) {
      var b = g;
      if ((P.flags & F_FIRST) == 0u) { b = A[P.buf + i] * P.momentum + P.omDampening * g; }
      A[P.buf + i] = b;
      if ((P.flags & F_NESTEROV) != 0u) { g = g + P.momentum * b; } else { g = b; }
    }
    A[P.p + i] = p + P.negLr * g;`),
  adam: elementwise('p:u g:u m:u v:u vmax:u n:u wd:f decay:f a1:f omA1:f b2:f a2:f bc2Sqrt:f eps:f negStepSize:f flags:u', `
    var g = A[P.g + i];
    if ((P.flags & F_MAXIMIZE) != 0u) { g = -g; }
    var p = A[P.p + i];
    if ((P.flags & F_L2) != 0u) { g = g + P.wd * p; }
    p = p * P.decay;${ADAM_CORE}
    var vv = vi;
    if ((P.flags & F_AMSGRAD) != 0u) {
      vv = maxNan(A[P.vmax + i], vi);
      A[P.vmax + i] = vv;
    }
    let denom = sqrt(vv) / P.bc2Sqrt + P.eps;
    A[P.p + i] = p + (P.negStepSize * mi) / denom;`),
  lerp: elementwise('a:u b:u n:u w:f omw:f flags:u',
    '    A[P.a + i] = lerpT(A[P.a + i], A[P.b + i], P.w, P.omw, (P.flags & F_LERP_SMALL) != 0u);'),
  adamDirection: elementwise('d:u g:u m:u v:u n:u a1:f omA1:f b2:f a2:f mScale:f bc2Sqrt:f eps:f flags:u', `
    let g = A[P.g + i];${ADAM_CORE}
    let denom = sqrt(vi) / P.bc2Sqrt + P.eps;
    A[P.d + i] = (P.mScale * mi) / denom;`),
  adafactorRowVar: rowwise('r:u g:u m:u n:u w:f omw:f flags:u', `
    let row = P.g + i * P.n;
    var s = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { let x = A[row + j]; s = s + x * x; }
    let t = wgSum(lid, s);
    if (lid == 0u) { A[P.r + i] = lerpT(A[P.r + i], t / f32(P.n), P.w, P.omw, (P.flags & F_LERP_SMALL) != 0u); }`),
  adafactorColVar: colwise('c:u g:u m:u n:u w:f omw:f flags:u', `
    var s = 0.0;
    for (var r = 0u; r < P.m; r = r + 1u) { let x = A[P.g + r * P.n + j]; s = s + x * x; }
    A[P.c + j] = lerpT(A[P.c + j], s / f32(P.m), P.w, P.omw, (P.flags & F_LERP_SMALL) != 0u);`),
  adafactorFactoredApply: matrixwise('p:u g:u r:u c:u m:u n:u rMean:f eps1Sq:f coeff:f', `
    let u = ${RSQRT_U('(A[P.r + i] * A[P.c + j]) / P.rMean', 'A[P.g + e]')};
    A[P.p + e] = A[P.p + e] + P.coeff * u;`),
  adafactorVecVar: elementwise('v:u g:u n:u w:f omw:f flags:u', `
    let g = A[P.g + i];
    A[P.v + i] = lerpT(A[P.v + i], g * g, P.w, P.omw, (P.flags & F_LERP_SMALL) != 0u);`),
  adafactorVecApply: elementwise('p:u g:u v:u n:u eps1Sq:f coeff:f',
    `    A[P.p + i] = A[P.p + i] + P.coeff * ${RSQRT_U('A[P.v + i]', 'A[P.g + i]')};`),
  rowSumsq: rowwise('out:u a:u m:u n:u lda:u', `
    let row = P.a + i * P.lda;
    var s = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { let x = A[row + j]; s = s + x * x; }
    let t = wgSum(lid, s);
    if (lid == 0u) { A[P.out + i] = t; }`),
  colSumsq: colwise('out:u a:u m:u n:u lda:u', `
    var s = 0.0;
    for (var r = 0u; r < P.m; r = r + 1u) { let x = A[P.a + r * P.lda + j]; s = s + x * x; }
    A[P.out + j] = s;`),
  rowMeanStd: rowwise('mean:u sd:u a:u m:u n:u lda:u ddof:u', `
    let row = P.a + i * P.lda;
    var s = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { s = s + A[row + j]; }
    let mu = wgSum(lid, s) / f32(P.n);
    var q = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { let d = A[row + j] - mu; q = q + d * d; }
    let ss = wgSum(lid, q);
    if (lid == 0u) {
      A[P.mean + i] = mu;
      // ss / (n − ddof) as in f64 arithmetic: 0/0 = NaN, x/0 = +inf, 0/negative = −0, x/negative < 0 → NaN
      let d = f32(i32(P.n) - i32(P.ddof));
      var sd = sqrt(ss / max(d, 1.0));
      if (d == 0.0) { sd = select(bitcast<f32>(X[15] | 0x7f800000u), qnan(), ss == 0.0); }
      if (d < 0.0) { sd = select(qnan(), -0.0, ss == 0.0); }
      A[P.sd + i] = sd;
    }`),
  scaleRowsCols: matrixwise('out:u ldo:u a:u lda:u r:u c:u m:u n:u', `
    var x = A[P.a + i * P.lda + j];
    if (P.r != 0u) { x = A[P.r + i] * x; }
    if (P.c != 0u) { x = x * A[P.c + j]; }
    A[P.out + i * P.ldo + j] = x;`),
  /**
   * sinkhornRound / sinkgdRound, phase 1: a_i from the rows of G·Diag(b), times the power of two `s`
   * (1 for sinkhornRound; 0 where the product overflows, as sinkgdRound's scaled()).
   */
  sinkhornRows: rowwise('a:u b:u g:u m:u n:u lda:u rowTarget:f s:f', `
    let row = P.g + i * P.lda;
    var s = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { let t = A[row + j] * A[P.b + j]; s = s + t * t; }
    let r = wgSum(lid, s);
    if (lid == 0u) { A[P.a + i] = sscale(nscale(r, P.rowTarget), P.s); }`),
  /** sinkhornRound / sinkgdRound, phase 2: b_j from the columns of Diag(a)·G, times `s` as in phase 1. */
  sinkhornCols: colwise('a:u b:u g:u m:u n:u lda:u colTarget:f s:f', `
    var s = 0.0;
    for (var r = 0u; r < P.m; r = r + 1u) { let t = A[P.g + r * P.lda + j] * A[P.a + r]; s = s + t * t; }
    A[P.b + j] = sscale(nscale(s, P.colTarget), P.s);`),
  rowStandardize: matrixwise('out:u ldo:u a:u lda:u mean:u sd:u m:u n:u eps:f', `
    let r = 1.0 / maxNan(A[P.sd + i], P.eps);
    A[P.out + i * P.ldo + j] = (A[P.a + i * P.lda + j] - A[P.mean + i]) * r;`),
  racsColSq: colwise('acc:u g:u m:u n:u', `
    var s = 0.0;
    for (var r = 0u; r < P.m; r = r + 1u) { let x = A[P.g + r * P.n + j]; s = s + x * x; }
    A[P.acc + j] = s;`),
  /** racsFixedPass, phase 1: q_i ← b·Σ_j f32(g_ij²)·w_j (one workgroup per row). */
  racsFixedRows: rowwise('q:u g:u w:u m:u n:u b:f', `
    let row = P.g + i * P.n;
    var s = 0.0;
    for (var j = lid; j < P.n; j = j + WG) { let x = A[row + j]; s = s + (x * x) * A[P.w + j]; }
    let d = wgSum(lid, s);
    if (lid == 0u) { A[P.q + i] = P.b * d; }`),
  /** racsFixedPass, phase 2: acc_j ← Σ_i f32(g_ij²)·q_i, rows in order. */
  racsFixedCols: colwise('acc:u g:u q:u m:u n:u', `
    var s = 0.0;
    for (var r = 0u; r < P.m; r = r + 1u) { let x = A[P.g + r * P.n + j]; s = s + (x * x) * A[P.q + r]; }
    A[P.acc + j] = s;`),
  /** racsFinalPass: q_i ← b·Σ_j f32(g_ij²)·w_j and t_i ← Σ_j f32(g_ij²)·f32(c_j²) in one sweep of the row. */
  racsFinalRows: rowwise('q:u t:u g:u w:u c:u m:u n:u b:f', `
    let row = P.g + i * P.n;
    var s = 0.0;
    var u = 0.0;
    for (var j = lid; j < P.n; j = j + WG) {
      let x = A[row + j];
      let p = x * x;
      let c = A[P.c + j];
      s = s + p * A[P.w + j];
      u = u + p * (c * c);
    }
    let d = wgSum(lid, s);
    let e = wgSum(lid, u);
    if (lid == 0u) { A[P.q + i] = P.b * d; A[P.t + i] = e; }`),
  racsRsqrt: elementwise('out:u x:u n:u floor:f', '    A[P.out + i] = 1.0 / sqrt(maxNan(A[P.x + i], P.floor));'),
  racsScaledApply: matrixwise('p:u g:u r:u c:u m:u n:u coeff:f', `
    let u = (A[P.r + i] * A[P.g + e]) * A[P.c + j];
    A[P.p + e] = A[P.p + e] + P.coeff * u;`),
  /**
   * C ← α·op(A)·op(B) + β·C: 64×64 tiles of C per workgroup of 16×16 invocations, each 4×4 outputs,
   * depth blocks of 16 staged in workgroup memory; transposes through the load indexing. With
   * lower = 1 only elements with i ≥ j are written (syrk; `mirror` fills the upper triangle).
   */
  gemm: {
    fields: fields('c:u ldc:u a:u lda:u transA:u b:u ldb:u transB:u m:u n:u k:u alpha:f beta:f lower:u'),
    code: `
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  if (gateClosed(lid)) { return; }
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  if (P.lower != 0u && col0 > row0 + 63u) { return; }
  var acc: array<f32, 16>;
  for (var q = 0u; q < 16u; q = q + 1u) { acc[q] = 0.0; }
  let depth = select(P.k, 0u, P.alpha == 0.0);
  for (var p0 = 0u; p0 < depth; p0 = p0 + 16u) {
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = lid + e * 256u;
      // op(A) tile: 64 rows × 16 depth; op(B) tile: 16 depth × 64 columns. Consecutive invocations
      // read consecutive addresses of the stored matrix.
      var ii: u32; var pa: u32;
      if (P.transA == 0u) { ii = idx / 16u; pa = idx % 16u; } else { ii = idx % 64u; pa = idx / 64u; }
      let gi = row0 + ii; let gpa = p0 + pa;
      var va = 0.0;
      if (gi < P.m && gpa < P.k) {
        va = select(A[P.a + gi * P.lda + gpa], A[P.a + gpa * P.lda + gi], P.transA != 0u);
      }
      As[pa * 64u + ii] = va;
      var jj: u32; var pb: u32;
      if (P.transB == 0u) { jj = idx % 64u; pb = idx / 64u; } else { jj = idx / 16u; pb = idx % 16u; }
      let gj = col0 + jj; let gpb = p0 + pb;
      var vb = 0.0;
      if (gj < P.n && gpb < P.k) {
        vb = select(A[P.b + gpb * P.ldb + gj], A[P.b + gj * P.ldb + gpb], P.transB != 0u);
      }
      Bs[pb * 64u + jj] = vb;
    }
    workgroupBarrier();
    for (var pp = 0u; pp < 16u; pp = pp + 1u) {
      var ra: array<f32, 4>;
      var rb: array<f32, 4>;
      for (var q = 0u; q < 4u; q = q + 1u) {
        ra[q] = As[pp * 64u + lid3.y * 4u + q];
        rb[q] = Bs[pp * 64u + lid3.x * 4u + q];
      }
      for (var r = 0u; r < 4u; r = r + 1u) {
        for (var c = 0u; c < 4u; c = c + 1u) { acc[r * 4u + c] = acc[r * 4u + c] + ra[r] * rb[c]; }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r = r + 1u) {
    let i = row0 + lid3.y * 4u + r;
    for (var c = 0u; c < 4u; c = c + 1u) {
      let j = col0 + lid3.x * 4u + c;
      if (i < P.m && j < P.n && (P.lower == 0u || j <= i)) {
        let at = P.c + i * P.ldc + j;
        var v = P.alpha * acc[r * 4u + c];
        if (P.beta != 0.0) { v = v + P.beta * A[at]; }
        A[at] = v;
      }
    }
  }
}`,
  },
  /** c_ji ← c_ij for i > j (syrk's upper triangle). */
  mirror: matrixwise('c:u ldc:u m:u n:u', '    if (j > i) { A[P.c + i * P.ldc + j] = A[P.c + j * P.ldc + i]; }'),
  /** Status reset at the start of a checked step (not gated). */
  statusReset: {
    fields: fields(''),
    code: `
@compute @workgroup_size(1)
fn main() { X[0] = 0u; X[1] = 0u; X[2] = 0u; X[3] = 0x3f800000u; }`,
  },
  /** Gradient check, stage 1: per workgroup Σg² and a non-finite flag into X[16 + 2·(base + w)]. */
  checkPartial: {
    fields: fields('g:u n:u base:u'),
    code: `
var<workgroup> bad: atomic<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  if (lid == 0u) { atomicStore(&bad, 0u); }
  workgroupBarrier();
  var s = 0.0;
  var nf = 0u;
  for (var i = wid.x * WG + lid; i < P.n; i = i + nw.x * WG) {
    let x = A[P.g + i];
    if (notFinite(x)) { nf = 1u; } else { s = s + x * x; }
  }
  if (nf != 0u) { atomicStore(&bad, 1u); }
  let t = wgSum(lid, s);
  if (lid == 0u) {
    X[16u + 2u * (P.base + wid.x)] = bitcast<u32>(t);
    X[17u + 2u * (P.base + wid.x)] = atomicLoad(&bad);
  }
}`,
  },
  /**
   * Gradient check, stage 2 (one workgroup): X[1] non-finite flag, X[2] Σg², X[3] the clip factor
   * min(1, clip / (‖g‖ + 1e-6)) (1 without clipping), X[0] ← 1 (skip the rest) on a non-finite gradient
   * when the policy checks.
   */
  checkFinal: {
    fields: fields('count:u clip:f hasClip:u check:u'),
    code: `
var<workgroup> bad: atomic<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) { atomicStore(&bad, 0u); }
  workgroupBarrier();
  var s = 0.0;
  for (var w = lid; w < P.count; w = w + WG) {
    s = s + bitcast<f32>(X[16u + 2u * w]);
    if (X[17u + 2u * w] != 0u) { atomicStore(&bad, 1u); }
  }
  let t = wgSum(lid, s);
  let nf = atomicLoad(&bad);
  if (lid == 0u) {
    X[1] = nf;
    X[2] = bitcast<u32>(t);
    var coef = 1.0;
    if (P.hasClip != 0u && nf == 0u) { coef = min(1.0, P.clip / (sqrt(t) + 1e-6)); }
    X[3] = bitcast<u32>(coef);
    X[0] = select(0u, 1u, nf != 0u && P.check != 0u);
  }
}`,
  },
  /** Gradient clipping by the device's clip factor X[3] (gated). */
  clipScale: elementwise('g:u n:u', '    A[P.g + i] = bitcast<f32>(X[3]) * A[P.g + i];'),
  /**
   * A host scalar, stage 1: one partial per workgroup into X[16 + w] (gated). Modes (`ScalarMode`):
   * 0 Σx², 1 max|x| with NaN winning, 2 Σx·y, 3 Σu² of adafactorVecSumsq (x = g, y = v, a = ε1²),
   * 4 Σ f32(r²)·t of racsNormSq (x = r, y = t), 5 Σu² of adafactorFactoredSumsq (x = g, y = r, c = c,
   * a = rMean, b = ε1², element e at row e / cols, column e % cols), 6 Σu² of racsScaledSumsq (likewise).
   */
  scalarPartial: {
    fields: fields('x:u y:u c:u n:u cols:u mode:u a:f b:f'),
    code: `
fn term(e: u32) -> f32 {
  let x = A[P.x + e];
  if (P.mode == 0u) { return x * x; }
  if (P.mode == 1u) { return select(abs(x), qnan(), isNan(x)); }
  if (P.mode == 2u) { return x * A[P.y + e]; }
  if (P.mode == 3u) { let u = (1.0 / sqrt(maxNan(A[P.y + e], P.a))) * x; return u * u; }
  if (P.mode == 4u) { let r = x * x; return r * A[P.y + e]; }
  let i = e / P.cols;
  let j = e % P.cols;
  if (P.mode == 5u) { let u = (1.0 / sqrt(maxNan((A[P.y + i] * A[P.c + j]) / P.a, P.b))) * x; return u * u; }
  let u = (A[P.y + i] * x) * A[P.c + j];
  return u * u;
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  if (gateClosed(lid)) { return; }
  var s = 0.0;
  for (var i = wid.x * WG + lid; i < P.n; i = i + nw.x * WG) {
    if (P.mode == 1u) { s = maxNan(s, term(i)); } else { s = s + term(i); }
  }
  let t = wgCombine(lid, s, P.mode == 1u);
  if (lid == 0u) { X[16u + wid.x] = bitcast<u32>(t); }
}`,
  },
  /** A host scalar, stage 2: the partials combined into X[4] (one workgroup, gated). */
  scalarFinal: {
    fields: fields('count:u mode:u'),
    code: `
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  if (gateClosed(lid)) { return; }
  var s = 0.0;
  for (var w = lid; w < P.count; w = w + WG) {
    let x = bitcast<f32>(X[16u + w]);
    if (P.mode == 1u) { s = maxNan(s, x); } else { s = s + x; }
  }
  let t = wgCombine(lid, s, P.mode == 1u);
  if (lid == 0u) { X[4] = bitcast<u32>(t); }
}`,
  },
  /** Open the gate again at the end of a step (not gated). */
  gateReset: {
    fields: fields(''),
    code: `
@compute @workgroup_size(1)
fn main() { X[0] = 0u; }`,
  },
} satisfies Record<string, ShaderDef>;

export type ShaderName = keyof typeof SHADERS;
