// Convergence benchmark: the training job's LLaMA-style byte decoder (src/train/) trained on the built-in
// Moby-Dick text with every optimizer from the same initialization, batches and seed. AdamW is the
// baseline, its learning rate the best final held-out loss of a small grid. Each other optimizer runs at its
// paper defaults with rank and update intervals scaled to the model and run (see src/train/job.ts), and
// trains embedding, norms and head with AdamW at the grid's learning rate.
//
// Reports per optimizer: steps to reach AdamW's final held-out loss (interpolated between evaluations) and
// the ratio to AdamW's own steps (the papers' "× faster" measure), final held-out loss, optimizer state
// (matrices, and all), time per step (whole step, and the optimizer's step alone). Writes
// <out>/<name>.json, .md and .svg (held-out loss curves).
//
// Usage: npm run bench:converge [-- --steps 1000] [-- --model small] [-- --optimizers alice,sinkgd,racs,adadiag,soap]
//   [-- --adamw-lrs 1e-3,3e-3,1e-2] [-- --jobs 2] [-- --seed 1] [-- --batch 16] [-- --seq 64]
//   [-- --eval-every N (steps/20)] [-- --eval-batches 8] [-- --out bench/results] [-- --name converge]
// --jobs 2 runs two trainings at once in child processes (TF.js uses one core per process in Node).
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus } from '../dist/train/data.js';
import { trainRun } from '../dist/train/job.js';
import { MODEL_SIZES, paramCount } from '../dist/train/model.js';
import { lossCurveSvg, markdownTable, summarize } from '../dist/train/report.js';
import { loadTf } from '../dist/train/tf.js';

const HERE = fileURLToPath(import.meta.url);

/** One training run from a plain-JSON spec; used in-process and by child processes. */
async function runSpec(spec) {
  const { tf, backend } = await loadTf(spec.tfBackend ?? 'wasm');
  const corpus = loadCorpus(spec.data);
  const r = await trainRun(tf, { ...spec, model: MODEL_SIZES[spec.model], corpus });
  return { ...r, tfBackend: backend, label: spec.label };
}

if (process.argv[2] === '--child') {
  process.once('message', async (spec) => {
    try {
      process.send({ ok: true, result: await runSpec(spec) }, () => process.exit(0));
    } catch (e) {
      process.send({ ok: false, error: String(e?.stack ?? e) }, () => process.exit(1));
    }
  });
} else {
  await main();
}

function runChild(spec) {
  return new Promise((resolve, reject) => {
    const child = fork(HERE, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done = false;
    child.on('message', (m) => {
      done = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(`${spec.label}: ${m.error}`));
    });
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${spec.label}: child exited with code ${code}`));
    });
    child.send(spec);
  });
}

/** Runs `specs` with at most `jobs` at once (in child processes when jobs > 1), in order of the specs. */
async function runAll(specs, jobs) {
  const out = new Array(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      const t0 = performance.now();
      out[i] = jobs > 1 ? await runChild(specs[i]) : await runSpec(specs[i]);
      const r = out[i];
      console.log(`  ${specs[i].label}: held-out ${r.evals[0].loss.toFixed(4)} -> ${r.finalLoss.toFixed(4)}${r.divergedAt ? ` (stopped at step ${r.divergedAt}: non-finite gradient)` : ''}, ${r.msPerStep.toFixed(1)} ms/step, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const KNOWN = ['steps', 'model', 'optimizers', 'adamw-lrs', 'jobs', 'seed', 'batch', 'seq', 'eval-every', 'eval-batches', 'out', 'name', 'backend', 'tf-backend'];
  const flags = {};
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i].replace(/^--/, '');
    if (!KNOWN.includes(k) || args[i + 1] === undefined) throw new Error(`bench:converge: unknown or incomplete option ${args[i]}; known: ${KNOWN.map((s) => '--' + s).join(' ')}`);
    flags[k] = args[i + 1];
  }
  const posInt = (k, d) => {
    const v = flags[k] === undefined ? d : Number(flags[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${flags[k]}`);
    return v;
  };
  const steps = posInt('steps', 1000);
  const modelName = flags.model ?? 'small';
  if (!MODEL_SIZES[modelName]) throw new Error(`--model must be one of ${Object.keys(MODEL_SIZES).join(', ')}`);
  const model = MODEL_SIZES[modelName];
  const optimizers = (flags.optimizers ?? 'alice,sinkgd,racs,adadiag,soap').split(',').filter((o) => o && o !== 'adamw');
  const lrs = (flags['adamw-lrs'] ?? '1e-3,3e-3,1e-2').split(',').map(Number);
  if (lrs.some((v) => !(v > 0))) throw new Error(`--adamw-lrs must be positive numbers`);
  const jobs = posInt('jobs', 1);
  const common = {
    model: modelName, steps, batch: posInt('batch', 16), seq: posInt('seq', 64), seed: Number(flags.seed ?? 1),
    evalEvery: posInt('eval-every', Math.max(1, Math.round(steps / 20))), evalBatches: posInt('eval-batches', 8),
    backend: flags.backend ?? 'wasm', tfBackend: flags['tf-backend'] ?? 'wasm',
  };
  const out = flags.out ?? 'bench/results';
  const name = flags.name ?? 'converge';
  const command = `npm run bench:converge -- ${args.join(' ')}`.trim();
  console.log(`bench:converge: model ${modelName} (${paramCount(model).toLocaleString('en-US')} params), ${steps} steps, jobs ${jobs}`);
  const t0 = performance.now();

  console.log(`AdamW learning-rate grid: ${lrs.join(', ')}`);
  const grid = await runAll(lrs.map((lr) => ({ ...common, optimizer: 'adamw', adamwLr: lr, label: `adamw lr ${lr}` })), jobs);
  const finite = grid.filter((r) => Number.isFinite(r.finalLoss) && !r.divergedAt);
  if (!finite.length) throw new Error('every AdamW run of the grid diverged');
  const best = finite.reduce((a, b) => (b.finalLoss < a.finalLoss ? b : a));
  const adamwLr = best.options.lr;
  console.log(`AdamW baseline: lr ${adamwLr} (held-out ${best.finalLoss.toFixed(4)})`);
  const others = await runAll(optimizers.map((o) => ({ ...common, optimizer: o, adamwLr, label: o })), jobs);
  const results = [best, ...others];
  const { target, baselineSteps, rows } = summarize(results, 'adamw');

  const GOALS = { alice: { ratio: 0.5 }, sinkgd: { ratio: 0.6 }, racs: { ratio: 1.0, state: 0.01 }, adadiag: { ratio: 0.7 }, soap: { ratio: 0.7 } };
  const goalText = (row) => {
    const g = GOALS[row.optimizer];
    if (!g) return '–';
    const okRatio = row.ratio !== null && row.ratio <= g.ratio;
    const okState = g.state === undefined || (row.matrixStateRatio !== null && row.matrixStateRatio <= g.state);
    const want = `≤ ${g.ratio}×${g.state !== undefined ? `, ≤ ${100 * g.state}% state` : ''}`;
    return `${want}: ${okRatio && okState ? 'met' : 'not met'}`;
  };

  mkdirSync(out, { recursive: true });
  const tfjsVersion = JSON.parse(readFileSync(new URL('../node_modules/@tensorflow/tfjs-core/package.json', import.meta.url), 'utf8')).version;
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, os: release(), node: process.version, tfjs: tfjsVersion, tfBackend: best.tfBackend };
  const json = {
    command, machine, model: { name: modelName, ...model, params: paramCount(model) }, ...common, optimizers,
    adamwGrid: grid.map((r) => ({ lr: r.options.lr, finalLoss: r.finalLoss, divergedAt: r.divergedAt })),
    adamwLr, target, baselineSteps,
    summary: rows.map((r) => ({ ...r, goal: goalText(r) })),
    runs: [...grid, ...others].map((r) => ({ label: r.label, optimizer: r.optimizer, options: r.options, fallbackOptions: r.fallbackOptions, evals: r.evals, finalLoss: r.finalLoss, divergedAt: r.divergedAt, stateBytes: r.stateBytes, matrixStateBytes: r.matrixStateBytes, msPerStep: r.msPerStep, optMsPerStep: r.optMsPerStep, seconds: r.seconds })),
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(join(out, `${name}.json`), JSON.stringify(json, null, 1) + '\n');

  const title = `Held-out loss, byte-level LLaMA-style "${modelName}" (${paramCount(model).toLocaleString('en-US')} params) on Moby-Dick`;
  const series = [
    ...results.map((r) => ({ name: r.optimizer === 'adamw' ? `adamw (lr ${adamwLr})` : r.optimizer, points: r.evals.map((e) => [e.step, e.loss]) })),
  ];
  writeFileSync(join(out, `${name}.svg`), lossCurveSvg(series, title));

  const md = [
    `# Convergence: steps to AdamW's held-out loss`,
    '',
    `\`${command}\``,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.os}, Node ${machine.node}, TF.js ${machine.tfjs} (${machine.tfBackend} backend, one thread per run), ${jobs} run(s) at a time. ` +
      `Total wall time ${(json.seconds / 60).toFixed(1)} min.`,
    '',
    `Model "${modelName}": d=${model.dim}, ${model.layers} layers, ${model.heads} heads, SwiGLU ${model.ffn}; ${paramCount(model).toLocaleString('en-US')} parameters. ` +
      `Data: the built-in Moby-Dick text (bytes), last 5% held out. ${steps} steps × ${common.batch} sequences × ${common.seq} bytes, seed ${common.seed}, ` +
      `cosine schedule with 10% warm-up to 10% of the peak. Held-out loss on ${common.evalBatches} fixed batches every ${common.evalEvery} steps.`,
    '',
    `AdamW learning-rate grid (final held-out loss): ${grid.map((r) => `${r.options.lr}: ${r.divergedAt ? 'diverged' : r.finalLoss.toFixed(4)}`).join(', ')}. Baseline: lr ${adamwLr}; ` +
      `its final held-out loss ${target?.toFixed(4)} is the target, first reached at step ${baselineSteps?.toFixed(0)}.`,
    '',
    markdownTable(rows, 'adamw').trimEnd(),
    '',
    `"Steps to AdamW's final held-out loss" is interpolated linearly between the two evaluations around the first crossing; "not reached" means the run ended above it. ` +
      `Matrix state: optimizer state on the 2-D attention and MLP weights; all state adds the AdamW state of embedding, norms and head. ` +
      `Times are means over the run (whole step: TF.js forward and backward, copies, optimizer; optimizer: \`opt.step()\` alone); ` +
      `with ${jobs} run(s) at a time on a machine that may be shared, they compare only roughly across rows.`,
    '',
    '| optimizer | goal (issue 7) | options | embedding, norms, head |',
    '| --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.optimizer} | ${goalText(rows.find((x) => x.optimizer === r.optimizer))} | \`${JSON.stringify(r.options)}\` | ${Object.keys(r.fallbackOptions).length ? `adamw \`${JSON.stringify(r.fallbackOptions)}\`` : 'same'} |`),
    '',
    `Hyperparameters: each optimizer's paper defaults; ranks d/4 (the papers' 128 at d = 512), Alice's leading l = r·40/128; update intervals the papers set to 200 in a 10,000-step run scaled to 2% of the steps (at least 10); ` +
      `Adam-type learning rates (SOAP, AdaDiag) and the AdamW on embedding, norms and head at the AdamW baseline's learning rate.`,
    '',
    `Plot: \`${name}.svg\`.`,
    '',
  ].join('\n');
  writeFileSync(join(out, `${name}.md`), md);
  console.log('\n' + markdownTable(rows, 'adamw'));
  console.log(`wrote ${join(out, name)}.{json,md,svg}`);
}
