import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer } from '../dist/index.js';
import { heldOutBatches, loadCorpus, splitCorpus } from '../dist/train/data.js';
import { stepsToReach, trainRun, type RunConfig } from '../dist/train/job.js';
import { Decoder, initParams, MODEL_SIZES, paramCount, paramShapes } from '../dist/train/model.js';
import { lossCurveSvg, summarize } from '../dist/train/report.js';
import { loadTf, type Tf } from '../dist/train/tf.js';

const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const BENCH = new URL('../bench/converge.bench.mjs', import.meta.url).pathname;
const tiny = MODEL_SIZES.tiny;

/** A strict-enough XML check: every tag closed in order, attributes quoted, text free of < and bare &. */
function expectWellFormedSvg(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const text = (s: string) => {
    expect(s).not.toMatch(/[<>]/);
    expect(s.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, '')).not.toMatch(/&/);
  };
  while ((m = tag.exec(svg))) {
    text(svg.slice(last, m.index));
    last = tag.lastIndex;
    if (m[1]) expect(stack.pop(), `closing </${m[2]}>`).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]);
  }
  text(svg.slice(last));
  expect(stack).toEqual([]);
  expect(svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
}

describe('the training job (TF.js, wasm backend)', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = (await loadTf('wasm')).tf;
  });

  it('its hand-written linear and embedding gradients equal TF.js stock gradients', () => {
    const init = initParams(tiny, 3);
    const mine = new Decoder(tf, tiny), stock = new Decoder(tf, tiny, true);
    const P = mine.names.map((n, i) => tf.tensor(init[n], mine.shapes[i]));
    const B = 2, T = 8;
    const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % 256);
    const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 53 + 7) % 256);
    const grads = (d: Decoder) => tf.valueAndGrads((...ps: Tensor[]) => d.loss(ps, tokens, targets, B, T))(P);
    const a = grads(mine), b = grads(stock);
    expect(a.value.dataSync()[0]).toBeCloseTo(b.value.dataSync()[0], 6);
    mine.names.forEach((n, i) => {
      const ga = a.grads[i].dataSync(), gb = b.grads[i].dataSync();
      const scale = Math.max(...Array.from(gb, Math.abs));
      expect(scale, n).toBeGreaterThan(0);
      for (let k = 0; k < ga.length; k++) expect(Math.abs(ga[k] - gb[k]), `${n}[${k}]`).toBeLessThanOrEqual(1e-5 * scale + 1e-9);
    });
    tf.dispose([...P, a.value, ...a.grads, b.value, ...b.grads]);
    mine.dispose();
    stock.dispose();
  });

  it('routes the attention and MLP matrices to a matrix optimizer and the rest to AdamW', async () => {
    const shapes = paramShapes(tiny);
    expect(paramCount(tiny)).toBe(256 * 32 + 1 * (4 * 32 * 32 + 3 * 32 * 88 + 2 * 32) + 32 + 256 * 32);
    const opt = await createOptimizer({ optimizer: 'sinkgd', params: Object.fromEntries(Object.entries(shapes).map(([n, shape]) => [n, { shape }])) });
    const routed = Object.fromEntries(Object.keys(shapes).map((n) => [n, opt.groupOf(n).optimizer]));
    expect(routed).toEqual({
      embed: 'adamw', 'layers.0.attn_norm': 'adamw', 'layers.0.mlp_norm': 'adamw', final_norm: 'adamw', lm_head: 'adamw',
      'layers.0.attn.wq': 'sinkgd', 'layers.0.attn.wk': 'sinkgd', 'layers.0.attn.wv': 'sinkgd', 'layers.0.attn.wo': 'sinkgd',
      'layers.0.mlp.w_gate': 'sinkgd', 'layers.0.mlp.w_up': 'sinkgd', 'layers.0.mlp.w_down': 'sinkgd',
    });
  });

  it('a short run lowers the held-out loss and is deterministic for a fixed seed', async () => {
    const corpus = loadCorpus();
    const cfg: RunConfig = { optimizer: 'adamw', adamwLr: 1e-2, model: tiny, corpus, steps: 20, batch: 8, seq: 32, seed: 5, evalEvery: 10, evalBatches: 2, sample: 12, prompt: 'Call me' };
    const a = await trainRun(tf, cfg);
    const b = await trainRun(tf, cfg);
    const c = await trainRun(tf, { ...cfg, seed: 6 });
    expect(a.evals.map((e) => e.step)).toEqual([0, 10, 20]);
    expect(a.evals[0].loss).toBeGreaterThan(5.3); // about ln 256 at initialization
    expect(a.finalLoss).toBeLessThan(a.evals[0].loss - 1.5);
    expect(b.trainLoss).toEqual(a.trainLoss);
    expect(b.evals).toEqual(a.evals);
    expect(b.sample).toBe(a.sample);
    expect(a.sample!.startsWith('Call me')).toBe(true);
    expect(c.trainLoss).not.toEqual(a.trainLoss);
    expect(a.stateBytes).toBe(8 * paramCount(tiny));
    expect(tf.memory().numTensors).toBe(0);

    const s = await trainRun(tf, { ...cfg, optimizer: 'sinkgd', sample: 0 });
    expect(s.finalLoss).toBeLessThan(s.evals[0].loss - 1.0);
    expect(s.matrixStateBytes).toBe(0);
    expect(s.stateBytes).toBe(8 * (paramCount(tiny) - s.matrixParams));
    expect(s.options).toEqual({});
    expect(s.fallbackOptions).toEqual({ lr: 1e-2, weightDecay: 0 });
  });

  it('splits text into training and held-out bytes and rejects unusable input', () => {
    const c = splitCorpus(new TextEncoder().encode('x'.repeat(1000)), 'x');
    expect([c.train.length, c.heldOut.length]).toEqual([950, 50]);
    const batches = heldOutBatches(c, 2, 3, 8);
    expect(batches.map((b) => b.tokens.length)).toEqual([24, 24]);
    expect(loadCorpus().heldOut.length).toBeGreaterThan(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'fisheropt-train-'));
    writeFileSync(join(dir, 'bad.txt'), Uint8Array.from([0x61, 0xff, 0xfe, 0x62]));
    expect(() => loadCorpus(join(dir, 'bad.txt'))).toThrow(/not valid UTF-8/);
    expect(() => loadCorpus(join(dir, 'missing.txt'))).toThrow(/cannot read the training text/);
  });
});

describe('reports', () => {
  it('finds the step where a curve first reaches a target, interpolating between evaluations', () => {
    const evals = [{ step: 0, loss: 5 }, { step: 10, loss: 3 }, { step: 20, loss: 2 }, { step: 30, loss: 2.2 }];
    expect(stepsToReach(evals, 2.5)).toBe(15);
    expect(stepsToReach(evals, 2)).toBe(20);
    expect(stepsToReach(evals, 6)).toBe(0);
    expect(stepsToReach(evals, 1.9)).toBeNull();
  });

  it('draws a well-formed SVG with one line per series', () => {
    const svg = lossCurveSvg(
      [{ name: 'adamw <lr 3e-3 & more>', points: [[0, 5.5], [50, 3], [100, 2.5]] }, { name: 'sinkgd', points: [[0, 5.5], [50, 2.8], [100, NaN]] }],
      'held-out "loss"',
    );
    expectWellFormedSvg(svg);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('adamw &lt;lr 3e-3 &amp; more&gt;');
  });
});

describe('fisheropt train (command line)', () => {
  it('trains and compares two optimizers on a given file, prints a summary and a sample, writes SVG and JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fisheropt-train-'));
    const text = 'It was the best of times, it was the worst of times; it was the age of wisdom. '.repeat(60);
    writeFileSync(join(dir, 'text.txt'), text);
    const out = execFileSync(
      process.execPath,
      [CLI, 'train', '--model', 'tiny', '--optimizer', 'adamw,sinkgd', '--steps', '12', '--batch', '4', '--seq', '16', '--eval-every', '6',
        '--eval-batches', '1', '--sample', '16', '--prompt', 'It was', '--data', join(dir, 'text.txt'), '--out', join(dir, 'out'), '--lr', '0.01,0.02'],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/step 12\/12 {2}held-out \d\.\d{4} nats\/byte/);
    expect(out).toContain('adamw {"lr":0.01,"weightDecay":0}\n');
    expect(out).toContain('sinkgd {"lr":0.02}; embedding, norms, head: adamw {"lr":0.01,"weightDecay":0}\n');
    expect(out).toMatch(/^ {2}adamw +\d\.\d{4} .*1\.00×/m);
    expect(out).toMatch(/^ {2}sinkgd +\d\.\d{4} /m);
    expect(out).toMatch(/sample \(sinkgd, temperature 0\.8\):\nIt was/);
    const svg = readFileSync(join(dir, 'out', 'loss.svg'), 'utf8');
    expectWellFormedSvg(svg);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8'));
    expect(json.runs.map((r: { optimizer: string }) => r.optimizer)).toEqual(['adamw', 'sinkgd']);
    expect(json.runs[0].evals.map((e: { step: number }) => e.step)).toEqual([0, 6, 12]);
  });

  it.each([
    [['--model', 'huge'], /--model: unknown size "huge"/],
    [['--optimizer', 'adamw,nadam'], /unknown optimizer "nadam"/],
    [['--optimizer', 'adamw,sinkgd', '--lr', '1,2,3'], /--lr gives 3 values for 2 optimizers/],
    [['--steps', '0'], /--steps must be an integer ≥ 1/],
    [['--tf-backend', 'webgl'], /--tf-backend must be auto, wasm or cpu/],
    [['--task', 'spirals', '--model', 'tiny'], /--task spirals takes .* not --model/],
    [['--data', '/nonexistent/file.txt'], /cannot read the training text/],
  ])('rejects %j with a clear error', (args, message) => {
    const r = spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('bench:converge', () => {
  it('writes JSON, markdown and an SVG plot from a short run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fisheropt-converge-'));
    execFileSync(
      process.execPath,
      [BENCH, '--model', 'tiny', '--steps', '8', '--optimizers', 'sinkgd', '--adamw-lrs', '3e-3,1e-2', '--batch', '4', '--seq', '16', '--eval-every', '4', '--eval-batches', '1', '--out', dir, '--name', 'c'],
      { encoding: 'utf8' },
    );
    const json = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
    expect(json.adamwGrid.map((g: { lr: number }) => g.lr)).toEqual([3e-3, 1e-2]);
    expect(json.summary.map((r: { optimizer: string }) => r.optimizer)).toEqual(['adamw', 'sinkgd']);
    const best = Math.min(...json.adamwGrid.map((g: { finalLoss: number }) => g.finalLoss));
    expect(json.target).toBe(best);
    expect(json.summary[0].ratio).toBe(1);
    expect(json.summary[1].matrixStateBytes).toBe(0);
    const md = readFileSync(join(dir, 'c.md'), 'utf8');
    expect(md).toMatch(/\| sinkgd \| \d\.\d{4} \|/);
    expect(md).toContain('AdamW learning-rate grid');
    expectWellFormedSvg(readFileSync(join(dir, 'c.svg'), 'utf8'));
  });
});
