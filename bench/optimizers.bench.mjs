// Optimizer step time per backend, side by side with a plain-JS AdamW loop (the peer every JS user
// already has) and a memory-bandwidth reference (TypedArray copy) measured in the same run.
// Usage: npm run bench [-- --size 4194304]
import { Bench } from 'tinybench';
import { createOptimizer } from '../dist/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('size', 1 << 22);
const rows = 1024;
const shape = [rows, N / rows];

const fill = (a, seed) => {
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 0.02;
  }
  return a;
};

async function stepper(optimizer, backend, options = {}) {
  const opt = await createOptimizer({ optimizer, options, backend, nonFinite: 'ignore', params: { w: { shape, data: fill(new Float32Array(N), 1) } } });
  fill(opt.grad('w'), 2);
  opt.step();
  return () => opt.step();
}

// A straightforward JS AdamW over Float32Arrays (torch semantics), the baseline a JS user writes.
function jsAdamW() {
  const p = fill(new Float32Array(N), 1), g = fill(new Float32Array(N), 2), m = new Float32Array(N), v = new Float32Array(N);
  let t = 0;
  const lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  return () => {
    t++;
    const bc1 = 1 - b1 ** t, bc2s = Math.sqrt(1 - b2 ** t), ss = lr / bc1, dec = 1 - lr * wd;
    for (let i = 0; i < N; i++) {
      const gi = g[i];
      const mi = (m[i] = m[i] + (1 - b1) * (gi - m[i]));
      const vi = (v[i] = v[i] * b2 + (1 - b2) * gi * gi);
      p[i] = p[i] * dec - (ss * mi) / (Math.sqrt(vi) / bc2s + eps);
    }
  };
}

// Copying 3.5 floats per param reads 14 B and writes 14 B: the 28 B/param an AdamW step moves.
const src = fill(new Float32Array(N * 3.5), 3), dst = fill(new Float32Array(N * 3.5), 4);
const bench = new Bench({ time: 1500, warmupTime: 300 });
bench.add('copy 28 B/param (bandwidth reference)', () => dst.set(src));
bench.add('plain JS AdamW loop (peer)', jsAdamW());
for (const backend of ['wasm', 'ref']) {
  bench.add(`adamw ${backend}`, await stepper('adamw', backend));
  bench.add(`sgd momentum ${backend}`, await stepper('sgd', backend, { momentum: 0.9 }));
  bench.add(`adafactor ${backend}`, await stepper('adafactor', backend));
}
await bench.run();
const peer = bench.tasks.find((t) => t.name.startsWith('plain JS')).result.latency.p50;
const copy = bench.tasks[0].result.latency.p50;
console.log(`${N} params (${shape.join('×')}), node ${process.version}; medians of ${bench.tasks.map((t) => t.result.latency.samplesCount).join('/')} samples`);
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    'median ms': t.result.latency.p50.toFixed(2),
    'x faster than JS AdamW': (peer / t.result.latency.p50).toFixed(2),
    'time / copy': (t.result.latency.p50 / copy).toFixed(2),
    'GB/s at 28 B/param': ((28 * N) / (t.result.latency.p50 * 1e6)).toFixed(1),
  })),
);
