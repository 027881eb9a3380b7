// The cost of the optimizer part of a TF.js training step: `applyGradients` on fixed gradients for an
// MLP 64-256-256-10 (85,002 parameters), fisheropt/tfjs next to tf.train.adam measured in the same run,
// on the TF.js backends `wasm` and `cpu` (fisheropt itself on its wasm kernels).
// Usage: npm run build && node bench/tfjs-adapter.bench.mjs [--steps 200] [--repeats 3]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '../dist/tfjs/register-gradients.js';
import { tfjsOptimizer } from '../dist/tfjs/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const STEPS = arg('steps', 200);
const REPEATS = arg('repeats', 3);
const SHAPES = [[64, 256], [256], [256, 256], [256], [256, 10], [10]];

let seed = 1;
const rand = (n, scale) => Float32Array.from({ length: n }, () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296 - 0.5) * scale);

const optimizers = {
  'tf.train.adam': async () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8),
  'fisheropt adamw': () => tfjsOptimizer({ optimizer: 'adamw', options: { lr: 1e-3, weightDecay: 0 }, nonFinite: 'ignore' }),
  'fisheropt racs': () => tfjsOptimizer({ optimizer: 'racs', nonFinite: 'ignore' }),
};

let run = 0;
/** Median ms per applyGradients over REPEATS timings of STEPS steps each. */
async function measure(make) {
  const prefix = `bench${run++}`;
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(rand(s.reduce((a, b) => a * b), 0.2), s), true, `${prefix}/l${i >> 1}/${i % 2 ? 'bias' : 'kernel'}`));
  const grads = Object.fromEntries(vars.map((v) => [v.name, tf.tensor(rand(v.size, 0.01), v.shape)]));
  const opt = await make();
  for (let s = 0; s < 10; s++) opt.applyGradients(grads);
  const times = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    for (let s = 0; s < STEPS; s++) opt.applyGradients(grads);
    times.push((performance.now() - t0) / STEPS);
  }
  opt.dispose();
  tf.dispose([vars, grads]);
  return times.sort((a, b) => a - b)[times.length >> 1];
}

tf.enableProdMode();
console.log(`applyGradients, MLP 64-256-256-10 (85,002 params), median of ${REPEATS}×${STEPS} steps, ms per step`);
console.log('| TF.js backend | ' + Object.keys(optimizers).join(' | ') + ' | fisheropt adamw / tf.train.adam |');
console.log('| --- |' + ' ---: |'.repeat(Object.keys(optimizers).length + 1));
for (const backend of ['wasm', 'cpu']) {
  await tf.setBackend(backend);
  const ms = {};
  for (const [name, make] of Object.entries(optimizers)) ms[name] = await measure(make);
  console.log(`| ${backend} | ${Object.values(ms).map((x) => x.toFixed(3)).join(' | ')} | ${(ms['fisheropt adamw'] / ms['tf.train.adam']).toFixed(2)} |`);
}
