#!/usr/bin/env node
/**
 * The `fisheropt` command (Node only):
 *   fisheropt replay <case.json | ->      print the params after every step as JSON
 *   fisheropt train [options]             train a small LLaMA-style byte-level model (src/train/)
 *   fisheropt train --task spirals [...]  the small MLP on the spirals problem
 */
import { readFileSync } from 'node:fs';
import { trainSpirals, SPIRALS_DEFAULTS } from '../demo/spirals.js';
import { FisheroptError } from '../errors.js';
import { optimizerNames } from '../optimizers/index.js';
import { replay, type ReplayCase } from '../replay.js';
import { parseTrainFlags, trainCommand, TRAIN_FLAGS, TRAIN_USAGE } from '../train/command.js';

const USAGE = `usage:
  fisheropt replay <case.json | ->     replay gradients through an optimizer; prints {"steps": [...]} as JSON
${TRAIN_USAGE}
      spirals: --optimizer ${Object.keys(SPIRALS_DEFAULTS).join(' | ')} (default adamw), --steps (default 300),
               --backend auto | wasm | ref | webgpu (default auto), --lr (default: tuned per optimizer)`;

function parseFlags(args: string[], known: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !known.includes(m[1])) throw new FisheroptError('BAD_OPTION', `unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    const v = m[2] ?? args[++i];
    if (v === undefined) throw new FisheroptError('BAD_OPTION', `--${m[1]} needs a value`);
    out[m[1]] = v;
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cmd === 'replay') {
    if (rest.length !== 1) throw new FisheroptError('BAD_OPTION', `replay takes one file (or - for stdin)\n${USAGE}`);
    const text = readFileSync(rest[0] === '-' ? 0 : rest[0], 'utf8');
    let c: ReplayCase;
    try {
      c = JSON.parse(text);
    } catch (e) {
      throw new FisheroptError('BAD_CASE', `${rest[0]} is not valid JSON: ${(e as Error).message}`);
    }
    const r = await replay(c);
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  if (cmd === 'train') {
    const all = parseFlags(rest, ['task', ...TRAIN_FLAGS]);
    const { task = 'lm', ...flags } = all;
    if (task === 'lm') {
      await trainCommand(parseTrainFlags(flags), {
        write: (s) => process.stdout.write(s),
        warn: (s) => process.stderr.write(s + '\n'),
        tty: process.stdout.isTTY === true,
      });
      return 0;
    }
    if (task !== 'spirals') throw new FisheroptError('BAD_OPTION', `--task must be lm or spirals, got ${JSON.stringify(task)}`);
    const extra = Object.keys(flags).filter((k) => !['optimizer', 'steps', 'backend', 'lr'].includes(k));
    if (extra.length) throw new FisheroptError('BAD_OPTION', `--task spirals takes --optimizer, --steps, --backend and --lr, not --${extra[0]}`);
    const f = flags;
    const optimizer = f.optimizer ?? 'adamw';
    if (!optimizerNames().includes(optimizer)) throw new FisheroptError('UNKNOWN_OPTIMIZER', `unknown optimizer ${JSON.stringify(optimizer)}; available: ${optimizerNames().join(', ')}`);
    const steps = f.steps === undefined ? 300 : Number(f.steps);
    if (!Number.isInteger(steps) || steps < 1) throw new FisheroptError('BAD_OPTION', `--steps must be a positive integer, got ${f.steps}`);
    const options = { ...SPIRALS_DEFAULTS[optimizer] };
    if (f.lr !== undefined) {
      const lr = Number(f.lr);
      if (!Number.isFinite(lr) || lr < 0) throw new FisheroptError('BAD_OPTION', `--lr must be a non-negative number, got ${f.lr}`);
      options.lr = lr;
    }
    console.log(`fisheropt train: spirals MLP 2-64-64-3, ${optimizer} ${JSON.stringify(options)}, ${steps} steps`);
    const r = await trainSpirals({
      optimizer,
      options,
      steps,
      backend: f.backend as 'auto' | 'wasm' | 'ref' | 'webgpu' | undefined,
      every: Math.max(1, Math.round(steps / 10)),
      onProgress: (p) =>
        console.log(
          `step ${String(p.step).padStart(String(p.steps).length)}/${p.steps}  loss ${p.loss.toFixed(4)}  acc ${(100 * p.accuracy).toFixed(1)}%  lr×${p.lrFactor.toFixed(3)}  ${p.msPerStep.toFixed(2)} ms/step`,
        ),
    });
    console.log(
      `done: ${r.optimizer} on ${r.backend}, ${r.params} params, optimizer state ${r.stateBytes} bytes; ` +
        `loss ${r.initialLoss.toFixed(4)} -> ${r.loss.toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(1)}%, ${r.seconds.toFixed(2)} s`,
    );
    return 0;
  }
  console.error(USAGE);
  return cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof FisheroptError ? `fisheropt: ${e.message}` : e);
    process.exitCode = e instanceof FisheroptError ? 2 : 1;
  },
);
