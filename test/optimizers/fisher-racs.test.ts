/**
 * RACS (src/optimizers/fisher/racs.ts): hand-derived steps, the fixed point against the leading singular
 * vectors of G⊙G, the limiter, stateBytes, convergence, ref = wasm, replay.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../dist/index.js';
import { replay } from '../../dist/replay.js';
import { firstBitDiff, randomF32 } from '../helpers/rng.js';
import { leastSquares } from '../helpers/problems.js';

type Backend = 'ref' | 'wasm';

async function single(shape: number[], options: Record<string, unknown>, backend: Backend = 'ref', data?: Float32Array) {
  return createOptimizer({ optimizer: 'racs', options, backend, params: { w: { shape, data } } });
}

function transpose(a: ArrayLike<number>, m: number, n: number): Float32Array {
  const t = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/**
 * G (3×5) with |g_ij| = u_i·v_j: P = G⊙G = (u²)(v²)ᵀ is exactly rank 1, so the fixed point from q̂ = 1 is
 * reached after one iteration: ŝ = Pᵀ1/3 = v²·c, q̂ = P·ŝ/ŝᵀŝ = u²/c with c = Σu²/3, and q̂_i·ŝ_j = g_ij².
 */
const U = [1, 2, 0.5];
const V = [1, 2, 3, 0.5, 1];
const SIGNS = [1, -1, 1, 1, -1, -1, 1, 1, -1, 1, 1, -1, -1, 1, 1];
const G = new Float32Array(15).map((_, k) => SIGNS[k] * U[Math.floor(k / 5)] * V[k % 5]);

describe('racs: hand-derived steps', () => {
  for (const transposed of [false, true]) {
    it(`two steps on ${transposed ? '5×3' : '3×5'} (rank-1 G⊙G), defaults except lr`, async () => {
      const shape = transposed ? [5, 3] : [3, 5];
      const g = transposed ? transpose(G, 3, 5) : G;
      const opt = await single(shape, { lr: 1 });
      const sign = Array.from(g, Math.sign);
      // Step 1: s = 0.1·ŝ, q = 0.1·q̂ → q_i·s_j = 0.01·g_ij², G̃ = g/√(0.01·g²) = 10·sign(g);
      // φ = 0 so η = 1; W ← 0 − lr·α·10·sign(g) = −1·0.05·10·sign = −0.5·sign.
      opt.setGrads({ w: g });
      opt.step();
      const w1 = opt.param('w').slice();
      for (let i = 0; i < 15; i++) expect(w1[i]).toBeCloseTo(-0.5 * sign[i], 5);
      // φ ← ‖G̃‖ = 10·√15
      expect(opt.state('w').phi[0]).toBeCloseTo(10 * Math.sqrt(15), 3);
      // Step 2, same G: s = 0.9·0.1ŝ + 0.1ŝ = 0.19ŝ (same for q) → G̃ = sign/0.19, ‖G̃‖ = √15/0.19 ≈ 20.4 <
      // 1.01·φ so η = 1; W ← W − 0.05·sign/0.19 = −(0.5 + 0.263158)·sign.
      opt.step();
      const w2 = opt.param('w');
      for (let i = 0; i < 15; i++) expect(w2[i]).toBeCloseTo(-(0.5 + 0.05 / 0.19) * sign[i], 5);
      expect(opt.state('w').phi[0]).toBeCloseTo(Math.sqrt(15) / 0.19, 3);
    });
  }

  it('the limiter: β = 0, a gradient whose G̃ grows by more than γ is shrunk to γ·φ', async () => {
    // β = 0: s = ŝ, q = q̂, so G̃ = sign(G) on the non-zero entries (P rank 1), zero elsewhere.
    // Step 1: columns 3 and 4 zero → ‖G̃‖ = √9 = 3, η = 1, φ = 3, W = −lr·α·sign(G1) = −0.1·sign.
    // Step 2: full G → ‖G̃‖ = √15 > 1.01·3 → η = 3.03/√15, φ = 3.03, W −= 0.1·η·sign(G).
    const g1 = G.map((x, k) => (k % 5 >= 3 ? 0 : x));
    const opt = await single([3, 5], { lr: 2, scale: 0.05, beta: 0 });
    opt.setGrads({ w: g1 });
    opt.step();
    expect(opt.state('w').phi[0]).toBeCloseTo(3, 5);
    opt.setGrads({ w: G });
    opt.step();
    const eta = 3.03 / Math.sqrt(15);
    const w = opt.param('w');
    for (let k = 0; k < 15; k++) expect(w[k]).toBeCloseTo(-0.1 * Math.sign(g1[k]) - 0.1 * eta * Math.sign(G[k]), 5);
    expect(opt.state('w').phi[0]).toBeCloseTo(3.03, 5);
  });
});

/** Leading left/right singular vectors of an m×n matrix in f64 (power iteration on AᵀA to convergence). */
function leadingSingular(a: Float64Array, m: number, n: number): [Float64Array, Float64Array] {
  let v = new Float64Array(n).fill(1);
  let u = new Float64Array(m);
  for (let it = 0; it < 2000; it++) {
    u = new Float64Array(m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) u[i] += a[i * n + j] * v[j];
    const nu = Math.hypot(...u);
    u = u.map((x) => x / nu);
    const v2 = new Float64Array(n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) v2[j] += a[i * n + j] * u[i];
    const nv = Math.hypot(...v2);
    v = v2.map((x) => x / nv);
  }
  return [u, v];
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};

describe('racs: the fixed point is the leading singular pair of G⊙G', () => {
  it.each([[16, 40], [40, 16]])('%i×%i, β = 0 (s = ŝ, q = q̂ after one step)', async (m, n) => {
    const g = randomF32(m * n, 4242 + m);
    // heavy-tailed rows and columns so G⊙G is not close to a multiple of 11ᵀ
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) g[i * n + j] *= (1 + (i % 5)) * (1 + ((3 * j) % 7) / 2);
    const p = Float64Array.from(g, (x) => x * x);
    const [u, v] = leadingSingular(p, m, n);
    for (const [iterations, tol] of [[5, 1e-4], [30, 1e-9]] as const) {
      const opt = await single([m, n], { beta: 0, iterations });
      opt.setGrads({ w: g });
      opt.step();
      const st = opt.state('w');
      // cos(angle) ≥ 1 − tol between q and u (left), s and v (right); both positive (Perron–Frobenius)
      expect(1 - cosine(st.q, u)).toBeLessThan(tol + 1e-7);
      expect(1 - cosine(st.s, v)).toBeLessThan(tol + 1e-7);
      expect(Math.min(...st.q)).toBeGreaterThan(0);
      expect(Math.min(...st.s)).toBeGreaterThan(0);
    }
  });
});

/**
 * The spec's update (§4 steps 1–7, with the floors of §7.1 and the header's choices) in f64 throughout:
 * the fixed point, the EMAs, the inverse square roots, ‖G̃‖, the limiter and the weight update.
 */
function racsF64(m: number, n: number, o: { lr: number; beta: number; scale: number; gamma: number; iterations: number; eps: number; weightDecay: number }) {
  const w = new Float64Array(m * n), s = new Float64Array(n), q = new Float64Array(m);
  let phi = 0;
  const floor = 1e-30;
  const r = {
    w,
    /** Smallest limiter factor η so far. */
    etaMin: 1,
    step(g: ArrayLike<number>) {
      let qh = new Float64Array(m).fill(1);
      let sh = new Float64Array(n);
      for (let it = 0; it < o.iterations; it++) {
        const qq = Math.max(qh.reduce((a, x) => a + x * x, 0), floor);
        sh = new Float64Array(n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) sh[j] += g[i * n + j] ** 2 * qh[i];
        sh = sh.map((x) => x / qq);
        const ss = Math.max(sh.reduce((a, x) => a + x * x, 0), floor);
        qh = new Float64Array(m);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) qh[i] += g[i * n + j] ** 2 * sh[j];
        qh = qh.map((x) => x / ss);
      }
      for (let j = 0; j < n; j++) s[j] = o.beta * s[j] + (1 - o.beta) * sh[j];
      for (let i = 0; i < m; i++) q[i] = o.beta * q[i] + (1 - o.beta) * qh[i];
      const u = Float64Array.from({ length: m * n }, (_, k) => g[k] / Math.sqrt(Math.max(q[Math.floor(k / n)], o.eps) * Math.max(s[k % n], o.eps)));
      const norm = Math.sqrt(u.reduce((a, x) => a + x * x, 0));
      const eta = phi > 0 ? o.gamma / Math.max(norm / phi, o.gamma) : 1;
      phi = eta * norm;
      r.etaMin = Math.min(r.etaMin, eta);
      for (let k = 0; k < m * n; k++) w[k] = w[k] * (1 - o.lr * o.weightDecay) - o.lr * o.scale * eta * u[k];
    },
  };
  return r;
}

describe('racs: f32 fixed point against the spec in f64', () => {
  // Largest |w − w_f64| over the largest |w_f64| after 6 steps, measured: 2.4e-7 (37×101), 2.0e-7 (101×37),
  // 2.5e-7 (8×1376), the same on ref and wasm (an f64 fixed point with f32 update gave 1.6–2.0e-7); 1 and 2
  // iterations (the first and the last pass only, and one fused pass between) are checked the same way;
  // the bound is 2e-6.
  it.each([[37, 101, 5], [101, 37, 5], [8, 1376, 5], [19, 23, 1], [19, 23, 2]])('%i×%i, %i iterations, 6 steps with gradients of scale 1e-3 and 30, the limiter active', async (m, n, iterations) => {
    const o = { lr: 0.1, beta: 0.9, scale: 0.05, gamma: 1.01, iterations, eps: 1e-30, weightDecay: 0.01 };
    for (const backend of ['ref', 'wasm'] as const) {
      const opt = await single([m, n], o, backend);
      const e = racsF64(m, n, o);
      for (let t = 0; t < 6; t++) {
        const g = randomF32(m * n, 900 + t, t % 3 === 1 ? 30 : 1e-3);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) g[i * n + j] *= 1 + (i % 4) + ((5 * j) % 3);
        opt.setGrads({ w: g });
        opt.step();
        e.step(g);
      }
      const w = opt.param('w');
      const big = Math.max(...e.w.map(Math.abs));
      let worst = 0;
      for (let k = 0; k < m * n; k++) worst = Math.max(worst, Math.abs(w[k] - e.w[k]) / big);
      expect(worst).toBeLessThan(2e-6);
      expect(e.etaMin).toBeLessThan(0.9); // the limiter acted
    }
  });
});

/** LLaMA-60M matrix shapes of one decoder layer (hidden 512, intermediate 1376), as torch stores them. */
const LLAMA60M_LAYER: Record<string, number[]> = {
  q_proj: [512, 512], k_proj: [512, 512], v_proj: [512, 512], o_proj: [512, 512],
  gate_proj: [1376, 512], up_proj: [1376, 512], down_proj: [512, 1376],
};

describe('racs: stateBytes', () => {
  it('= 4·(m + n + 1) per matrix on the LLaMA-60M layer shapes', async () => {
    const opt = await createOptimizer({
      optimizer: 'racs', backend: 'ref',
      params: Object.fromEntries(Object.entries(LLAMA60M_LAYER).map(([k, shape]) => [k, { shape }])),
    });
    let total = 0;
    for (const [k, [m, n]] of Object.entries(LLAMA60M_LAYER)) {
      expect(opt.stateBytes(k)).toBe(4 * (m + n + 1));
      total += 4 * (m + n + 1);
    }
    expect(opt.stateBytes()).toBe(total);
  });
});

/** ½‖A·W − B‖²/k for A (k×m), B = A·W* (k×n); returns [loss, grad]. */

describe('racs: convergence and backends', () => {
  it.each(['ref', 'wasm'] as const)('least squares 12×20 (k = 48) on %s: loss below 2% of the initial within 200 steps', async (backend) => {
    const f = leastSquares(48, 12, 20, 77);
    const opt = await createOptimizer({
      optimizer: 'racs', options: { lr: 1, scale: 0.05 }, backend, params: { w: { shape: [12, 20] } },
      schedule: { type: 'cosine', warmupSteps: 10, totalSteps: 200, minLrRatio: 0.01 },
    });
    const [l0] = f(opt.param('w'));
    let loss = l0;
    for (let t = 0; t < 200; t++) {
      const [l, g] = f(opt.param('w'));
      loss = l;
      opt.setGrads({ w: g });
      opt.step();
    }
    loss = f(opt.param('w'))[0];
    expect(loss).toBeLessThan(0.02 * l0);
  });

  it('wasm = ref bit for bit over 20 steps (3×5, 37×101, 129×3; all RACS kernels are bit-exact)', async () => {
    const shapes: Record<string, number[]> = { a: [3, 5], b: [37, 101], c: [129, 3] };
    const make = (backend: Backend) => createOptimizer({
      optimizer: 'racs', options: { lr: 0.1, weightDecay: 0.01 }, backend,
      params: Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, { shape: s, data: randomF32(s[0] * s[1], 10 + i) }])),
    });
    const r = await make('ref'), w = await make('wasm');
    for (let t = 0; t < 20; t++) {
      const grads = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, randomF32(s[0] * s[1], 100 * t + i, t % 7 === 3 ? 10 : 1)]));
      r.setGrads(grads);
      w.setGrads(grads);
      r.step();
      w.step();
    }
    for (const k of Object.keys(shapes)) expect(firstBitDiff(r.param(k), w.param(k))).toBe(-1);
  });

  it('replay runs racs', async () => {
    const res = await replay({
      optimizer: 'racs', options: { lr: 1 }, backend: 'wasm',
      params: { w: { shape: [3, 5], data: Array(15).fill(0) } },
      grads: [{ w: Array.from(G) }, { w: Array.from(G) }],
    });
    expect(res.steps.length).toBe(2);
    expect(res.stateBytes).toBe(4 * (3 + 5 + 1));
    // first step as derived above: −0.5·sign(G)
    res.steps[0].w.forEach((x, k) => expect(x).toBeCloseTo(-0.5 * SIGNS[k], 5));
  });
});
