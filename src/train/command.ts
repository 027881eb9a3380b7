/**
 * `fisheropt train` (the language-model task): parses its options, trains one run per optimizer on the same
 * model, data and seed, and prints progress (a live bar on a terminal, periodic lines otherwise), the
 * held-out loss at every evaluation, a summary table and a generated sample; writes the held-out loss
 * curves (`loss.svg`) and every number (`results.json`) to the output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice } from '../backends/index.js';
import { FisheroptError } from '../errors.js';
import { optimizerNames } from '../optimizers/index.js';
import { DEFAULT_PROMPT, loadCorpus } from './data.js';
import { DEFAULT_ADAMW_LR, lmOptions, trainRun, type RunResult, type StepProgress } from './job.js';
import { checkModel, MODEL_SIZES, paramCount, type ModelConfig } from './model.js';
import { runsSvg, summarize, textTable } from './report.js';
import { loadTf, type TfBackend } from './tf.js';

export const TRAIN_FLAGS = [
  'optimizer', 'steps', 'batch', 'seq', 'model', 'seed', 'backend', 'tf-backend', 'lr', 'warmup', 'min-lr',
  'eval-every', 'eval-batches', 'out', 'sample', 'data', 'prompt',
] as const;

export const TRAIN_USAGE = `  fisheropt train [options]            train a small LLaMA-style byte-level model on Moby-Dick (built in)
      --optimizer A[,B…] optimizer(s) to train and compare, same model, data and seed (default adamw)
      --steps N          training steps per optimizer (default 400)
      --batch N          sequences per step (default 16)
      --seq N            bytes per sequence (default 64)
      --model NAME       ${Object.entries(MODEL_SIZES).map(([k, c]) => `${k} (${fmtParams(paramCount(c))})`).join(', ')}; default large
      --seed N           initialization and batch order (default 1)
      --backend NAME     fisheropt backend: auto | wasm | ref | pool | webgpu (default auto)
      --tf-backend NAME  TF.js backend: auto | wasm | cpu (default auto: wasm, else cpu)
      --lr X[,Y…]        peak learning rate, one for all or one per optimizer (default: per optimizer;
                         AdamW ${DEFAULT_ADAMW_LR}; AdamW's is also the lr of the AdamW that matrix optimizers
                         use on embedding, norms and head)
      --warmup F         warm-up fraction of the cosine schedule (default 0.1)
      --min-lr F         final learning rate as a fraction of the peak (default 0.1)
      --eval-every N     held-out loss every N steps (default steps/8)
      --eval-batches N   held-out batches per evaluation (default 8)
      --sample N         bytes of text to generate at the end (default 200; 0: none)
      --prompt TEXT      start of the sample (default "${DEFAULT_PROMPT}" on the built-in text)
      --data FILE        train on this UTF-8 text instead (the last 5% is held out)
      --out DIR          where loss.svg and results.json go (default fisheropt-train)
  fisheropt train --task spirals [--optimizer adamw] [--steps 300] [--backend auto] [--lr X]
                                       the small MLP on the built-in spirals problem`;

function fmtParams(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${Math.round(n / 1e3)}k`;
}

function int(flags: Record<string, string>, k: string, dflt: number, min = 1): number {
  if (flags[k] === undefined) return dflt;
  const v = Number(flags[k]);
  if (!Number.isInteger(v) || v < min) throw new FisheroptError('BAD_OPTION', `--${k} must be an integer ≥ ${min}, got ${JSON.stringify(flags[k])}`);
  return v;
}

function fraction(flags: Record<string, string>, k: string, dflt: number): number {
  if (flags[k] === undefined) return dflt;
  const v = Number(flags[k]);
  if (!(v >= 0 && v <= 1)) throw new FisheroptError('BAD_OPTION', `--${k} must be a number in [0, 1], got ${JSON.stringify(flags[k])}`);
  return v;
}

export interface TrainCommandOptions {
  optimizers: string[];
  lrs: (number | undefined)[];
  model: ModelConfig;
  modelName: string;
  steps: number;
  batch: number;
  seq: number;
  seed: number;
  backend: BackendChoice;
  tfBackend: TfBackend | 'auto';
  warmup: number;
  minLrRatio: number;
  evalEvery: number;
  evalBatches: number;
  sample: number;
  prompt?: string;
  data?: string;
  out: string;
}

/** Validates the flags of `fisheropt train` (language-model task); throws FisheroptError naming the flag. */
export function parseTrainFlags(f: Record<string, string>): TrainCommandOptions {
  const optimizers = (f.optimizer ?? 'adamw').split(',').map((s) => s.trim());
  for (const o of optimizers) {
    if (!optimizerNames().includes(o)) throw new FisheroptError('UNKNOWN_OPTIMIZER', `--optimizer: unknown optimizer ${JSON.stringify(o)}; available: ${optimizerNames().join(', ')}`);
  }
  if (new Set(optimizers).size !== optimizers.length) throw new FisheroptError('BAD_OPTION', `--optimizer lists an optimizer twice: ${f.optimizer}`);
  let lrs: (number | undefined)[] = optimizers.map(() => undefined);
  if (f.lr !== undefined) {
    const parts = f.lr.split(',').map(Number);
    if (parts.some((v) => !(v >= 0) || !Number.isFinite(v))) throw new FisheroptError('BAD_OPTION', `--lr must be non-negative numbers, got ${JSON.stringify(f.lr)}`);
    if (parts.length !== 1 && parts.length !== optimizers.length) {
      throw new FisheroptError('BAD_OPTION', `--lr gives ${parts.length} values for ${optimizers.length} optimizers; give one, or one per optimizer`);
    }
    lrs = optimizers.map((_, i) => parts[parts.length === 1 ? 0 : i]);
  }
  const modelName = f.model ?? 'large';
  const model = MODEL_SIZES[modelName];
  if (!model) throw new FisheroptError('BAD_OPTION', `--model: unknown size ${JSON.stringify(modelName)}; available: ${Object.keys(MODEL_SIZES).join(', ')}`);
  checkModel(model);
  const steps = int(f, 'steps', 400);
  const backend = (f.backend ?? 'auto') as BackendChoice;
  if (!['auto', 'wasm', 'ref', 'pool', 'webgpu'].includes(backend)) throw new FisheroptError('UNKNOWN_BACKEND', `--backend must be auto, wasm, ref, pool or webgpu, got ${JSON.stringify(f.backend)}`);
  const tfBackend = (f['tf-backend'] ?? 'auto') as TfBackend | 'auto';
  if (!['auto', 'wasm', 'cpu'].includes(tfBackend)) throw new FisheroptError('UNKNOWN_BACKEND', `--tf-backend must be auto, wasm or cpu, got ${JSON.stringify(f['tf-backend'])}`);
  const seed = f.seed === undefined ? 1 : Number(f.seed);
  if (!Number.isInteger(seed)) throw new FisheroptError('BAD_OPTION', `--seed must be an integer, got ${JSON.stringify(f.seed)}`);
  return {
    optimizers, lrs, model, modelName, steps,
    batch: int(f, 'batch', 16), seq: int(f, 'seq', 64), seed, backend, tfBackend,
    warmup: fraction(f, 'warmup', 0.1), minLrRatio: fraction(f, 'min-lr', 0.1),
    evalEvery: int(f, 'eval-every', Math.max(1, Math.round(steps / 8))),
    evalBatches: int(f, 'eval-batches', 8),
    sample: int(f, 'sample', 200, 0),
    prompt: f.prompt, data: f.data, out: f.out ?? 'fisheropt-train',
  };
}

const secs = (s: number) => (s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(s < 10 ? 1 : 0)} s`);

/** A progress display: a redrawn bar on a terminal, a line every tenth of the run otherwise. */
function progress(write: (s: string) => void, tty: boolean) {
  let lastDraw = 0, drawn = false;
  const line = (p: StepProgress) =>
    `step ${String(p.step).padStart(String(p.steps).length)}/${p.steps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSec).toLocaleString('en-US')} tok/s  ETA ${secs(p.etaSec)}`;
  return {
    step(p: StepProgress) {
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && p.step !== p.steps) return;
        lastDraw = now;
        const w = 24, k = Math.round((w * p.step) / p.steps);
        write(`\r\x1b[2K  [${'#'.repeat(k)}${'.'.repeat(w - k)}] ${line(p)}`);
        drawn = true;
      } else if (p.step % Math.max(1, Math.round(p.steps / 10)) === 0) {
        write(`  ${line(p)}\n`);
      }
    },
    /** Print a whole line (clearing the bar first). */
    print(s: string) {
      write((tty && drawn ? '\r\x1b[2K' : '') + s + '\n');
      drawn = false;
    },
    end() {
      if (tty && drawn) write('\r\x1b[2K');
      drawn = false;
    },
  };
}

export async function trainCommand(o: TrainCommandOptions, io: { write: (s: string) => void; warn: (s: string) => void; tty: boolean }): Promise<RunResult[]> {
  const corpus = loadCorpus(o.data);
  const prompt = o.prompt ?? (o.data === undefined ? DEFAULT_PROMPT : '');
  const { tf, backend: tfBackend } = await loadTf(o.tfBackend, io.warn);
  const m = o.model;
  io.write(
    `fisheropt train: LLaMA-style byte decoder "${o.modelName}" (d=${m.dim}, layers=${m.layers}, heads=${m.heads}, ffn=${m.ffn}; ` +
      `${paramCount(m).toLocaleString('en-US')} params) on ${corpus.name}: ${corpus.train.length.toLocaleString('en-US')} training / ${corpus.heldOut.length.toLocaleString('en-US')} held-out bytes\n` +
      `  ${o.steps} steps × ${o.batch} sequences × ${o.seq} bytes, cosine schedule (${Math.round(o.warmup * 100)}% warm-up, to ${o.minLrRatio}×), seed ${o.seed}, TF.js ${tfBackend}\n`,
  );
  const bar = progress(io.write, io.tty);
  const results: RunResult[] = [];
  for (let i = 0; i < o.optimizers.length; i++) {
    const optimizer = o.optimizers[i];
    const lr = o.lrs[i];
    // The AdamW learning rate of the run: its own --lr for AdamW and Adam; for the others (their AdamW on
    // embedding, norms and head, and the rotated-Adam optimizers' lr), AdamW's --lr when AdamW is compared too.
    const adamwLr = optimizer === 'adamw' || optimizer === 'adam' ? lr : o.lrs[o.optimizers.indexOf('adamw')];
    const base = lmOptions(optimizer, m, o.steps, adamwLr);
    const options = { ...base.options, ...(lr === undefined ? {} : { lr }) };
    bar.print(`${optimizer} ${JSON.stringify(options)}${Object.keys(base.fallback).length ? `; embedding, norms, head: adamw ${JSON.stringify(base.fallback)}` : ''}`);
    const r = await trainRun(tf, {
      optimizer, model: m, corpus, steps: o.steps, batch: o.batch, seq: o.seq, seed: o.seed, backend: o.backend,
      options, adamwLr, warmup: o.warmup, minLrRatio: o.minLrRatio, evalEvery: o.evalEvery, evalBatches: o.evalBatches,
      sample: o.sample, prompt,
      onStep: (p) => bar.step(p),
      onEval: (e) => bar.print(`  step ${String(e.step).padStart(String(o.steps).length)}/${o.steps}  held-out ${e.loss.toFixed(4)} nats/byte (${(e.loss / Math.LN2).toFixed(2)} bits/byte)`),
    });
    bar.end();
    const state = r.stateBytes.toLocaleString('en-US');
    io.write(
      `  done: ${r.optimizer} on fisheropt ${r.backend}${r.divergedAt ? `, stopped at step ${r.divergedAt} (non-finite gradient)` : ''}, ` +
        `${r.msPerStep.toFixed(1)} ms/step (optimizer ${r.optMsPerStep.toFixed(2)} ms), ${secs(r.seconds)}, optimizer state ${state} bytes\n`,
    );
    results.push(r);
  }

  const baseline = o.optimizers.includes('adamw') && o.optimizers.length > 1 ? 'adamw' : o.optimizers[0];
  const { rows } = summarize(results, baseline);
  io.write(`\nsummary (held-out loss after ${o.steps} steps${results.length > 1 ? `; steps and state against ${baseline}` : ''}):\n`);
  io.write(textTable(rows, baseline, results.length > 1).replace(/^/gm, '  ').replace(/ +$/, ''));
  for (const r of results) {
    if (r.sample !== undefined) io.write(`\nsample (${r.optimizer}, temperature 0.8):\n${r.sample}\n`);
  }
  mkdirSync(o.out, { recursive: true });
  const title = `${corpus.name}, model ${o.modelName} (${paramCount(m).toLocaleString('en-US')} params), seed ${o.seed}`;
  writeFileSync(join(o.out, 'loss.svg'), runsSvg(results, title));
  writeFileSync(join(o.out, 'results.json'), JSON.stringify({ command: 'fisheropt train', corpus: corpus.name, model: { name: o.modelName, ...m, params: paramCount(m) }, tfBackend, steps: o.steps, batch: o.batch, seq: o.seq, seed: o.seed, summary: rows, runs: results }, null, 1) + '\n');
  io.write(`\nwrote ${join(o.out, 'loss.svg')} (held-out loss curves) and ${join(o.out, 'results.json')}\n`);
  return results;
}
