import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOptimizer, replay, trainSpirals, type ReplayCase } from '../dist/index.js';
import { randomF32 } from './helpers/rng.js';

const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

function makeCase(optimizer: string, options: Record<string, unknown>, backend: 'ref' | 'wasm'): ReplayCase {
  const shapes: Record<string, number[]> = { w: [3, 5], b: [5] };
  return {
    optimizer,
    options,
    backend,
    params: Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, { shape: s, data: Array.from(randomF32(s[0] * (s[1] ?? 1), 10 + i)) }])),
    grads: Array.from({ length: 4 }, (_, t) =>
      Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, Array.from(randomF32(s[0] * (s[1] ?? 1), 100 * t + i))])),
    ),
  };
}

describe('replay', () => {
  it.each([
    ['adamw', { lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }, 'wasm'],
    ['sgd', { lr: 0.1, momentum: 0.9, nesterov: true }, 'ref'],
    ['adafactor', { lr: 0.01 }, 'wasm'],
  ] as const)('%s: output equals a direct API run', async (optimizer, options, backend) => {
    const c = makeCase(optimizer, options as Record<string, unknown>, backend);
    const r = await replay(c);
    const opt = await createOptimizer({
      optimizer, options: options as Record<string, unknown>, backend,
      params: Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, { shape: v.shape, data: v.data }])),
    });
    expect(r.steps.length).toBe(4);
    c.grads.forEach((g, i) => {
      opt.setGrads(g);
      opt.step();
      for (const n of ['w', 'b']) expect(r.steps[i][n]).toEqual(Array.from(opt.param(n)));
    });
    expect(r.backend).toBe(backend);
  });

  it('rejects a case with a missing gradient or an unknown field, naming it', async () => {
    const c = makeCase('adamw', {}, 'ref');
    delete (c.grads[2] as Record<string, number[]>).b;
    await expect(replay(c)).rejects.toThrow(/grads\[2\] has no gradient for "b"/);
    await expect(replay({ ...makeCase('adamw', {}, 'ref'), lr: 1 } as ReplayCase)).rejects.toThrow(/unknown field "lr"/);
  });

  it('`fisheropt replay case.json` prints the same steps as JSON; bad input exits 2 with a message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fisheropt-'));
    const file = join(dir, 'case.json');
    const c = makeCase('adamw', { lr: 0.001, weightDecay: 0.01 }, 'wasm');
    writeFileSync(file, JSON.stringify(c));
    const out = JSON.parse(execFileSync(process.execPath, [CLI, 'replay', file], { encoding: 'utf8' }));
    return replay(c).then((direct) => {
      expect(out.steps).toEqual(direct.steps);
      writeFileSync(file, JSON.stringify({ ...c, options: { lr: 0.001, beta1: 0.9 } }));
      const bad = spawnSync(process.execPath, [CLI, 'replay', file], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/unknown option "beta1" for adamw/);
    });
  });
});

describe('replay: the normalized optimizers', () => {
  it.each(['sinkgd', 'swan', 'muon'])('`fisheropt replay` runs %s on a 3×5 weight and prints what replay() returns', (optimizer) => {
    const dir = mkdtempSync(join(tmpdir(), 'fisheropt-'));
    const file = join(dir, 'case.json');
    const c = makeCase(optimizer, { lr: 0.05 }, 'wasm');
    delete (c.params as Record<string, unknown>).b;
    for (const g of c.grads) delete (g as Record<string, number[]>).b;
    writeFileSync(file, JSON.stringify(c));
    const out = JSON.parse(execFileSync(process.execPath, [CLI, 'replay', file], { encoding: 'utf8' }));
    return replay(c).then((direct) => {
      expect(out.optimizer).toBe(optimizer);
      expect(out.steps).toEqual(direct.steps);
      expect(out.steps.length).toBe(4);
      // each step moves w
      expect(out.steps[0].w).not.toEqual(c.params.w.data);
      expect(out.stateBytes).toBe(optimizer === 'muon' ? 4 * 15 : 0);
    });
  });
});

describe('the built-in training run', () => {
  it('reduces the loss of the spirals MLP on every optimizer', async () => {
    for (const optimizer of ['adamw', 'sgd', 'adafactor']) {
      const r = await trainSpirals({ optimizer, steps: 60 });
      expect(r.loss, optimizer).toBeLessThan(0.6 * r.initialLoss);
      expect(r.accuracy, optimizer).toBeGreaterThan(0.45); // chance is 1/3
    }
  });

  it('`fisheropt train` prints progress lines and a summary, and exits', () => {
    const out = execFileSync(process.execPath, [CLI, 'train', '--task', 'spirals', '--steps', '20', '--optimizer', 'sgd'], { encoding: 'utf8' });
    expect(out).toMatch(/step 20\/20 {2}loss \d\.\d{4}/);
    expect(out).toMatch(/done: sgd on wasm, 4547 params, optimizer state 18188 bytes/);
    const bad = spawnSync(process.execPath, [CLI, 'train', '--optimizr', 'sgd'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown argument "--optimizr"/);
    for (const args of [['train', '--help'], ['replay', '-h'], ['--help']]) {
      const help = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      expect(help.status, args.join(' ')).toBe(0);
      expect(help.stdout + help.stderr, args.join(' ')).toMatch(/fisheropt train \[options\][\s\S]*--optimizer A\[,B…\]/);
    }
  });
});
