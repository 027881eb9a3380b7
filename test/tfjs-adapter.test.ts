import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../dist/tfjs/register-gradients.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, defaultWasmUrl } from '../dist/index.js';
import { FisheroptOptimizer, STATE_WEIGHT_NAME, tfjsOptimizer, type TfjsOptimizerConfig } from '../dist/tfjs/index.js';
import { expectError } from './helpers/errors.js';
import { randomF32, rng } from './helpers/rng.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

/** 96 points in three noisy clusters on the unit circle, one-hot labels. */
function dataset(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = 96;
  const r = rng(7);
  const xs = new Float32Array(2 * n);
  const ys = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const a = (2 * Math.PI * c) / 3;
    xs[2 * i] = Math.cos(a) + 0.8 * (r() - 0.5);
    xs[2 * i + 1] = Math.sin(a) + 0.8 * (r() - 0.5);
    ys[3 * i + c] = 1;
  }
  return { x: tf.tensor2d(xs, [n, 2]), y: tf.tensor2d(ys, [n, 3]) };
}

/** Dense 2→16→3 with fixed initial weights; the output layer's name routes it to the fallback. */
function mlp(seed: number, headName = 'head'): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, inputShape: [2], activation: 'tanh', name: 'hidden' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: headName }),
    ],
  });
  model.setWeights([
    tf.tensor2d(randomF32(32, seed, 0.7), [2, 16]), tf.tensor1d(randomF32(16, seed + 1, 0.1)),
    tf.tensor2d(randomF32(48, seed + 2, 0.3), [16, 3]), tf.tensor1d(randomF32(3, seed + 3, 0.1)),
  ]);
  return model;
}

const weightsOf = (vars: readonly { read(): tf.Tensor }[] | readonly tf.Variable[]) =>
  vars.map((v) => ('read' in v ? v.read() : v).dataSync().slice() as Float32Array);
const varName = (model: tfl.LayersModel, i: number) => (model.trainableWeights[i].read() as tf.Variable).name;
const fitOpts = { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 as const };

describe('model.fit with a fisheropt optimizer', () => {

  it.each([
    ['adamw', { lr: 0.03 }],
    ['racs', { lr: 0.03 }],
    ['alice', { lr: 0.03 }],
  ] as const)('%s lowers the loss; kernels go to it, biases and the head to AdamW', async (name, options) => {
    const { x, y } = dataset();
    const model = mlp(11);
    const opt = await tfjsOptimizer({ optimizer: name, options });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, { ...fitOpts, epochs: 20 });
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(0.5 * loss[0]);
    expect(opt.iterations).toBe(60);
    expect(opt.core!.stepCount).toBe(60);
    const groups = model.trainableWeights.map((_, i) => opt.groupOf(varName(model, i)).optimizer);
    expect(groups).toEqual([name, 'adamw', 'adamw', 'adamw']); // hidden/kernel, hidden/bias, head/kernel, head/bias
    expect(opt.core!.paramNames).toEqual(model.trainableWeights.map((_, i) => varName(model, i)));
  });
});

describe('the adapter computes what fisheropt computes', () => {
  it.each(['ref', 'wasm'] as const)('AdamW through applyGradients equals core AdamW fed the same gradients, bit for bit (%s)', async (backend) => {
    const w0 = randomF32(12, 31);
    const b0 = randomF32(3, 32);
    const w = tf.variable(tf.tensor2d(w0, [4, 3]), true, `exact-${backend}/w`);
    const b = tf.variable(tf.tensor1d(b0), true, `exact-${backend}/b`);
    const xIn = tf.tensor2d(randomF32(20, 33), [5, 4]);
    const target = tf.tensor2d(randomF32(15, 34), [5, 3]);
    const f = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(xIn, w), b), target))) as tf.Scalar;
    const config = {
      optimizer: 'adamw', options: { lr: 0.05, betas: [0.8, 0.99] as [number, number], weightDecay: 0.1 },
      schedule: { type: 'cosine' as const, warmupSteps: 2, totalSteps: 6 }, clipGradNorm: 0.5, backend,
    };
    const adapter = await tfjsOptimizer(config);
    const core = await createOptimizer({ ...config, params: { w: { shape: [4, 3], data: w0 }, b: { shape: [3], data: b0 } } });
    for (let s = 0; s < 6; s++) {
      const { value, grads } = tf.variableGrads(f, [w, b]);
      core.setGrads({ w: grads[w.name].dataSync(), b: grads[b.name].dataSync() });
      adapter.applyGradients(grads);
      core.step();
      tf.dispose([value, grads]);
      expect(w.dataSync()).toEqual(core.param('w'));
      expect(b.dataSync()).toEqual(core.param('b'));
    }
    expect(adapter.backend).toBe(backend);
    expect(adapter.core!.save({ params: false })).not.toEqual(new Uint8Array());
    expect(adapter.core!.state(w.name)).toEqual(core.state('w'));
  });

  it('minimize with a varList updates only those variables and adds new ones later', async () => {
    const a = tf.variable(tf.tensor2d(randomF32(6, 41), [2, 3]), true, 'mv/a');
    const b = tf.variable(tf.tensor1d(randomF32(3, 42)), true, 'mv/b');
    const f = () => tf.sum(tf.square(tf.add(a, b))) as tf.Scalar;
    const opt = await tfjsOptimizer({ optimizer: 'adamw', options: { lr: 0.1 } });
    const [a0, b0] = weightsOf([a, b]);
    const cost = opt.minimize(f, true, [a]);
    expect(cost!.dataSync()[0]).toBeGreaterThan(0);
    const [a1, b1] = weightsOf([a, b]);
    expect(a1).not.toEqual(a0);
    expect(b1).toEqual(b0);
    expect(opt.core!.paramNames).toEqual(['mv/a']);
    expect(opt.minimize(f, false, [a, b])).toBeNull();
    expect(opt.core!.paramNames).toEqual(['mv/a', 'mv/b']);
    expect(b.dataSync()).not.toEqual(b1);
    expect(opt.groupOf('mv/b').optimizer).toBe('adamw');
    const [a2, b2] = weightsOf([a, b]);
    await expectError(() => opt.minimize(f, false, [a]), 'BAD_STATE', /no gradient for "mv\/b", updated in earlier steps/);
    expect(weightsOf([a, b])).toEqual([a2, b2]);
    expect(opt.iterations).toBe(2);
  });

  it('a weight changed from outside between steps is read back before the next step', async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'outside/v');
    const f = () => tf.sum(tf.square(v)) as tf.Scalar;
    const opt = await tfjsOptimizer({ optimizer: 'sgd', options: { lr: 0.25 } });
    opt.minimize(f, false, [v]);
    expect(Array.from(v.dataSync())).toEqual([0.5, 1, 1.5]); // θ − 0.25·2θ
    v.assign(tf.tensor1d([4, 8, 12]));
    opt.minimize(f, false, [v]);
    expect(Array.from(v.dataSync())).toEqual([2, 4, 6]);
  });
});

describe('optimizer state through getWeights / setWeights', () => {
  it('saving, restoring into a fresh optimizer and continuing equals uninterrupted training, bit for bit', async () => {
    const { x, y } = dataset();
    const shapes = [[2, 16], [16], [16, 3], [3]];
    const makeVars = (prefix: string) => ['hidden/kernel', 'hidden/bias', 'head/kernel', 'head/bias'].map((n, i) =>
      tf.variable(tf.tensor(randomF32(shapes[i].reduce((p, q) => p * q, 1), 50 + i, 0.5), shapes[i]), true, `${prefix}/${n}`));
    const vars = makeVars('rt');
    const others = makeVars('rt-other'); // same shapes, other names
    const config: TfjsOptimizerConfig = {
      optimizer: 'alice', options: { lr: 0.02, updateInterval: 3 }, clipGradNorm: 1,
      schedule: { type: 'cosine', warmupSteps: 2, totalSteps: 12 },
    };
    const run = (opt: FisheroptOptimizer, steps: number, vs = vars) => {
      const loss = () => {
        const h = tf.tanh(tf.add(tf.matMul(x, vs[0]), vs[1]));
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, vs[2]), vs[3])) as tf.Scalar;
      };
      for (let s = 0; s < steps; s++) opt.minimize(loss, false, vs);
    };
    const opt1 = await tfjsOptimizer(config);
    run(opt1, 5);
    const saved = await opt1.getWeights();
    expect(saved.map((w) => [w.name, w.tensor.dtype])).toEqual([['iter', 'int32'], [STATE_WEIGHT_NAME, 'int32']]);
    const at5 = weightsOf(vars);
    run(opt1, 6);
    const uninterrupted = weightsOf(vars);
    const restart = (vs = vars) => vs.forEach((v, i) => v.assign(tf.tensor(at5[i], v.shape)));

    restart();
    const fresh = await tfjsOptimizer(config);
    await fresh.setWeights(saved); // before its first step
    expect(fresh.iterations).toBe(5);
    run(fresh, 6);
    expect(weightsOf(vars)).toEqual(uninterrupted);
    expect(fresh.core!.stepCount).toBe(11);
    expect(fresh.groupOf('rt/hidden/kernel').optimizer).toBe('alice');

    const stepped = await tfjsOptimizer(config);
    run(stepped, 2);
    restart();
    await stepped.setWeights(saved); // after steps of its own
    run(stepped, 6);
    expect(weightsOf(vars)).toEqual(uninterrupted);

    const elsewhere = await tfjsOptimizer(config);
    run(elsewhere, 2, others);
    restart(others);
    await elsewhere.setWeights(saved); // after steps, on variables of other names: matched by position
    run(elsewhere, 6, others);
    expect(weightsOf(others)).toEqual(uninterrupted);
    expect(elsewhere.groupOf('rt-other/hidden/kernel').optimizer).toBe('alice');

    restart();
    run(await tfjsOptimizer(config), 6); // without the state: a different result
    expect(weightsOf(vars)).not.toEqual(uninterrupted);
  });

  it('model.save with includeOptimizer and tf.loadLayersModel restore the optimizer exactly', async () => {
    const { x, y } = dataset();
    const model = mlp(21, 'out_head');
    const config: TfjsOptimizerConfig = {
      optimizer: 'racs', options: { lr: 0.02 },
      rules: [{ match: /^out_head\/bias/, optimizer: 'adamw', options: { weightDecay: 0 } }],
      fallback: { options: { lr: 0.01 } },
    };
    model.compile({ optimizer: await tfjsOptimizer(config), loss: 'categoricalCrossentropy' });
    await model.fit(x, y, fitOpts);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }), { includeOptimizer: true });
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const opt = loaded.optimizer as FisheroptOptimizer;
    expect(opt).toBeInstanceOf(FisheroptOptimizer);
    expect(opt.iterations).toBe(9);
    expect(varName(loaded, 0)).not.toBe(varName(model, 0)); // tf.layers added a suffix: matched by position
    await model.fit(x, y, fitOpts);
    await loaded.fit(x, y, fitOpts);
    expect(weightsOf(loaded.trainableWeights)).toEqual(weightsOf(model.trainableWeights));
    expect(opt.core!.stepCount).toBe(18);
    expect(opt.groupOf(varName(loaded, 0)).optimizer).toBe('racs');
    expect(opt.groupOf(varName(loaded, 3)).options.weightDecay).toBe(0); // the rule's RegExp survived
    expect(opt.groupOf(varName(loaded, 2)).options.lr).toBe(0.01);
  });
});

describe('configuration and serialization', () => {
  it('getConfig / fromConfig round-trip through the class registered with tf.serialization', () => {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[FisheroptOptimizer.className];
    expect(entry?.[0]).toBe(FisheroptOptimizer);
    const config: TfjsOptimizerConfig = {
      optimizer: 'sinkgd', options: { lr: 0.01, iterations: 3 }, backend: 'ref',
      rules: [{ match: 'lm_head.weight', optimizer: 'adamw' }, { match: /emb_\d+/i, options: { lr: 0.5 } }],
      fallback: { pattern: null, optimizer: 'adam' }, schedule: { type: 'cosine', warmupSteps: 1, totalSteps: 9, minLrRatio: 0.2 },
      clipGradNorm: 2, nonFinite: 'skip',
    };
    const saved = new FisheroptOptimizer(config).getConfig();
    expect(Object.keys(saved)).toEqual(['config']);
    expect(saved.config).not.toContain('_');
    const back = FisheroptOptimizer.fromConfig(FisheroptOptimizer, { ...saved, customObjects: {} });
    expect(back.getConfig()).toEqual(saved);
    expect(JSON.parse(saved.config as string).rules[1].match).toEqual({ regexp: 'emb_\\d+', flags: 'i' });
    for (const broken of [{}, { config: 'null' }, { config: '{"optimizer": ' }] as tf.serialization.ConfigDict[]) {
      expect(() => FisheroptOptimizer.fromConfig(FisheroptOptimizer, broken)).toThrow(/cannot restore the optimizer from its saved config/);
    }
  });

  it('an optimizer whose kernels are still loading refuses to step until ready()', async () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'loading/v');
    const opt = new FisheroptOptimizer({ optimizer: 'adamw', wasm: defaultWasmUrl() });
    expect(opt.backend).toBeUndefined();
    await expectError(() => opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]), 'BAD_STATE', /still loading; await optimizer.ready\(\)/);
    expect(Array.from(v.dataSync())).toEqual([1, 2]);
    await opt.ready();
    expect(opt.backend).toBe('wasm');
    opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    expect(Array.from(v.dataSync())).not.toEqual([1, 2]);
  });

  it('the package exports resolve: fisheropt/tfjs is this module', async () => {
    const viaExports = await import('fisheropt/tfjs');
    expect(viaExports.FisheroptOptimizer).toBe(FisheroptOptimizer);
  });

  it('tfjs-core alone (Node entry) has no gradients; fisheropt/tfjs/register-gradients provides them', () => {
    const script = (register: boolean) => `
      const tf = await import('@tensorflow/tfjs-core'); await import('@tensorflow/tfjs-backend-cpu');
      ${register ? "await import('fisheropt/tfjs/register-gradients');" : ''}
      tf.enableProdMode(); await tf.setBackend('cpu');
      const v = tf.variable(tf.tensor1d([3]));
      try { tf.train.sgd(0.25).minimize(() => tf.sum(tf.div(tf.square(v), 2))); console.log(v.dataSync()[0]); }
      catch (e) { console.log(e.message); }`;
    const run = (register: boolean) => execFileSync(process.execPath, ['--input-type=module', '-e', script(register)], { encoding: 'utf8' }).trim();
    expect(run(false)).toMatch(/gradient function not found/);
    expect(run(true)).toBe('2.25');
  });
});

describe('bad input is an error naming what is wrong, and changes nothing', () => {
  it.each([
    [{ optimizer: 'adamw', backend: 'pool' }, 'BAD_OPTION', /backend 'pool' is not supported: tf.Optimizer.applyGradients is synchronous/],
    [{ optimizer: 'adamw', backend: 'webgpu' }, 'BAD_OPTION', /backend 'webgpu' is not supported: tf.Optimizer.applyGradients is synchronous/],
    [{ optimizer: 'adamw', backend: 'gpu' }, 'UNKNOWN_BACKEND', /unknown backend "gpu"/],
    [{ optimizer: 'adamw', params: {} }, 'UNKNOWN_OPTION', /unknown config field "params"/],
    [{ optimizer: 'adamx' }, 'UNKNOWN_OPTIMIZER', /unknown optimizer "adamx"/],
    [{ optimizer: 'racs', options: { beta: 2 } }, 'BAD_OPTION', /racs option beta/],
    [{ optimizer: 'adamw', backend: 'wasm', wasm: new Uint8Array([0, 1, 2]) }, 'BACKEND_UNAVAILABLE', /the wasm backend could not be loaded/],
  ])('tfjsOptimizer(%j)', async (config, code, text) => {
    await expectError(tfjsOptimizer(config as TfjsOptimizerConfig), code, text);
  });

  it("backend 'auto' falls back to ref when the kernels cannot load", async () => {
    expect((await tfjsOptimizer({ optimizer: 'adamw', wasm: new Uint8Array([0, 1, 2, 3]) })).backend).toBe('ref');
  });

  it('a variable whose shape changed, foreign or corrupted state, function rules in getConfig, use after dispose', async () => {
    const opt = await tfjsOptimizer({ optimizer: 'adamw', rules: [{ match: (p) => p.shape.length === 0, optimizer: 'sgd' }] });
    const v = tf.variable(tf.zeros([2, 3]), true, 'sc/w');
    opt.minimize(() => tf.sum(tf.square(tf.sub(v, 1))) as tf.Scalar, false, [v]);
    v.dispose();
    const v2 = tf.variable(tf.ones([3, 2]), true, 'sc/w');
    await expectError(() => opt.minimize(() => tf.sum(tf.square(v2)) as tf.Scalar, false, [v2]), 'BAD_SHAPE', /"sc\/w" has shape \[3, 2\] but had \[2, 3\] when this optimizer first updated it/);
    expect(Array.from(v2.dataSync())).toEqual([1, 1, 1, 1, 1, 1]);

    const good = await opt.getWeights();
    await expectError(opt.setWeights([good[0], { name: 'sc/w/m', tensor: tf.zeros([6]) }]), 'BAD_STATE', /expected the weights \[iter, fisheropt\/state\] of a fisheropt optimizer, got \[iter, sc\/w\/m\]/);
    const bytes = (await good[1].tensor.data()) as Int32Array;
    const corrupted = bytes.slice();
    corrupted[corrupted.length - 1] ^= 0x100;
    await expectError(opt.setWeights([good[0], { name: STATE_WEIGHT_NAME, tensor: tf.tensor1d(corrupted, 'int32') }]), 'BAD_STATE', /checksum mismatch/);
    const truncated = bytes.slice(0, 8);
    await expectError(opt.setWeights([good[0], { name: STATE_WEIGHT_NAME, tensor: tf.tensor1d(truncated, 'int32') }]), 'BAD_STATE', /claims \d+ bytes but holds 28/);
    expect(await opt.getWeights().then((w) => w[1].tensor.data())).toEqual(bytes);

    await expectError(() => opt.getConfig(), 'BAD_OPTION', /rule 0 matches with a function, which cannot be serialized/);
    opt.dispose();
    await expectError(() => opt.minimize(() => tf.sum(tf.square(v2)) as tf.Scalar, false, [v2]), 'CLOSED', /disposed/);
  });

  it('state saved for other variables is refused at the first step', async () => {
    const a = tf.variable(tf.ones([2, 2]), true, 'other/a');
    const src = await tfjsOptimizer({ optimizer: 'adamw' });
    src.minimize(() => tf.sum(tf.square(a)) as tf.Scalar, false, [a]);
    const b = tf.variable(tf.ones([3]), true, 'other/b');
    const dst = await tfjsOptimizer({ optimizer: 'adamw' });
    await dst.setWeights(await src.getWeights());
    await expectError(() => dst.minimize(() => tf.sum(tf.square(b)) as tf.Scalar, false, [b]), 'BAD_STATE', /state is for 1 variables \(other\/a \[2, 2\]\), which match neither by name nor by position and shape/);
    expect(Array.from(b.dataSync())).toEqual([1, 1, 1]);
  });
});
