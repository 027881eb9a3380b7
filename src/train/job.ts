/**
 * The training job: trains the byte-level decoder (`model.ts`) on a corpus (`data.ts`) with one fisheropt
 * optimizer per run. TF.js computes the loss and gradients; each step copies the gradients into the
 * optimizer's arena, runs `opt.step()`, and rebuilds the parameter tensors from the arena.
 *
 * Hyperparameters (`lmOptions`): each optimizer's paper defaults (the library's defaults), with the
 * settings tied to model and run size scaled to this job:
 * - rank r of GaLore/Alice/Alice-0: d/4 (the papers' 128 at d = 512), Alice's leading l = r·40/128;
 * - update intervals the papers set to 200 in the 10,000-step LLaMA-60M run (GaLore, Alice, AdaDiag,
 *   AdaDiag-Adafactor): 2% of the run's steps, at least 10; SOAP and Eigen-Adam keep 10;
 * - Adam-type learning rates (AdamW, Adam, and the rotated-Adam optimizers Eigen-Adam, SOAP, AdaDiag,
 *   AdaDiag++) use the AdamW learning rate (3e-3 by default);
 * - matrix optimizers send `embed`, the norm gains and `lm_head` to AdamW at that same learning rate, so
 *   every run trains those parameters alike and runs differ only in their matrix optimizer;
 * - no weight decay, no gradient clipping; a cosine schedule with 10% linear warm-up to 10% of the peak.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { BackendChoice } from '../backends/index.js';
import { FisheroptError } from '../errors.js';
import { createOptimizer } from '../optimizer.js';
import { getOptimizer } from '../optimizers/index.js';
import type { Options } from '../options.js';
import { mulberry32 } from '../util/rng.js';
import { checkCorpus, heldOutBatches, trainBatches, type Corpus } from './data.js';
import { Decoder, initParams, paramCount, paramShapes, VOCAB, type ModelConfig } from './model.js';
import type { Tf } from './tf.js';

export const DEFAULT_ADAMW_LR = 3e-3;

/** The scaled update interval: 2% of the run (200 of 10,000 steps), at least 10. */
export function scaledInterval(steps: number): number {
  return Math.max(10, Math.round(steps * 0.02));
}

/** Options for `optimizer` on this job (see the file header), and the fallback AdamW's. */
export function lmOptions(optimizer: string, model: ModelConfig, steps: number, adamwLr = DEFAULT_ADAMW_LR): { options: Options; fallback: Options } {
  const def = getOptimizer(optimizer);
  const rank = Math.max(2, Math.round(model.dim / 4));
  const K = scaledInterval(steps);
  const byName: Record<string, Options> = {
    adamw: { lr: adamwLr, weightDecay: 0 },
    adam: { lr: adamwLr },
    sgd: { lr: 0.1, momentum: 0.9 },
    galore: { rank, updateInterval: K },
    alice: { rank, leading: Math.max(1, Math.round((rank * 40) / 128)), updateInterval: K },
    alice0: { rank, leading: Math.max(1, Math.round((rank * 40) / 128)), updateInterval: K },
    eigenadam: { lr: adamwLr },
    soap: { lr: adamwLr },
    adadiag: { lr: adamwLr, updateInterval: K },
    adadiagpp: { lr: adamwLr, updateInterval: K },
    adadiagAdafactor: { updateInterval: K },
  };
  return { options: { ...(byName[optimizer] ?? {}) }, fallback: def.matrixOnly ? { lr: adamwLr, weightDecay: 0 } : {} };
}

export interface StepProgress {
  optimizer: string;
  step: number;
  steps: number;
  loss: number;
  lrFactor: number;
  /** Training throughput so far (evaluation excluded). */
  tokensPerSec: number;
  /** Seconds left in this run, from the mean step and evaluation times so far. */
  etaSec: number;
}

export interface EvalPoint {
  step: number;
  loss: number;
}

export interface RunConfig {
  optimizer: string;
  /** Merged over `lmOptions(...).options`. */
  options?: Options;
  /** Options of the AdamW fallback (embedding, norms, head) for matrix optimizers; merged over `lmOptions`'s. */
  fallbackOptions?: Options;
  /** The AdamW learning rate `lmOptions` starts from. */
  adamwLr?: number;
  model: ModelConfig;
  corpus: Corpus;
  steps: number;
  batch: number;
  seq: number;
  seed: number;
  /** fisheropt backend for the optimizer (default auto). */
  backend?: BackendChoice;
  /** Warm-up fraction of the run (0.1) and final lr ratio (0.1) of the cosine schedule. */
  warmup?: number;
  minLrRatio?: number;
  /** Evaluate the held-out loss every this many steps (and at steps 0 and `steps`). */
  evalEvery: number;
  /** Number of fixed held-out batches (of `batch` windows each). */
  evalBatches?: number;
  /** Bytes of text to generate at the end (0: none), from `prompt`, at `temperature`. */
  sample?: number;
  prompt?: string;
  temperature?: number;
  onStep?: (p: StepProgress) => void;
  onEval?: (e: EvalPoint & { optimizer: string }) => void;
}

export interface RunResult {
  optimizer: string;
  options: Options;
  fallbackOptions: Options;
  backend: string;
  params: number;
  /** Optimizer state, all parameters; and on the 2-D attention/MLP weights (the matrices) alone. */
  stateBytes: number;
  matrixStateBytes: number;
  matrixParams: number;
  /** Training loss at every step (index 0 is step 1). */
  trainLoss: number[];
  evals: EvalPoint[];
  finalLoss: number;
  /** Set when a step met a non-finite gradient: the run stopped there. */
  divergedAt?: number;
  /** Mean wall time of a whole training step (gradients + optimizer), and of `opt.step()` alone. */
  msPerStep: number;
  optMsPerStep: number;
  seconds: number;
  sample?: string;
}

const MATRIX = /\.(attn\.w[qkvo]|mlp\.w_(gate|up|down))$/;

/** One training run. */
export async function trainRun(tf: Tf, cfg: RunConfig): Promise<RunResult> {
  const { model, corpus, steps, batch: B, seq: T, seed } = cfg;
  for (const [k, v] of [['steps', steps], ['batch', B], ['seq', T], ['evalEvery', cfg.evalEvery]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new FisheroptError('BAD_OPTION', `${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(seed)) throw new FisheroptError('BAD_OPTION', `seed must be an integer, got ${seed}`);
  checkCorpus(corpus, T);
  const dec = new Decoder(tf, model);
  const base = lmOptions(cfg.optimizer, model, steps, cfg.adamwLr);
  const options = { ...base.options, ...cfg.options };
  const fallbackOptions = { ...base.fallback, ...cfg.fallbackOptions };
  const shapes = paramShapes(model);
  const init = initParams(model, seed);
  const matrixOnly = getOptimizer(cfg.optimizer).matrixOnly;
  const opt = await createOptimizer({
    optimizer: cfg.optimizer,
    options,
    params: Object.fromEntries(dec.names.map((n) => [n, { shape: shapes[n], data: init[n] }])),
    fallback: matrixOnly ? { options: fallbackOptions } : undefined,
    backend: cfg.backend,
    schedule: { type: 'cosine', warmupSteps: Math.max(1, Math.round(steps * (cfg.warmup ?? 0.1))), totalSteps: steps, minLrRatio: cfg.minLrRatio ?? 0.1 },
  });
  const matrices = dec.names.filter((n) => MATRIX.test(n));
  for (const n of dec.names) {
    const want = matrixOnly && MATRIX.test(n) ? cfg.optimizer : matrixOnly ? 'adamw' : cfg.optimizer;
    if (opt.groupOf(n).optimizer !== want) throw new Error(`${n} routed to ${opt.groupOf(n).optimizer}, expected ${want}`);
  }

  let P: Tensor[] = [];
  const upload = () => {
    tf.dispose(P);
    P = dec.names.map((n, i) => tf.tensor(opt.param(n).slice(), dec.shapes[i]));
  };
  const evalSet = heldOutBatches(corpus, cfg.evalBatches ?? 8, B, T);
  const evaluate = (): number => {
    let s = 0;
    for (const b of evalSet) {
      const l = tf.tidy(() => dec.loss(P, b.tokens, b.targets, B, T));
      s += l.dataSync()[0];
      l.dispose();
    }
    return s / evalSet.length;
  };
  const grad = tf.valueAndGrads((...ps: Tensor[]) => dec.loss(ps, batchNow.tokens, batchNow.targets, B, T));
  const next = trainBatches(corpus, B, T, seed + 1);
  let batchNow = next();

  const evals: EvalPoint[] = [];
  const trainLoss: number[] = [];
  let trainMs = 0, optMs = 0, evalMs = 0, divergedAt: number | undefined;
  const t0 = performance.now();
  const record = (step: number) => {
    const te = performance.now();
    const e = { step, loss: evaluate() };
    evalMs += performance.now() - te;
    evals.push(e);
    cfg.onEval?.({ ...e, optimizer: cfg.optimizer });
  };
  try {
    upload();
    record(0);
    for (let s = 1; s <= steps; s++) {
      const ts = performance.now();
      if (s > 1) batchNow = next();
      const value = tf.tidy(() => {
        const { value, grads } = grad(P);
        grads.forEach((g, i) => opt.grad(dec.names[i]).set(g.dataSync() as Float32Array));
        return value;
      });
      const loss = value.dataSync()[0];
      value.dispose();
      const to = performance.now();
      let lrFactor: number;
      try {
        lrFactor = (await opt.step()).lrFactor;
        await opt.download();
      } catch (e) {
        if (e instanceof FisheroptError && e.code === 'NON_FINITE_GRAD') {
          divergedAt = s;
          break;
        }
        throw e;
      }
      optMs += performance.now() - to;
      upload();
      trainMs += performance.now() - ts;
      trainLoss.push(loss);
      const evalsLeft = Math.floor(steps / cfg.evalEvery) - Math.floor(s / cfg.evalEvery) + (steps % cfg.evalEvery ? 1 : 0);
      cfg.onStep?.({
        optimizer: cfg.optimizer, step: s, steps, loss, lrFactor,
        tokensPerSec: (s * B * T) / (trainMs / 1000),
        etaSec: ((steps - s) * (trainMs / s) + evalsLeft * (evalMs / evals.length)) / 1000,
      });
      if (s % cfg.evalEvery === 0 || s === steps) record(s);
    }
    const done = trainLoss.length;
    const sample = cfg.sample ? generate(tf, dec, P, cfg.prompt ?? '\n', cfg.sample, T, cfg.temperature ?? 0.8, seed + 2) : undefined;
    return {
      optimizer: cfg.optimizer, options, fallbackOptions: matrixOnly ? fallbackOptions : {}, backend: opt.backend,
      params: paramCount(model),
      stateBytes: opt.stateBytes(),
      matrixStateBytes: matrices.reduce((a, n) => a + opt.stateBytes(n), 0),
      matrixParams: matrices.reduce((a, n) => a + opt.param(n).length, 0),
      trainLoss, evals, finalLoss: evals[evals.length - 1].loss, divergedAt,
      msPerStep: done ? trainMs / done : 0, optMsPerStep: done ? optMs / done : 0,
      seconds: (performance.now() - t0) / 1000,
      sample,
    };
  } finally {
    tf.dispose(P);
    dec.dispose();
    await opt.close();
  }
}

/** Continues `prompt` by `n` bytes, sampling each from softmax(logits/temperature) with a seeded generator. */
export function generate(tf: Tf, dec: Decoder, P: readonly Tensor[], prompt: string, n: number, T: number, temperature: number, seed: number): string {
  const rand = mulberry32(seed);
  const bytes = Array.from(new TextEncoder().encode(prompt.length ? prompt : '\n'));
  const start = bytes.length;
  for (let i = 0; i < n; i++) {
    const ctx = Int32Array.from(bytes.slice(-T));
    const L = ctx.length;
    const last = tf.tidy(() => tf.slice(dec.logits(P, ctx, 1, L), [L - 1, 0], [1, VOCAB]));
    const z = last.dataSync() as Float32Array;
    last.dispose();
    let max = -Infinity;
    for (const v of z) max = Math.max(max, v / temperature);
    const p = Array.from(z, (v) => Math.exp(v / temperature - max));
    let u = rand() * p.reduce((a, b) => a + b, 0), k = 0;
    while (k < VOCAB - 1 && (u -= p[k]) > 0) k++;
    bytes.push(k);
  }
  return prompt + new TextDecoder().decode(Uint8Array.from(bytes.slice(start)));
}

/**
 * The first step at which `evals` reaches `target` (held-out loss ≤ target), interpolated linearly between
 * the two evaluations around the crossing; null when never reached.
 */
export function stepsToReach(evals: readonly EvalPoint[], target: number): number | null {
  for (let i = 0; i < evals.length; i++) {
    if (evals[i].loss <= target) {
      if (i === 0) return evals[0].step;
      const a = evals[i - 1], b = evals[i];
      return a.step + ((a.loss - target) / (a.loss - b.loss)) * (b.step - a.step);
    }
  }
  return null;
}
