// Decompositions on the wasm backend: eigh, QR (factor + reduced Q) and SVD (thin) at 256, 512, 1024,
// next to the scalar ref oracle (the naive baseline: the same algorithms, unblocked, in plain JS f64)
// and, when Debian's /usr/bin/python3 can import torch, PyTorch CPU (LAPACK, one thread) as the peer.
// Also measures accuracy (orthogonality, reconstruction) by condition number on both backends.
// Writes bench/results/linalg.json and bench/results/linalg.md.
// Usage: npm run bench:linalg [-- --sizes 256,512,1024 --ref-max 512 --no-torch]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Arena } from '../dist/arena.js';
import { cpuDescription } from './machine.mjs';
import { refKernels } from '../dist/backends/ref.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { eighScratchBytes, qrFormQScratchBytes, qrScratchBytes, svdScratchBytes } from '../dist/kernels/linalg.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SIZES = arg('sizes', '256,512,1024').split(',').map(Number);
const REF_MAX = Number(arg('ref-max', '512'));
const WITH_TORCH = !argv.includes('--no-torch');
const PYTHON = arg('python', '/usr/bin/python3');

// ---------------------------------------------------------------------------------------------------
// Inputs

function gaussian(n, seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(Math.max(next(), 1e-12))) * Math.cos(2 * Math.PI * next());
  return out;
}

const ACC_N = 256; // accuracy table size
const maxN = Math.max(...SIZES, ACC_N);
const arena = new Arena({ initialBytes: 4 * 4 * maxN * maxN + svdScratchBytes(maxN, maxN, true) + 4 * maxN + (1 << 20) });
const wasm = instantiateWasm(await loadWasmModule(), arena.memory);
const ref = refKernels(arena.memory);
const A = arena.alloc(4 * maxN * maxN), W = arena.alloc(4 * maxN * maxN), V = arena.alloc(4 * maxN * maxN), VT = arena.alloc(4 * maxN * maxN);
const TAU = arena.alloc(4 * maxN);
const SCRATCH = arena.alloc(Math.max(svdScratchBytes(maxN, maxN, true), eighScratchBytes(maxN), qrScratchBytes(maxN, maxN) + qrFormQScratchBytes(maxN, maxN, maxN)));
const view = (p, n) => new Float32Array(arena.memory.buffer, p, n);

function load(n, symmetric, seed) {
  const g = gaussian(n * n, seed);
  const a = view(A, n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = symmetric ? g[i * n + j] + g[j * n + i] : g[i * n + j];
}

const check = (st, what) => {
  if (st !== 0) throw new Error(`${what} returned status ${st}`);
};

function tasks(K, n) {
  return {
    eigh: () => check(K.eigh(V, n, TAU, W, n, n, SCRATCH), 'eigh'),
    qr: () => {
      view(W, n * n).set(view(A, n * n));
      check(K.qrFactor(W, n, n, n, TAU, SCRATCH), 'qrFactor');
      check(K.qrFormQ(V, n, W, n, n, n, n, TAU, SCRATCH + qrScratchBytes(n, n)), 'qrFormQ');
    },
    svd: () => check(K.svd(V, n, TAU, VT, n, A, n, n, n, 0, SCRATCH), 'svd'),
  };
}

/** Runs the PyTorch peer on `sizes` (and QR `shapes`) with extra environment; null when it cannot run. */
function runTorch(label, extraEnv, sizes, shapes) {
  const env = { ...process.env, ...extraEnv };
  const args = [path.join(here, 'linalg_torch.py'), '--sizes', sizes.join(','), '--qr-shapes', shapes.map(([m, n]) => `${m}x${n}`).join(',')];
  const res = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 900_000, env });
  if (res.status !== 0) {
    const why = res.error ? res.error.message : (res.stderr || '').trim().split('\n').pop();
    console.log(`PyTorch peer (${label}) skipped: ${PYTHON} cannot run bench/linalg_torch.py (${why})`);
    return null;
  }
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop());
  } catch (e) {
    console.log(`PyTorch peer (${label}): could not parse its output (${e.message}); skipped`);
    return null;
  }
}

// Two peer runs, each right after the wasm runs of the same size (the machine is shared; ratios are
// taken between measurements minutes apart at most): one thread everywhere (torch.set_num_threads(1)
// in the script, OpenBLAS's own pool pinned too: Debian's torch calls BLAS through the generic
// interface, so it cannot size OpenBLAS's threads), and OpenBLAS at its default (one thread per core, 2
// here), the setting of ../shared/design/tech-notes.md.
let torch = null, torchMt = null, torchOk = WITH_TORCH;
const merge = (acc, part) => (part ? { ...part, results: { ...(acc?.results ?? {}), ...part.results } } : acc);
function peer(sizes, shapes) {
  if (!torchOk) return;
  const one = runTorch('1 thread', { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' }, sizes, shapes);
  if (!one) {
    torchOk = false;
    return;
  }
  torch = merge(torch, one);
  torchMt = merge(torchMt, runTorch('OpenBLAS default threads', {}, sizes, shapes));
}

// ---------------------------------------------------------------------------------------------------
// Timings (tinybench; long tasks, so a few iterations each)

const rows = [];
for (const n of SIZES) {
  for (const [backend, K] of [['wasm', wasm], ['ref', ref]]) {
    if (backend === 'ref' && n > REF_MAX) continue;
    for (const op of ['eigh', 'qr', 'svd']) {
      load(n, false, n);
      if (op === 'eigh') {
        // eigh reads W: the symmetric matrix A + Aᵀ.
        const a = view(A, n * n), w = view(W, n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) w[i * n + j] = a[i * n + j] + a[j * n + i];
      }
      const fn = tasks(K, n)[op];
      const iterations = backend === 'wasm' ? (n <= 256 ? 20 : n <= 512 ? 8 : 5) : n <= 256 ? 3 : 1;
      const bench = new Bench({ time: 0, iterations, warmup: backend === 'wasm', warmupIterations: 1, warmupTime: 0 });
      bench.add(`${op} ${backend} ${n}`, fn);
      await bench.run();
      const r = bench.tasks[0].result;
      if (r.error) throw r.error;
      rows.push({ op, backend, n, ms: r.latency.p50, minMs: r.latency.min, samples: r.latency.samplesCount });
      console.log(`${op.padEnd(5)} ${backend.padEnd(5)} n=${String(n).padEnd(5)} ${r.latency.p50.toFixed(1).padStart(9)} ms (median of ${r.latency.samplesCount})`);
    }
  }
  peer([n], []);
}

// The issue's wide shape, QR only (factor + reduced Q, 768×768).
const QR_SHAPES = [[768, 3072]];
for (const [m, n] of QR_SHAPES) {
  const need = 4 * m * n * 2 + 4 * m * m + qrScratchBytes(m, n) + qrFormQScratchBytes(m, n, m);
  const ar = new Arena({ initialBytes: need + (1 << 20) });
  const K = instantiateWasm(await loadWasmModule(), ar.memory);
  const a = ar.alloc(4 * m * n), w = ar.alloc(4 * m * n), q = ar.alloc(4 * m * m), tau = ar.alloc(4 * m);
  const sc = ar.alloc(qrScratchBytes(m, n)), sq = ar.alloc(qrFormQScratchBytes(m, n, m));
  const g = gaussian(m * n, m + n);
  new Float32Array(ar.memory.buffer, a, m * n).set(g);
  const bench = new Bench({ time: 0, iterations: 5, warmup: true, warmupIterations: 1, warmupTime: 0 });
  bench.add(`qr wasm ${m}x${n}`, () => {
    new Float32Array(ar.memory.buffer, w, m * n).set(new Float32Array(ar.memory.buffer, a, m * n));
    check(K.qrFactor(w, n, m, n, tau, sc), 'qrFactor');
    check(K.qrFormQ(q, m, w, n, m, n, m, tau, sq), 'qrFormQ');
  });
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.error) throw r.error;
  rows.push({ op: 'qr', backend: 'wasm', n: `${m}x${n}`, ms: r.latency.p50, minMs: r.latency.min, samples: r.latency.samplesCount });
  console.log(`qr    wasm  ${m}x${n}  ${r.latency.p50.toFixed(1).padStart(9)} ms (median of ${r.latency.samplesCount})`);
  peer([], [[m, n]]);
}
if (torch) console.log(`PyTorch ${torch.torch}, torch threads ${torch.threads}, BLAS/LAPACK: ${torch.blas_libraries.join(', ') || 'unknown'} (${torch.build.join(', ')})`);

// ---------------------------------------------------------------------------------------------------
// PyTorch peer

// ---------------------------------------------------------------------------------------------------
// Accuracy by condition number (n = 256, both backends)

function orthogonal(n, seed) {
  const q = gaussian(n * n, seed);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        let d = 0;
        for (let k = 0; k < n; k++) d += q[i * n + k] * q[j * n + k];
        for (let k = 0; k < n; k++) q[i * n + k] -= d * q[j * n + k];
      }
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] ** 2;
      s = Math.sqrt(s);
      for (let k = 0; k < n; k++) q[i * n + k] /= s;
    }
  }
  return q; // rows orthonormal
}

function accuracy(K, n, cond, seed) {
  const q1 = orthogonal(n, seed), q2 = orthogonal(n, seed + 1);
  const lam = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * cond ** (-i / (n - 1)));
  const sig = lam.map(Math.abs);
  // S = Q1ᵀ·diag(λ)·Q1 (symmetric), G = Q1ᵀ·diag(σ)·Q2 (general), both rounded to f32.
  const s = new Float32Array(n * n), g = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let a = 0, b = 0;
      for (let k = 0; k < n; k++) {
        a += q1[k * n + i] * lam[k] * q1[k * n + j];
        b += q1[k * n + i] * sig[k] * q2[k * n + j];
      }
      s[i * n + j] = a;
      g[i * n + j] = b;
    }
  }
  const mulT = (x, y, m, k, p, tx) => { // tx ? xᵀ·y : x·y, f64
    const c = new Float64Array(m * p);
    for (let i = 0; i < m; i++) for (let q = 0; q < k; q++) {
      const xv = tx ? x[q * m + i] : x[i * k + q];
      for (let j = 0; j < p; j++) c[i * p + j] += xv * y[q * p + j];
    }
    return c;
  };
  const orthErr = (q) => {
    const e = mulT(q, q, n, n, n, true);
    let m = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m = Math.max(m, Math.abs(e[i * n + j] - (i === j ? 1 : 0)));
    return m;
  };
  const rel = (x, y) => {
    let d = 0, t = 0;
    for (let i = 0; i < x.length; i++) {
      d += (x[i] - y[i]) ** 2;
      t += y[i] ** 2;
    }
    return Math.sqrt(d / t);
  };
  const out = {};
  // QR
  view(W, n * n).set(g);
  check(K.qrFactor(W, n, n, n, TAU, SCRATCH), 'qrFactor');
  check(K.qrFormQ(V, n, W, n, n, n, n, TAU, SCRATCH + qrScratchBytes(n, n)), 'qrFormQ');
  const qm = Float64Array.from(view(V, n * n)), f = view(W, n * n), r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) r[i * n + j] = f[i * n + j];
  out.qr = { orth: orthErr(qm), recon: rel(mulT(qm, r, n, n, n, false), g) };
  // eigh
  view(W, n * n).set(s);
  check(K.eigh(V, n, TAU, W, n, n, SCRATCH), 'eigh');
  const vm = Float64Array.from(view(V, n * n)), w = Float64Array.from(view(TAU, n));
  const vl = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vl[i * n + j] = vm[i * n + j] * w[j];
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vt[j * n + i] = vm[i * n + j];
  const exact = [...lam].sort((x, y) => y - x);
  out.eigh = { orth: orthErr(vm), recon: rel(mulT(vl, vt, n, n, n, false), s), value: Math.max(...exact.map((x, i) => Math.abs(x - w[i]))) };
  // SVD
  view(W, n * n).set(g);
  check(K.svd(V, n, TAU, VT, n, W, n, n, n, 0, SCRATCH), 'svd');
  const um = Float64Array.from(view(V, n * n)), sv = Float64Array.from(view(TAU, n)), vtm = Float64Array.from(view(VT, n * n));
  const us = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) us[i * n + j] = um[i * n + j] * sv[j];
  const vtt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vtt[j * n + i] = vtm[i * n + j];
  const sexact = [...sig].sort((x, y) => y - x);
  out.svd = { orthU: orthErr(um), orthV: orthErr(vtt), recon: rel(mulT(us, vtm, n, n, n, false), g), value: Math.max(...sexact.map((x, i) => Math.abs(x - sv[i]))) };
  return out;
}

const acc = [];
for (const cond of [1e1, 1e2, 1e4, 1e6]) {
  for (const [backend, K] of [['wasm', wasm], ['ref', ref]]) acc.push({ cond, backend, ...accuracy(K, ACC_N, cond, Math.round(Math.log10(cond)) * 7) });
}

// ---------------------------------------------------------------------------------------------------
// Report

const cpus = os.cpus();
const machine = {
  cpu: cpuDescription(),
  cores: cpus.length,
  node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  torch: torch ? { version: torch.torch, threads: torch.threads, blas: torch.blas_libraries, build: torch.build } : null,
};
const torchMs = (peer, op, n, key = 'median_ms') => peer?.results?.[String(n)]?.[op]?.[key];
const table = [];
for (const n of [...SIZES, ...QR_SHAPES.map(([m, k]) => `${m}x${k}`)]) {
  for (const op of typeof n === 'string' ? ['qr'] : ['eigh', 'qr', 'svd']) {
    const w = rows.find((r) => r.op === op && r.n === n && r.backend === 'wasm');
    const rf = rows.find((r) => r.op === op && r.n === n && r.backend === 'ref');
    const t = torchMs(torch, op, n), t2 = torchMs(torchMt, op, n), tMin = torchMs(torch, op, n, 'min_ms');
    table.push({
      op, n,
      wasm_ms: w ? +w.ms.toFixed(1) : null,
      ref_ms: rf ? +rf.ms.toFixed(1) : null,
      torch_ms: t != null ? +t.toFixed(1) : null,
      wasm_vs_torch: t != null && w ? +(w.ms / t).toFixed(2) : null,
      wasm_min_ms: w ? +w.minMs.toFixed(1) : null,
      torch_min_ms: tMin != null ? +tMin.toFixed(1) : null,
      wasm_vs_torch_fastest: tMin != null && w ? +(w.minMs / tMin).toFixed(2) : null,
      torch_mt_ms: t2 != null ? +t2.toFixed(1) : null,
      wasm_vs_torch_mt: t2 != null && w ? +(w.ms / t2).toFixed(2) : null,
      ref_vs_wasm: rf && w ? +(rf.ms / w.ms).toFixed(1) : null,
    });
  }
}
console.table(table);
console.table(acc.map((a) => ({
  cond: a.cond, backend: a.backend,
  'qr orth': a.qr.orth.toExponential(1), 'qr recon': a.qr.recon.toExponential(1),
  'eigh orth': a.eigh.orth.toExponential(1), 'eigh recon': a.eigh.recon.toExponential(1), 'eigh |Δλ|': a.eigh.value.toExponential(1),
  'svd orth U/V': `${a.svd.orthU.toExponential(1)}/${a.svd.orthV.toExponential(1)}`, 'svd recon': a.svd.recon.toExponential(1), 'svd |Δσ|': a.svd.value.toExponential(1),
})));

const resultsDir = path.join(here, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const command = `npm run bench:linalg${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
fs.writeFileSync(path.join(resultsDir, 'linalg.json'), `${JSON.stringify({ command, date: new Date().toISOString(), machine, timings: rows, table, torch: torch?.results ?? null, torchOpenblasDefaultThreads: torchMt?.results ?? null, accuracy: acc }, null, 2)}\n`);

const fmt = (x) => (x == null ? '—' : String(x));
const md = [
  '# Linear-algebra kernels: timings and accuracy',
  '',
  `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}).`,
  `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; one thread everywhere.`,
  torch
    ? `Peer: PyTorch ${torch.torch} (Debian python3-torch, Python ${torch.python}), torch.set_num_threads(${torch.threads}); BLAS/LAPACK loaded: ${torch.blas_libraries.join(', ') || 'unknown'} (build: ${torch.build.join(', ')}). "1 thread": OPENBLAS_NUM_THREADS=1 as well; "OpenBLAS 2 threads": OpenBLAS at its default, one thread per core (the setting of the tech notes' table; torch's own threads stay at 1).`
    : 'Peer: PyTorch not available here (/usr/bin/python3 cannot import torch); its column is empty.',
  '',
  'Medians in ms, and the fastest run of each side (wasm: 20, 8, 5 runs at 256, 512, 1024; PyTorch: 5): the',
  'machine is shared with other processes, and the fastest run is the least disturbed one, so the ratio of',
  'fastest runs is the steadier comparison. eigh: eigenvalues and eigenvectors of A + Aᵀ; qr: qrFactor + qrFormQ (reduced Q), against',
  'torch.linalg.qr(mode="reduced"); svd: thin SVD with U and Vᵀ, against torch.linalg.svd(full_matrices=False).',
  'ref is the scalar oracle (same algorithms, unblocked, plain JS), the naive baseline.',
  '',
  '| op | n | wasm ms | ref ms | ref / wasm | PyTorch 1 thread ms | wasm / PyTorch | wasm fastest ms | PyTorch 1 thread fastest ms | wasm / PyTorch, fastest runs | PyTorch, OpenBLAS 2 threads ms | wasm / that |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...table.map((r) => `| ${r.op} | ${r.n} | ${fmt(r.wasm_ms)} | ${fmt(r.ref_ms)} | ${fmt(r.ref_vs_wasm)} | ${fmt(r.torch_ms)} | ${fmt(r.wasm_vs_torch)} | ${fmt(r.wasm_min_ms)} | ${fmt(r.torch_min_ms)} | ${fmt(r.wasm_vs_torch_fastest)} | ${fmt(r.torch_mt_ms)} | ${fmt(r.wasm_vs_torch_mt)} |`),
  '',
  'Where the time goes (V8 CPU profile of the wasm kernels at n = 1024, AMD Zen 5): QR — the f64 GEMM',
  'micro-kernel 78%, its operand packing 11%, the panel factorization ~9%; eigh — the tridiagonal',
  'reduction 48% (one fused pass over half the trailing matrix per step: rank-2 update and the next',
  'product, f64x2, bound by the mul/add pipes and the L3), GEMM 44% (divide-and-conquer merges and the',
  'back-transformation); svd — GEMM 68%, the reduction 21%, secular equations and deflation 5%.',
  'The f64 micro-kernel (2×8 tile, A pre-splatted) runs at 26–29 GFLOP/s on these shapes, about the',
  'speed of a register-resident f64x2 mul+add loop on this CPU (29 GFLOP/s; both from a standalone',
  'build of the kernel). The kernels compute in f64 by design; f32x4 arithmetic in the GEMM parts would',
  'be at most ~2× faster at the price of f32-level rather than f64-level internal accuracy. OpenBLAS',
  'uses 256/512-bit FMA in f32 (on this CPU up to 8× the per-cycle peak of f64x2 mul+add).',
  '',
  `Accuracy at n = ${ACC_N} (f32 outputs; S = Qᵀ·diag(λ)·Q and G = Q₁ᵀ·diag(|λ|)·Q₂ with |λ| spread`,
  'geometrically from 1 to 1/cond, rounded to f32): orth = max |XᵀX − I|, recon = ‖A − …‖_F/‖A‖_F,',
  '|Δλ|, |Δσ| = max error against the exact values of the matrix before rounding (bounded by ≈ ε₃₂·‖A‖_F = 1e-6 here).',
  '',
  '| cond | backend | qr orth | qr recon | eigh orth | eigh recon | eigh abs err λ | svd orth U / V | svd recon | svd abs err σ |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...acc.map((a) => `| ${a.cond.toExponential(0)} | ${a.backend} | ${a.qr.orth.toExponential(1)} | ${a.qr.recon.toExponential(1)} | ${a.eigh.orth.toExponential(1)} | ${a.eigh.recon.toExponential(1)} | ${a.eigh.value.toExponential(1)} | ${a.svd.orthU.toExponential(1)} / ${a.svd.orthV.toExponential(1)} | ${a.svd.recon.toExponential(1)} | ${a.svd.value.toExponential(1)} |`),
  '',
];
fs.writeFileSync(path.join(resultsDir, 'linalg.md'), `${md.join('\n')}\n`);
console.log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, 'linalg.json'))} and linalg.md`);
