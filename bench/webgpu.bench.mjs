// WebGPU backend benchmark: f32 GEMM GFLOP/s, AdamW and Muon step times on the webgpu backend next to the
// wasm backend (one thread), measured in the same run. Every WebGPU GEMM is checked against the wasm
// result before it is timed. Device time is taken around a batch of kernel calls ended by a device sync
// (so a batch's submit and wait are included, amortized over the batch).
// On a machine without a GPU the adapter is Mesa's llvmpipe software rasterizer: its numbers say how
// slow the correctness path is, nothing about GPUs; the report labels it.
// Usage: npm run build && node bench/webgpu.bench.mjs [--sizes 256,512 --elements 4194304 --steps 10 --muon 256x512 --soap 128x256]
// Writes bench/results/webgpu.json and bench/results/webgpu.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Arena } from '../dist/arena.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { acquireDevice } from '../dist/backends/webgpu/device.js';
import { webgpuKernels } from '../dist/backends/webgpu/kernels.js';
import { GpuRuntime } from '../dist/backends/webgpu/runtime.js';
import { GEMM_SCRATCH_BYTES } from '../dist/kernels/gemm.js';
import { createOptimizer } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SIZES = arg('sizes', '256,512').split(',').map(Number);
const ELEMENTS = Number(arg('elements', 1 << 22));
const STEPS = Number(arg('steps', 10));
const MIN_MS = Number(arg('time', 1500)); // time per measurement

const got = await acquireDevice();
if (!got.device) {
  console.log(`no WebGPU adapter: ${got.reason}`);
  process.exit(0);
}
const software = /llvmpipe|lavapipe|swiftshader|software/i.test(got.description);
const deviceLabel = `${got.description}${software ? ' (software rasterizer on the CPU: correctness path, not GPU speed)' : ''}`;
console.log(`WebGPU device: ${deviceLabel}`);
console.log(`host: ${os.cpus()[0]?.model} ×${os.cpus().length}, Node ${process.versions.node}`);

/** Run `batch()` (n calls, ended by its own sync) until MIN_MS has passed; ms per call, best of the batches. */
async function timeIt(batch, n) {
  await batch(1); // warm-up: pipelines, first touch
  let best = Infinity, spent = 0;
  while (spent < MIN_MS) {
    const t0 = performance.now();
    await batch(n);
    const dt = performance.now() - t0;
    spent += dt;
    best = Math.min(best, dt / n);
  }
  return best;
}

// ----------------------------------------------------------------------------------------------------
// GEMM

const maxN = Math.max(...SIZES);
const arena = new Arena({ initialBytes: 4 * 4 * maxN * maxN + GEMM_SCRATCH_BYTES + (1 << 20) });
const wasm = instantiateWasm(await loadWasmModule(), arena.memory);
const scratch = arena.alloc(GEMM_SCRATCH_BYTES);
const A = arena.alloc(4 * maxN * maxN), B = arena.alloc(4 * maxN * maxN), C = arena.alloc(4 * maxN * maxN), C2 = arena.alloc(4 * maxN * maxN);
let s = 12345;
for (const p of [A, B]) {
  const v = new Float32Array(arena.buffer, p, maxN * maxN);
  for (let i = 0; i < v.length; i++) v[i] = ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
}
const rt = new GpuRuntime(got.device, got.description, arena.memory);
const gpu = webgpuKernels(rt).kernels;
const rows = [];
for (const n of SIZES) {
  const flops = 2 * n * n * n;
  // check first: the device result against wasm's, within the documented gemm bound scaled to values in [−0.5, 0.5)
  wasm.gemm(C2, n, A, n, 0, B, n, 0, n, n, n, 1, 0, scratch);
  gpu.gemm(C, n, A, n, 0, B, n, 0, n, n, n, 1, 0, 0);
  await rt.download([[C, 4 * n * n]]);
  const c = new Float32Array(arena.buffer, C, n * n), c2 = new Float32Array(arena.buffer, C2, n * n);
  let worst = 0;
  for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i] - c2[i]));
  const bound = 4 * (n + 4) * 2 ** -24 * n * 0.25;
  if (!(worst <= bound)) throw new Error(`gemm ${n}: webgpu differs from wasm by ${worst} (bound ${bound})`);
  const gpuMs = await timeIt(async (k) => {
    for (let i = 0; i < k; i++) gpu.gemm(C, n, A, n, 0, B, n, 0, n, n, n, 1, 0, 0);
    await rt.sync();
  }, software ? 1 : 20);
  const wasmMs = await timeIt(async (k) => {
    for (let i = 0; i < k; i++) wasm.gemm(C2, n, A, n, 0, B, n, 0, n, n, n, 1, 0, scratch);
  }, 1);
  rows.push({ what: `gemm ${n}×${n}×${n}`, webgpuMs: gpuMs, wasmMs, webgpuGflops: flops / gpuMs / 1e6, wasmGflops: flops / wasmMs / 1e6, maxAbsDiff: worst });
  console.log(`gemm ${n}: webgpu ${(flops / gpuMs / 1e6).toFixed(2)} GFLOP/s (${gpuMs.toFixed(2)} ms), wasm 1 thread ${(flops / wasmMs / 1e6).toFixed(2)} GFLOP/s (${wasmMs.toFixed(2)} ms), max |Δ| ${worst.toExponential(2)}`);
}
rt.destroy();

// ----------------------------------------------------------------------------------------------------
// AdamW step (default nonFinite 'throw': the gradient check runs on the device and each step reads back
// its 16-byte status, so a step's time includes waiting for the device).

const side = Math.round(Math.sqrt(ELEMENTS));
const params = { w: { shape: [side, side] } };
const grad = new Float32Array(side * side).map((_, i) => Math.sin(i) * 1e-2);
const steps = {};
for (const backend of ['webgpu', 'wasm']) {
  const opt = await createOptimizer({ optimizer: 'adamw', options: { lr: 1e-3 }, params, backend });
  opt.setGrads({ w: grad });
  steps[backend] = await timeIt(async (k) => {
    for (let i = 0; i < k; i++) await opt.step();
  }, STEPS);
  await opt.close();
}
const bytes = 32 * side * side; // read p, g, m, v and g again for the check; write p, m, v
rows.push({ what: `adamw step, ${side}×${side} (${side * side} elements)`, webgpuMs: steps.webgpu, wasmMs: steps.wasm, webgpuGBs: bytes / steps.webgpu / 1e6, wasmGBs: bytes / steps.wasm / 1e6 });
console.log(`adamw step ${side}×${side}: webgpu ${steps.webgpu.toFixed(2)} ms (${(bytes / steps.webgpu / 1e6).toFixed(1)} GB/s of traffic), wasm 1 thread ${steps.wasm.toFixed(2)} ms (${(bytes / steps.wasm / 1e6).toFixed(1)} GB/s)`);

// Muon step (Newton–Schulz through gemm/syrk; its two Frobenius norms per matrix are host scalars,
// each one readback and a replay of the step on webgpu).
const [mm, mn] = arg('muon', '256x512').split('x').map(Number);
const mgrad = new Float32Array(mm * mn).map((_, i) => Math.cos(i) * 1e-2);
const muon = {};
for (const backend of ['webgpu', 'wasm']) {
  const opt = await createOptimizer({ optimizer: 'muon', params: { w: { shape: [mm, mn] } }, backend });
  opt.setGrads({ w: mgrad });
  muon[backend] = await timeIt(async (k) => {
    for (let i = 0; i < k; i++) await opt.step();
  }, 2);
  await opt.close();
}
rows.push({ what: `muon step, ${mm}×${mn}`, webgpuMs: muon.webgpu, wasmMs: muon.wasm });
console.log(`muon step ${mm}×${mn}: webgpu ${muon.webgpu.toFixed(2)} ms, wasm 1 thread ${muon.wasm.toFixed(2)} ms`);

// SOAP steps: refresh steps (updateInterval 1: eigh/QR of both Gram matrices on the host every step,
// with their inputs read back and outputs uploaded on webgpu) and steady steps (no decomposition).
const [sm, sn] = arg('soap', '128x256').split('x').map(Number);
const sgrad = new Float32Array(sm * sn).map((_, i) => Math.sin(0.7 * i) * 1e-2);
for (const [label, interval] of [['refresh', 1], ['steady', 1_000_000]]) {
  const soap = {};
  let perStep = '';
  for (const backend of ['webgpu', 'wasm']) {
    const opt = await createOptimizer({ optimizer: 'soap', options: { updateInterval: interval }, params: { w: { shape: [sm, sn] } }, backend });
    opt.setGrads({ w: sgrad });
    await opt.step(); // the first step refreshes whatever the interval
    const rt = opt.gpu;
    const before = rt ? { ...rt.stats } : undefined;
    let count = 0;
    soap[backend] = await timeIt(async (k) => {
      for (let i = 0; i < k; i++) await opt.step();
      count += k;
    }, 2);
    if (rt) perStep = ` (per step: ${((rt.stats.readbacks - before.readbacks) / count).toFixed(1)} readbacks, ${((rt.stats.uploads - before.uploads) / count).toFixed(1)} uploads, ${((rt.stats.hostKernels - before.hostKernels) / count).toFixed(1)} host decompositions)`;
    await opt.close();
  }
  rows.push({ what: `soap ${label} step, ${sm}×${sn}${perStep}`, webgpuMs: soap.webgpu, wasmMs: soap.wasm });
  console.log(`soap ${label} step ${sm}×${sn}: webgpu ${soap.webgpu.toFixed(2)} ms, wasm 1 thread ${soap.wasm.toFixed(2)} ms${perStep}`);
}

const out = { device: deviceLabel, software, host: `${os.cpus()[0]?.model} ×${os.cpus().length}`, node: process.versions.node, date: new Date().toISOString(), rows };
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'webgpu.json'), `${JSON.stringify(out, null, 2)}\n`);
const md = [
  `# WebGPU backend vs wasm (one thread)`,
  '',
  `Device: ${deviceLabel}. Host: ${out.host}, Node ${out.node}. ${out.date}.`,
  '',
  '| what | webgpu ms | wasm ms | webgpu | wasm |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => {
    const rate = (gf, gb) => (gf !== undefined ? `${gf.toFixed(2)} GFLOP/s` : gb !== undefined ? `${gb.toFixed(1)} GB/s` : '');
    return `| ${r.what} | ${r.webgpuMs.toFixed(2)} | ${r.wasmMs.toFixed(2)} | ${rate(r.webgpuGflops, r.webgpuGBs)} | ${rate(r.wasmGflops, r.wasmGBs)} |`;
  }),
  '',
].join('\n');
fs.writeFileSync(path.join(here, 'results', 'webgpu.md'), md);
