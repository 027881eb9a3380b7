// Pool backend scaling: the same work on single-thread wasm and on the pool at 1..T threads, measured
// side by side in one run (ratios, since the machine is shared).
// Usage: npm run bench:pool [-- --quick] [-- --optimizers sgd,adamw,racs] [-- --steps-only]
//        [-- --refresh] [-- --out NAME]
// --steps-only skips the kernel rows; --refresh adds, for optimizers with an updateInterval, steps
// that all refresh (updateInterval 1); --out writes bench/results/NAME.{json,md} (default pool).
import { writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { Bench } from 'tinybench';
import { Arena } from '../dist/arena.js';
import { createBackend } from '../dist/backends/index.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';
import { createOptimizer, optimizerNames } from '../dist/index.js';
import { GEMM_SCRATCH_BYTES } from '../dist/kernels/gemm.js';

const quick = process.argv.includes('--quick');
const stepsOnly = process.argv.includes('--steps-only');
const withRefresh = process.argv.includes('--refresh');
const outFlag = process.argv.indexOf('--out');
const outName = outFlag >= 0 ? process.argv[outFlag + 1] : 'pool';
const maxThreads = Math.max(2, availableParallelism());
const THREADS = Array.from({ length: maxThreads }, (_, i) => i + 1);
const rows = [];
const note = (group, task, ms, extra = {}) => {
  rows.push({ group, task, ms, ...extra });
  console.log(`${group.padEnd(12)} ${task.padEnd(48)} ${ms.toFixed(2).padStart(9)} ms`, extra.ratio ? `×${extra.ratio.toFixed(2)}` : '');
};

/** Median latency of `fn` (declare it `async` when it returns a promise, so tinybench awaits it). */
async function median(fn, { time = quick ? 400 : 1500, iterations = 3 } = {}) {
  const bench = new Bench({ time, iterations, warmupTime: 100, warmupIterations: 1 });
  bench.add('x', fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.error) throw r.error;
  return r.latency.p50;
}

// ---------------------------------------------------------------------------------------------------
// Kernels: copy bandwidth, GEMM and Gram through the pool's kernel entry point (one task per call).
const N = 1 << 24; // 16M floats = 64 MiB per buffer
const arena = new Arena({ shared: true, initialBytes: 4 * N * 3 + 3 * 4 * 2048 * 2048 + (maxThreads + 1) * GEMM_SCRATCH_BYTES + (1 << 20) });
const helperScratch = Array.from({ length: maxThreads - 1 }, () => arena.alloc(GEMM_SCRATCH_BYTES));
const scratch = arena.alloc(GEMM_SCRATCH_BYTES);
const wasm = instantiateWasm(await loadWasmModule(undefined, 'mt'), arena.memory);
const src = arena.alloc(4 * N), dst = arena.alloc(4 * N);
wasm.fillUniform(src, N, 1, 0);
wasm.fill(dst, N, 0);
const A = arena.alloc(4 * 2048 * 2048), B = arena.alloc(4 * 2048 * 2048), C = arena.alloc(4 * 2048 * 2048);
wasm.fillUniform(A, 2048 * 2048, 2, 0);
wasm.fillUniform(B, 2048 * 2048, 3, 0);
wasm.fill(C, 2048 * 2048, 0);

const pools = {};
for (const t of THREADS) pools[t] = await createBackend('pool', arena, undefined, { threads: t, helperScratch });

let bestCopyGBs = NaN;
if (!stepsOnly) {
const copyWasm = await median(() => wasm.copy(dst, src, N));
const copyGBs = (2 * 4 * N) / copyWasm / 1e6;
note('bandwidth', `copy 64 MiB, wasm 1 thread (${copyGBs.toFixed(1)} GB/s)`, copyWasm);
bestCopyGBs = copyGBs;
for (const t of THREADS) {
  const ms = await median(async () => { await pools[t].pool.kernel('copy', [dst, src, N]); });
  const gbs = (2 * 4 * N) / ms / 1e6;
  bestCopyGBs = Math.max(bestCopyGBs, gbs);
  note('bandwidth', `copy 64 MiB, pool ${t} thread(s) (${gbs.toFixed(1)} GB/s)`, ms, { ratio: copyWasm / ms });
}

for (const n of quick ? [1024] : [1024, 2048]) {
  const args = [C, n, A, n, 0, B, n, 0, n, n, n, 1, 0, scratch];
  const base = await median(() => wasm.gemm(...args), { iterations: 2 });
  note('gemm', `${n}³ wasm 1 thread (${((2 * n ** 3) / base / 1e6).toFixed(1)} GFLOP/s)`, base);
  for (const t of THREADS) {
    const ms = await median(async () => { await pools[t].pool.kernel('gemm', args); }, { iterations: 2 });
    note('gemm', `${n}³ pool ${t} thread(s) (${((2 * n ** 3) / ms / 1e6).toFixed(1)} GFLOP/s)`, ms, { ratio: base / ms });
  }
}
{
  const args = [C, 1024, A, 4096, 0, 1024, 4096, 1, 0, scratch];
  const base = await median(() => wasm.syrk(...args), { iterations: 2 });
  note('gram', 'syrk A·Aᵀ, A 1024×4096, wasm 1 thread', base);
  for (const t of THREADS) {
    const ms = await median(async () => { await pools[t].pool.kernel('syrk', args); }, { iterations: 2 });
    note('gram', `syrk A·Aᵀ, A 1024×4096, pool ${t} thread(s)`, ms, { ratio: base / ms });
  }
}
}
for (const t of THREADS) await pools[t].pool.close();

// ---------------------------------------------------------------------------------------------------
// Whole optimizer steps.
async function stepTime(config) {
  const opt = await createOptimizer({ nonFinite: 'ignore', ...config });
  for (const name of opt.paramNames) opt.grad(name).fill(1e-3);
  await opt.step();
  const ms = await median(async () => { await opt.step(); }, { time: quick ? 300 : 1500, iterations: 3 });
  const state = opt.stateBytes();
  await opt.close();
  return { ms, state };
}

const M16 = { w: { shape: [4096, 4096] } };
if (!stepsOnly) {
  const base = await stepTime({ optimizer: 'adamw', params: M16, backend: 'wasm' });
  const gbs = (28 * 4096 * 4096) / base.ms / 1e6;
  note('adamw 16M', `wasm 1 thread (${gbs.toFixed(1)} GB/s at 28 B/param)`, base.ms);
  for (const t of THREADS) {
    for (const rollback of [false, true]) {
      const r = await stepTime({ optimizer: 'adamw', params: M16, backend: 'pool', threads: t, rollback });
      const g = (28 * 4096 * 4096) / r.ms / 1e6;
      note('adamw 16M', `pool ${t} thread(s)${rollback ? ', rollback' : ''} (${g.toFixed(1)} GB/s, ${((100 * g) / bestCopyGBs).toFixed(0)}% of copy)`, r.ms, { ratio: base.ms / r.ms });
    }
  }
}

/** LLaMA-60M parameter shapes (hidden 512, intermediate 1376, 8 layers, vocab 32000). */
function llama60m() {
  const p = { 'embed_tokens.weight': { shape: [32000, 512] }, 'norm.weight': { shape: [512] }, 'lm_head.weight': { shape: [32000, 512] } };
  for (let l = 0; l < 8; l++) {
    for (const k of ['q', 'k', 'v', 'o']) p[`layers.${l}.attn.${k}_proj.weight`] = { shape: [512, 512] };
    p[`layers.${l}.mlp.gate_proj.weight`] = { shape: [1376, 512] };
    p[`layers.${l}.mlp.up_proj.weight`] = { shape: [1376, 512] };
    p[`layers.${l}.mlp.down_proj.weight`] = { shape: [512, 1376] };
    p[`layers.${l}.input_layernorm.weight`] = { shape: [512] };
    p[`layers.${l}.post_attention_layernorm.weight`] = { shape: [512] };
  }
  return p;
}

// --optimizers a,b,c picks the optimizers (default: all but adam; the rotated-basis ones take seconds per
// step on these shapes because their refreshes decompose 1376-wide matrices).
const flag = process.argv.indexOf('--optimizers');
const optimizers = flag >= 0 ? process.argv[flag + 1].split(',') : quick ? ['adamw', 'sgd'] : optimizerNames().filter((n) => n !== 'adam');
const { getOptimizer } = await import('../dist/optimizers/index.js');
const cases = [];
for (const optimizer of optimizers) {
  cases.push([optimizer, optimizer === 'sgd' ? { momentum: 0.9 } : {}, '']);
  if (withRefresh && getOptimizer(optimizer).schema.updateInterval) cases.push([optimizer, { updateInterval: 1 }, ', every step a refresh']);
}
for (const [optimizer, options, label] of cases) {
  let base;
  try {
    base = await stepTime({ optimizer, options, params: llama60m(), backend: 'wasm' });
  } catch (e) {
    console.log(`skip ${optimizer}: ${e.message}`);
    continue;
  }
  note('llama-60m', `${optimizer}${label} wasm 1 thread (state ${(base.state / 2 ** 20).toFixed(1)} MiB)`, base.ms);
  for (const t of THREADS.filter((x) => x > 1)) {
    for (const rollback of [false, true]) {
      const r = await stepTime({ optimizer, options, params: llama60m(), backend: 'pool', threads: t, rollback });
      note('llama-60m', `${optimizer}${label} pool ${t} threads${rollback ? ', rollback' : ''}`, r.ms, { ratio: base.ms / r.ms });
    }
  }
}

const machine = { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, os: release(), date: new Date().toISOString(), quick };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/${outName}.json`, import.meta.url), JSON.stringify({ machine, rows }, null, 2) + '\n');
const md = [
  '# Pool backend scaling',
  '',
  `Command: \`npm run bench:pool -- ${process.argv.slice(2).join(' ')}\`. Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}.`,
  'Medians (tinybench). "×" is the speed-up over single-thread wasm measured in the same run; kernel rows through the',
  "pool's kernel entry point pay one Piscina task per call (tens of µs), steps pay one per step.",
  '',
  '| group | task | median ms | × wasm 1 thread |',
  '| --- | --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.group} | ${r.task} | ${r.ms.toFixed(2)} | ${r.ratio ? r.ratio.toFixed(2) : '—'} |`),
  '',
].join('\n');
writeFileSync(new URL(`./results/${outName}.md`, import.meta.url), md);
console.log(`wrote bench/results/${outName}.{json,md}`);
