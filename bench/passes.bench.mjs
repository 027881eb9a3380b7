// Cost of one pass of each kernel that a SinkGD, RACS or AdamW step runs on one matrix, in ns per
// element (single-thread wasm), next to plain passes (copy, scale, max-abs) in the same run. The matrix
// is processed over and over, so G stays in cache (a 512×1376 matrix is 2.8 MB: L2 or L3): this is the
// compute cost of a pass; in a whole step the first pass over G and the write of W also wait on memory.
// The time of a kernel is the least over many repetitions (the machine may be shared).
//
// Usage: node bench/passes.bench.mjs [--shapes 1376x512,512x512] [--reps 300]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { Arena } from '../dist/arena.js';
import { instantiateWasm, loadWasmModule } from '../dist/backends/wasm.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const shapes = arg('shapes', '1376x512,512x512').split(',').map((s) => s.split('x').map(Number));
const reps = Number(arg('reps', '300'));

const arena = new Arena({ initialBytes: 64 << 20 });
const k = instantiateWasm(await loadWasmModule(), arena.memory);

function fill(ptr, n, seed, scale, offset = 0) {
  const a = new Float32Array(arena.buffer, ptr, n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = offset + (s / 4294967296 - 0.5) * scale;
  }
}

/** Least time of one call over `reps` timings of two calls each, after a warm-up. */
function least(fn) {
  for (let i = 0; i < 30; i++) fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    fn();
    best = Math.min(best, (performance.now() - t0) / 2);
  }
  return best;
}

const rows = [];
for (const [m, n] of shapes) {
  const e = m * n;
  const g = arena.alloc(4 * e), p = arena.alloc(4 * e), mo = arena.alloc(4 * e), v = arena.alloc(4 * e), out = arena.alloc(4 * e);
  const a = arena.alloc(4 * m), q = arena.alloc(4 * m), b = arena.alloc(4 * n), w = arena.alloc(4 * n), acc = arena.alloc(8 * n);
  fill(g, e, 1, 2e-3);
  fill(p, e, 2, 0.1);
  fill(mo, e, 3, 1e-4);
  fill(v, e, 4, 1e-8, 1e-8);
  fill(a, m, 5, 0.5, 1);
  fill(q, m, 6, 0.5, 1);
  fill(b, n, 7, 0.5, 1);
  fill(w, n, 8, 0.5, 1);
  const kernels = [
    ['copy (read + write)', 'plain', () => k.copy(out, g, e)],
    ['scale (read + write in place)', 'plain', () => k.scale(out, e, 1)],
    ['maxAbs (read)', 'plain', () => k.maxAbs(g, e)],
    ['sumsq (read, f64 lanes)', 'plain', () => k.sumsq(g, e)],
    ['adam (AdamW update)', 'adamw', () => k.adam(p, g, mo, v, 0, e, 0.01, 0.9999, 0.1, 0.9, 0.999, 0.001, 1, 1e-8, -1e-9, 0)],
    ['sinkgdRound, reading max|g|', 'sinkgd', () => k.sinkgdRound(a, b, acc, g, m, n, n, n, m, 1, 1)],
    ['sinkgdRound', 'sinkgd', () => k.sinkgdRound(a, b, acc, g, m, n, n, n, m, 1, 0)],
    ['racsScaledApply (W update)', 'sinkgd, racs', () => k.racsScaledApply(out, g, a, b, m, n, 1e-9)],
    ['sinkhornRound (f64 sums)', 'operators', () => k.sinkhornRound(a, b, acc, g, m, n, n, n, m)],
    ['racsColSq', 'racs', () => k.racsColSq(acc, g, m, n)],
    ['racsFixedPass', 'racs', () => k.racsFixedPass(q, acc, g, w, m, n, 1)],
    ['racsFinalPass', 'racs', () => k.racsFinalPass(q, a, g, w, b, m, n, 1)],
  ];
  for (const [name, used, fn] of kernels) {
    const ms = least(fn);
    rows.push({ shape: `${m}×${n}`, kernel: name, usedBy: used, nsPerElement: (ms * 1e6) / e });
    console.log(`${m}×${n}  ${name.padEnd(30)} ${((ms * 1e6) / e).toFixed(3)} ns/element`);
  }
}

const machine = { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, date: new Date().toISOString(), reps };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/passes.json', import.meta.url), JSON.stringify({ machine, rows }, null, 2) + '\n');
writeFileSync(new URL('./results/passes.md', import.meta.url), [
  '# One pass of each step kernel, in cache (single-thread wasm)',
  '',
  `Command: \`node bench/passes.bench.mjs\`. Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}; least of ${reps} timings.`,
  'Each kernel runs over and over on the same matrix, so the matrix stays in cache: this is the compute cost of one',
  'pass. A whole step also waits on memory for its first read of G and for W (see `llama.md`).',
  '',
  '| shape | kernel | used by | ns per element |',
  '| --- | --- | --- | ---: |',
  ...rows.map((r) => `| ${r.shape} | ${r.kernel} | ${r.usedBy} | ${r.nsPerElement.toFixed(3)} |`),
  '',
].join('\n'));
console.log('wrote bench/results/passes.{json,md}');
