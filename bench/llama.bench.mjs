// Optimizer step time and state on the LLaMA-60M / LLaMA-130M parameter shapes, every optimizer next to
// AdamW in the same run (single-thread wasm). Matrix optimizers take the 2-D attention/MLP weights;
// embeddings, norms and the LM head go to AdamW, as in the papers' runs.
//
// Steady steps and refresh steps (the periodic decompositions) are timed separately: a second optimizer
// with updateInterval 2 alternates refresh and steady steps; the amortized time is
// (steady·(K − 1) + refresh)/K at the optimizer's default K.
//
// The steady steps also time every gemm and syrk call (a wrapper around the backend's kernels), so each
// row reports the share of its steady step spent in matrix products ("GEMM %").
//
// `--clock cpu` times each step by the process's CPU time (user + system) instead of the wall clock: on a
// machine shared with other jobs a single-thread step is then not charged for the time it waits for a core.
//
// Usage: npm run bench:llama [-- --models 60m,130m] [-- --optimizers adamw,racs,alice] [-- --steps 3] [-- --clock cpu]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { createOptimizer, getOptimizer, optimizerNames } from '../dist/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const models = arg('models', '60m,130m').split(',');
const wanted = arg('optimizers', optimizerNames().filter((n) => n !== 'adam').join(',')).split(',');
const samples = Number(arg('steps', '3'));
const clock = arg('clock', 'wall');
if (clock !== 'wall' && clock !== 'cpu') throw new Error(`--clock must be wall or cpu, got ${clock}`);
/** Milliseconds on the chosen clock. */
const now = clock === 'cpu' ? () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; } : () => performance.now();

const CONFIGS = {
  '60m': { hidden: 512, intermediate: 1376, layers: 8 },
  '130m': { hidden: 768, intermediate: 2048, layers: 12 },
};
/** The papers' per-size settings that differ from the defaults (Alice/GaLore rank 256 at 130M). */
const SIZE_OPTIONS = { '130m': { galore: { rank: 256 }, alice: { rank: 256 }, alice0: { rank: 256 } } };

function llama({ hidden: h, intermediate: f, layers }) {
  const p = { 'embed_tokens.weight': { shape: [32000, h] }, 'norm.weight': { shape: [h] }, 'lm_head.weight': { shape: [32000, h] } };
  for (let l = 0; l < layers; l++) {
    for (const k of ['q', 'k', 'v', 'o']) p[`layers.${l}.self_attn.${k}_proj.weight`] = { shape: [h, h] };
    p[`layers.${l}.mlp.gate_proj.weight`] = { shape: [f, h] };
    p[`layers.${l}.mlp.up_proj.weight`] = { shape: [f, h] };
    p[`layers.${l}.mlp.down_proj.weight`] = { shape: [h, f] };
    p[`layers.${l}.input_layernorm.weight`] = { shape: [h] };
    p[`layers.${l}.post_attention_layernorm.weight`] = { shape: [h] };
  }
  return p;
}

/** Median of `n` timed steps after the grads are set (fixed seeded pseudo-random values). */
async function timeSteps(opt, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await opt.step();
    times.push(now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Time the gemm and syrk calls of a single-thread optimizer by wrapping its backend's kernel functions
 * (the optimizer's kernel table is internal; the wrapper replaces two entries). Returns a reader of the
 * accumulated milliseconds and a reset.
 */
function timeGemm(opt) {
  const k = opt.kernels;
  let ms = 0;
  for (const name of ['gemm', 'syrk']) {
    const f = k[name];
    k[name] = (...a) => {
      const t0 = performance.now();
      const r = f(...a);
      ms += performance.now() - t0;
      return r;
    };
  }
  return { read: () => ms, reset: () => { ms = 0; } };
}

function fillGrads(opt) {
  let s = 12345;
  for (const name of opt.paramNames) {
    const g = opt.grad(name);
    for (let i = 0; i < g.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      g[i] = (s / 4294967296 - 0.5) * 2e-3;
    }
  }
}

function writeResults() {
  const machine = { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, os: release(), date: new Date().toISOString(), samples, clock };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/llama.json', import.meta.url), JSON.stringify({ machine, rows }, null, 2) + '\n');
  const f = (x, d = 1) => (x === undefined ? '—' : x.toFixed(d));
  writeFileSync(new URL('./results/llama.md', import.meta.url), [
    '# Optimizer steps on LLaMA shapes (single-thread wasm)',
    '',
    `Command: \`npm run bench:llama\`. Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}; medians of ${samples} steps${clock === 'cpu' ? ' timed by process CPU time' : ''}.`,
    'Matrix optimizers take the attention/MLP weights, AdamW the embeddings, norms and LM head. "refresh" is a step with the',
    'periodic decomposition, "amortized" (steady·(K − 1) + refresh)/K at the default K; "× AdamW" compares that (or the steady',
    'step) with AdamW\'s step in the same run; the state ratio is the matrix optimizer\'s state over AdamW\'s 8 bytes per element',
    'on the same matrices. "GEMM %" is the share of the steady step spent in gemm and syrk calls (timed by a wrapper around',
    'the kernels).',
    '',
    '| model | optimizer | steady ms | GEMM % of steady | refresh ms | K | amortized ms | × AdamW | state MiB | state on matrices vs AdamW |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.model} | ${r.optimizer} | ${f(r.steadyMs)} | ${r.gemmShare ? f(100 * r.gemmShare) : '—'} | ${f(r.refreshMs)} | ${r.interval ?? '—'} | ${f(r.amortizedMs)} | ${f(r.vsAdamw, 2)} | ${f(r.stateBytes / 2 ** 20)} | ${r.stateVsAdamwOnMatrices === undefined ? '—' : `${(100 * r.stateVsAdamwOnMatrices).toFixed(1)}%`} |`),
    '',
  ].join('\n'));
}

const rows = [];
for (const model of models) {
  const params = llama(CONFIGS[model]);
  let adamw;
  for (const optimizer of ['adamw', ...wanted.filter((o) => o !== 'adamw')]) {
    const def = getOptimizer(optimizer);
    const hasInterval = 'updateInterval' in def.schema;
    const options = SIZE_OPTIONS[model]?.[optimizer] ?? {};
    const opt = await createOptimizer({ optimizer, options, params, backend: 'wasm', nonFinite: 'ignore' });
    fillGrads(opt);
    const first = await timeSteps(opt, 1); // includes the first refresh where there is one
    const gemm = timeGemm(opt);
    const t0 = performance.now();
    const steady = await timeSteps(opt, samples);
    const gemmShare = gemm.read() / (performance.now() - t0);
    const matrixState = opt.paramNames.filter((n) => opt.groupOf(n).optimizer === optimizer && opt.shape(n).length === 2)
      .reduce((a, n) => a + opt.stateBytes(n), 0);
    const matrixElems = opt.paramNames.filter((n) => opt.groupOf(n).optimizer === optimizer && opt.shape(n).length === 2)
      .reduce((a, n) => a + opt.param(n).length, 0);
    const row = { model, optimizer, firstMs: first, steadyMs: steady, gemmShare, stateBytes: opt.stateBytes(), matrixStateBytes: def.matrixOnly ? matrixState : undefined };
    await opt.close();
    if (hasInterval) {
      const k = def.schema.updateInterval.default;
      const alt = await createOptimizer({ optimizer, params, backend: 'wasm', nonFinite: 'ignore', options: { ...options, updateInterval: 2 } });
      fillGrads(alt);
      await timeSteps(alt, 1);
      // With K = 2 the refreshes fall on every other step; time pairs and take the slower of each pair.
      const refresh = [];
      for (let i = 0; i < samples; i++) {
        const a = await timeSteps(alt, 1), b = await timeSteps(alt, 1);
        refresh.push(Math.max(a, b));
      }
      refresh.sort((x, y) => x - y);
      row.refreshMs = refresh[Math.floor(refresh.length / 2)];
      row.interval = k;
      row.amortizedMs = (steady * (k - 1) + row.refreshMs) / k;
      await alt.close();
    }
    if (optimizer === 'adamw') adamw = row;
    const ms = row.amortizedMs ?? row.steadyMs;
    row.vsAdamw = ms / adamw.steadyMs;
    // AdamW's state on the same matrices (8 bytes per element), for the state ratio of matrix optimizers.
    if (def.matrixOnly) row.stateVsAdamwOnMatrices = matrixState / (8 * matrixElems);
    rows.push(row);
    writeResults(); // after every row, so a stopped run keeps what it measured
    console.log(`${model} ${optimizer.padEnd(17)} steady ${row.steadyMs.toFixed(1).padStart(8)} ms` +
      (gemmShare ? ` (GEMM ${(100 * gemmShare).toFixed(0)}%)` : '') +
      (row.refreshMs !== undefined ? `  refresh ${row.refreshMs.toFixed(1).padStart(8)} ms  amortized(K=${row.interval}) ${row.amortizedMs.toFixed(1)} ms` : '') +
      `  ×AdamW ${row.vsAdamw.toFixed(2)}  state ${(row.stateBytes / 2 ** 20).toFixed(1)} MiB` +
      (row.stateVsAdamwOnMatrices !== undefined ? ` (matrices: ${(100 * row.stateVsAdamwOnMatrices).toFixed(1)}% of AdamW's)` : ''));
  }
}

console.log('wrote bench/results/llama.{json,md}');
