/**
 * The built-in training problem: a 2-64-64-3 ReLU MLP classifying three interleaved spirals (600
 * points, generated from a fixed seed), full-batch cross-entropy, forward and backward written out by
 * hand. Gradients are written straight into the optimizer's arena (zero copy).
 */
import { createOptimizer, type OptimizerConfig } from '../optimizer.js';
import type { Options, Schedule } from '../options.js';
import { mulberry32 } from '../util/rng.js';

export interface SpiralsConfig {
  optimizer: string;
  options?: Options;
  backend?: OptimizerConfig['backend'];
  steps?: number;
  seed?: number;
  /** Called every `every` steps and at the end. */
  onProgress?: (p: SpiralsProgress) => void;
  every?: number;
}

export interface SpiralsProgress {
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  lrFactor: number;
  msPerStep: number;
}

export interface SpiralsResult extends SpiralsProgress {
  initialLoss: number;
  backend: string;
  optimizer: string;
  params: number;
  stateBytes: number;
  seconds: number;
}

/** Hyperparameters that train this problem well in a few hundred steps. */
export const SPIRALS_DEFAULTS: Record<string, Options> = {
  sgd: { lr: 0.1, momentum: 0.9 },
  adam: { lr: 1e-2 },
  adamw: { lr: 1e-2, weightDecay: 1e-4 },
  adafactor: { lr: 0.1 },
};

const CLASSES = 3;
const PER_CLASS = 200;
const HIDDEN = 64;

/** The data set: x (N×2) and labels (N). */
export function spirals(seed = 1): { x: Float32Array; y: Uint8Array } {
  const rand = mulberry32(seed);
  const n = CLASSES * PER_CLASS;
  const x = new Float32Array(2 * n);
  const y = new Uint8Array(n);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < PER_CLASS; i++) {
      const r = i / PER_CLASS;
      const t = (c * 4 + 4 * r) + (rand() - 0.5) * 0.4;
      const k = c * PER_CLASS + i;
      x[2 * k] = r * Math.sin(t);
      x[2 * k + 1] = r * Math.cos(t);
      y[k] = c;
    }
  }
  return { x, y };
}

/** out[N×o] = a[N×i]·wᵀ (w is o×i) + b. */
function linear(out: Float32Array, a: Float32Array, w: Float32Array, b: Float32Array, n: number, i: number, o: number): void {
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < o; c++) {
      let s = b[c];
      for (let k = 0; k < i; k++) s += a[r * i + k] * w[c * i + k];
      out[r * o + c] = s;
    }
  }
}

/** dw[o×i] = dyᵀ·a, db[o] = Σ_rows dy, da[N×i] = dy·w (when da is given). */
function linearBackward(
  dy: Float32Array, a: Float32Array, w: Float32Array, dw: Float32Array, db: Float32Array, da: Float32Array | null,
  n: number, i: number, o: number,
): void {
  dw.fill(0);
  db.fill(0);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < o; c++) {
      const d = dy[r * o + c];
      if (d === 0) continue;
      db[c] += d;
      for (let k = 0; k < i; k++) dw[c * i + k] += d * a[r * i + k];
    }
  }
  if (!da) return;
  da.fill(0);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < o; c++) {
      const d = dy[r * o + c];
      if (d === 0) continue;
      for (let k = 0; k < i; k++) da[r * i + k] += d * w[c * i + k];
    }
  }
}

export async function trainSpirals(cfg: SpiralsConfig): Promise<SpiralsResult> {
  const steps = cfg.steps ?? 300;
  const every = cfg.every ?? 50;
  const { x, y } = spirals(cfg.seed ?? 1);
  const n = y.length;
  const rand = mulberry32((cfg.seed ?? 1) + 1000);
  const init = (fanIn: number, size: number) => Float32Array.from({ length: size }, () => (rand() * 2 - 1) * Math.sqrt(6 / fanIn));
  const shapes: Record<string, number[]> = {
    'layer1.weight': [HIDDEN, 2], 'layer1.bias': [HIDDEN],
    'layer2.weight': [HIDDEN, HIDDEN], 'layer2.bias': [HIDDEN],
    'head.weight': [CLASSES, HIDDEN], 'head.bias': [CLASSES],
  };
  const params = Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => [
      name,
      { shape, data: shape.length === 2 ? init(shape[1], shape[0] * shape[1]) : new Float32Array(shape[0]) },
    ]),
  );
  const schedule: Schedule = { type: 'cosine', warmupSteps: Math.max(1, Math.round(steps * 0.05)), totalSteps: steps, minLrRatio: 0.1 };
  const opt = await createOptimizer({
    optimizer: cfg.optimizer,
    options: cfg.options ?? SPIRALS_DEFAULTS[cfg.optimizer],
    params,
    backend: cfg.backend,
    schedule,
  });

  const h1 = new Float32Array(n * HIDDEN), h2 = new Float32Array(n * HIDDEN), logits = new Float32Array(n * CLASSES);
  const dh1 = new Float32Array(n * HIDDEN), dh2 = new Float32Array(n * HIDDEN), dlogits = new Float32Array(n * CLASSES);

  /** Forward pass; with `backward`, writes every gradient into the arena. Returns loss and accuracy. */
  const pass = (backward: boolean): { loss: number; accuracy: number } => {
    const P = (k: string) => opt.param(k);
    linear(h1, x, P('layer1.weight'), P('layer1.bias'), n, 2, HIDDEN);
    for (let i = 0; i < h1.length; i++) h1[i] = Math.max(0, h1[i]);
    linear(h2, h1, P('layer2.weight'), P('layer2.bias'), n, HIDDEN, HIDDEN);
    for (let i = 0; i < h2.length; i++) h2[i] = Math.max(0, h2[i]);
    linear(logits, h2, P('head.weight'), P('head.bias'), n, HIDDEN, CLASSES);
    let loss = 0;
    let correct = 0;
    for (let r = 0; r < n; r++) {
      let max = -Infinity, arg = 0;
      for (let c = 0; c < CLASSES; c++) if (logits[r * CLASSES + c] > max) { max = logits[r * CLASSES + c]; arg = c; }
      let z = 0;
      for (let c = 0; c < CLASSES; c++) z += Math.exp(logits[r * CLASSES + c] - max);
      loss += Math.log(z) + max - logits[r * CLASSES + y[r]];
      if (arg === y[r]) correct++;
      for (let c = 0; c < CLASSES; c++) {
        dlogits[r * CLASSES + c] = (Math.exp(logits[r * CLASSES + c] - max) / z - (c === y[r] ? 1 : 0)) / n;
      }
    }
    if (backward) {
      const G = (k: string) => opt.grad(k);
      linearBackward(dlogits, h2, P('head.weight'), G('head.weight'), G('head.bias'), dh2, n, HIDDEN, CLASSES);
      for (let i = 0; i < dh2.length; i++) if (h2[i] <= 0) dh2[i] = 0;
      linearBackward(dh2, h1, P('layer2.weight'), G('layer2.weight'), G('layer2.bias'), dh1, n, HIDDEN, HIDDEN);
      for (let i = 0; i < dh1.length; i++) if (h1[i] <= 0) dh1[i] = 0;
      linearBackward(dh1, x, P('layer1.weight'), G('layer1.weight'), G('layer1.bias'), null, n, 2, HIDDEN);
    }
    return { loss: loss / n, accuracy: correct / n };
  };

  const initialLoss = pass(false).loss;
  const t0 = performance.now();
  let last: SpiralsProgress = { step: 0, steps, loss: initialLoss, accuracy: 0, lrFactor: 0, msPerStep: 0 };
  let windowStart = t0;
  for (let s = 1; s <= steps; s++) {
    const { loss, accuracy } = pass(true);
    const info = await opt.step();
    await opt.download(); // webgpu: the next forward pass reads the parameters on the host
    if (s % every === 0 || s === steps) {
      const now = performance.now();
      const span = s % every === 0 ? every : s % every;
      last = { step: s, steps, loss, accuracy, lrFactor: info.lrFactor, msPerStep: (now - windowStart) / span };
      windowStart = now;
      cfg.onProgress?.(last);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const final = pass(false);
  await opt.close();
  return {
    ...last, loss: final.loss, accuracy: final.accuracy, initialLoss, seconds,
    backend: opt.backend, optimizer: cfg.optimizer,
    params: opt.paramNames.reduce((a, k) => a + opt.param(k).length, 0),
    stateBytes: opt.stateBytes(),
  };
}
