// Forward + backward time of the training job's model (src/train/model.ts, "small", 16×64 bytes) on the
// TF.js wasm backend, with the hand-written linear and embedding gradients against TF.js's own matMul
// gradients, in the same process: median of 10 steps after 2 warm-up steps, 3 repeats.
// Usage: npm run build && node bench/train-grads.bench.mjs
import { loadTf } from '../dist/train/tf.js';
import { Decoder, initParams, MODEL_SIZES } from '../dist/train/model.js';
import { loadCorpus, trainBatches } from '../dist/train/data.js';
const { tf } = await loadTf('wasm');
const model = MODEL_SIZES.small, B = 16, T = 64;
const init = initParams(model, 1);
const next = trainBatches(loadCorpus(), B, T, 2);
for (const rep of [1, 2, 3]) {
  const res = {};
  for (const stock of [false, true]) {
    const d = new Decoder(tf, model, stock);
    const P = d.names.map((n, i) => tf.tensor(init[n], d.shapes[i]));
    const times = [];
    for (let s = 0; s < 12; s++) {
      const b = next();
      const t0 = performance.now();
      tf.tidy(() => { const { value, grads } = tf.valueAndGrads((...ps) => d.loss(ps, b.tokens, b.targets, B, T))(P); grads.forEach((g) => g.dataSync()); value.dataSync(); });
      if (s >= 2) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    res[stock ? 'stock' : 'custom'] = times[times.length >> 1];
    tf.dispose(P); d.dispose();
  }
  console.log(`rep ${rep}: custom ${res.custom.toFixed(1)} ms, stock ${res.stock.toFixed(1)} ms, ratio ${(res.stock / res.custom).toFixed(2)}`);
}
