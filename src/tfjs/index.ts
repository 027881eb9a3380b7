/**
 * `fisheropt/tfjs`: a TensorFlow.js `tf.Optimizer` whose updates are computed by fisheropt, for
 * `model.compile({ optimizer })` / `model.fit` (tfjs-layers) and `optimizer.minimize(f, returnCost, varList)`.
 *
 * Design
 * - `await tfjsOptimizer({ optimizer, options, rules, fallback, backend, schedule, clipGradNorm, nonFinite })`
 *   validates the config and loads the kernels (the only asynchronous part). The fisheropt arena is
 *   created synchronously (`createOptimizerSync`) by the first `applyGradients`, for the variables it
 *   sees, with their current values; each variable is a fisheropt parameter of the same name (and
 *   shape), so the library's routing applies to tf.layers names: 2-D kernels to the chosen optimizer;
 *   biases, norms, embeddings and layers named `head` / `output` to the fallback (AdamW), unless
 *   `rules` / `fallback` say otherwise. Variables that appear in a later step are added (`addParams`,
 *   their optimizer starting at its own step 1).
 * - A step: each gradient is copied into the arena's gradient view (`grad(name).set(g.dataSync())`),
 *   fisheropt steps once, and each variable gets one `assign` of a copy of its updated values. A
 *   variable whose value was changed from outside since the last step (`model.setWeights`, a layer
 *   constraint, loading weights) is detected by its changed data id and re-read before the step.
 * - State: `getWeights()` returns tfjs's `iter` scalar and one int32 tensor `fisheropt/state` holding the
 *   byte length and the bytes of the library's `save({ params: false })` blob (every state slot, step
 *   counters, hyperparameters, schedule; the weights themselves are the model's). `setWeights()` restores
 *   it, before the first step or after; variables are matched by name, or by position and shape when the
 *   names differ (a model loaded next to another gets `_1` suffixes), as tfjs's own optimizers do.
 *   `getConfig()` / `fromConfig()` carry the config (rules as names or RegExps) through `model.save` with
 *   `includeOptimizer`.
 *
 * Limits
 * - Every variable the optimizer has updated must have a gradient in each later step: fisheropt updates
 *   all its parameters together (use one optimizer per set of variables that trains together).
 * - A variable whose shape changes (same name) is an error: its state has that shape.
 * - Backends `wasm` and `ref` (and `auto`); `pool` and `webgpu` are rejected because `applyGradients` is synchronous
 *   and their steps are not. float32 variables only.
 * - An optimizer rebuilt by `fromConfig` (e.g. by `tf.loadLayersModel`) uses the default kernel source
 *   (or `setWasmSource`); until its kernels are loaded, `applyGradients` throws: `await ready()` first
 *   (`setWeights`, which loading with optimizer weights calls, awaits it).
 * - Rules that match with a function cannot be serialized: `getConfig()` throws for them.
 * - tfjs-core registers no gradients in its Node entry or its ESM index; import
 *   `fisheropt/tfjs/register-gradients` once (after `@tensorflow/tfjs-core`) unless the union package
 *   `@tensorflow/tfjs` or `@tensorflow/tfjs-node` is loaded.
 */
import {
  engine, Optimizer as TfOptimizer, serialization, tensor, tidy,
  type NamedTensorMap, type Tensor, type Variable,
} from '@tensorflow/tfjs-core';
import { loadWasmModule, type WasmSource } from '../backends/wasm.js';
import { FisheroptError } from '../errors.js';
import { createOptimizerSync, type NonFinitePolicy, type Optimizer, type StepInfo } from '../optimizer.js';
import type { Options, Schedule } from '../options.js';
import type { FallbackConfig, Group, RouteRule } from '../routing.js';
import { decodeState } from '../state.js';

/** A gradient or weight by name, as tfjs's `Optimizer` methods take and return them. */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export interface TfjsOptimizerConfig {
  /** The main optimizer: `adamw`, `alice`, `racs`, `sinkgd`, … */
  optimizer: string;
  /** Its hyperparameters (the README's option table). */
  options?: Options;
  /** Routing rules on variable names, first match wins (as in `createOptimizer`). */
  rules?: RouteRule[];
  /** Where a matrix optimizer sends what it does not take (default AdamW). */
  fallback?: FallbackConfig;
  /** `auto` (default: wasm when it loads, else ref), `wasm` or `ref`. */
  backend?: 'auto' | 'wasm' | 'ref';
  /** Where to load `fisheropt.wasm` from (not serialized by `getConfig()`). */
  wasm?: WasmSource;
  schedule?: Schedule;
  clipGradNorm?: number;
  nonFinite?: NonFinitePolicy;
}

const CONFIG_KEYS = ['optimizer', 'options', 'rules', 'fallback', 'backend', 'wasm', 'schedule', 'clipGradNorm', 'nonFinite'];

/** The name of the optimizer-state weight in `getWeights()`. */
export const STATE_WEIGHT_NAME = 'fisheropt/state';

/** One variable the optimizer updates: its fisheropt parameter, shape and the data id last written or read. */
interface VarRecord {
  readonly variable: string;
  param: string;
  readonly shape: number[];
  dataId: unknown;
}

/** Kernels compiled from the default source, so `fromConfig` can build without awaiting. */
let defaultModule: WebAssembly.Module | undefined;

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function checkConfig(config: TfjsOptimizerConfig): void {
  if (config === null || typeof config !== 'object') throw new FisheroptError('BAD_OPTION', 'fisheropt/tfjs needs a config object');
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new FisheroptError('UNKNOWN_OPTION', `fisheropt/tfjs: unknown config field ${JSON.stringify(key)}; known: ${CONFIG_KEYS.join(', ')} (parameters are the variables the optimizer is given)`);
    }
  }
  const backend: string = config.backend ?? 'auto';
  if (backend === 'pool' || backend === 'webgpu') {
    throw new FisheroptError('BAD_OPTION', `fisheropt/tfjs: backend '${backend}' is not supported: tf.Optimizer.applyGradients is synchronous and a ${backend} step is asynchronous; use 'wasm' or 'ref'`);
  }
  if (!['auto', 'wasm', 'ref'].includes(backend)) {
    throw new FisheroptError('UNKNOWN_BACKEND', `fisheropt/tfjs: unknown backend ${JSON.stringify(backend)}; expected auto, wasm or ref`);
  }
  // Everything else (optimizer names, options, rules, schedule, clipping) as createOptimizer checks it.
  createOptimizerSync({ ...coreConfig(config), params: {}, backend: 'ref' });
}

function coreConfig(c: TfjsOptimizerConfig) {
  return { optimizer: c.optimizer, options: c.options, rules: c.rules, fallback: c.fallback, schedule: c.schedule, clipGradNorm: c.clipGradNorm, nonFinite: c.nonFinite };
}

/** JSON of the config with RegExps as `{ regexp, flags }`; underscores escaped so tfjs-layers' snake/camel-case conversion of saved configs leaves it intact. */
function encodeConfig(config: TfjsOptimizerConfig): string {
  const matcher = (m: unknown, where: string) => {
    if (typeof m === 'string') return m;
    if (m instanceof RegExp) return { regexp: m.source, flags: m.flags };
    throw new FisheroptError('BAD_OPTION', `fisheropt/tfjs: ${where} matches with a function, which cannot be serialized (getConfig, model.save with includeOptimizer); use a name or a RegExp`);
  };
  const { wasm: _wasm, ...rest } = config;
  const json = JSON.stringify({
    ...rest,
    rules: config.rules?.map((r, i) => ({ ...r, match: matcher(r.match, `rule ${i}`) })),
    fallback: config.fallback && {
      ...config.fallback,
      pattern: config.fallback.pattern == null ? config.fallback.pattern : matcher(config.fallback.pattern, 'fallback.pattern'),
    },
  });
  return json.replace(/_/g, '\\u005f');
}

function decodeConfig(text: unknown): TfjsOptimizerConfig {
  const bad = (why: string) => new FisheroptError('BAD_STATE', `fisheropt/tfjs: cannot restore the optimizer from its saved config: ${why}`);
  if (typeof text !== 'string') throw bad(`expected a string field "config", got ${typeof text}`);
  let parsed: TfjsOptimizerConfig;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('it is not an object');
  const matcher = (m: unknown) => {
    if (m !== null && typeof m === 'object' && typeof (m as { regexp?: unknown }).regexp === 'string') {
      const { regexp, flags } = m as { regexp: string; flags?: string };
      return new RegExp(regexp, flags);
    }
    return m as string;
  };
  if (parsed.rules) parsed.rules = parsed.rules.map((r) => ({ ...r, match: matcher(r.match) }));
  if (parsed.fallback && parsed.fallback.pattern != null) parsed.fallback.pattern = matcher(parsed.fallback.pattern) as unknown as RegExp;
  for (const key of Object.keys(parsed) as (keyof TfjsOptimizerConfig)[]) if (parsed[key] === undefined || parsed[key] === null) delete parsed[key];
  return parsed;
}

/** The blob as an int32 tensor: element 0 is the byte length, then the bytes (little-endian words). */
function packState(blob: Uint8Array): Tensor {
  const words = new Int32Array(1 + Math.ceil(blob.length / 4));
  words[0] = blob.length;
  new Uint8Array(words.buffer, 4).set(blob);
  return tensor(words, [words.length], 'int32');
}

async function unpackState(t: Tensor): Promise<Uint8Array> {
  const bad = (why: string) => new FisheroptError('BAD_STATE', `fisheropt/tfjs: weight "${STATE_WEIGHT_NAME}" ${why}`);
  if (t.dtype !== 'int32' || t.rank !== 1) throw bad(`must be a 1-D int32 tensor, got ${t.dtype} of shape ${fmt(t.shape)}`);
  const words = (await t.data()) as Int32Array;
  const n = words[0];
  if (!(n >= 0 && n <= 4 * (words.length - 1))) throw bad(`claims ${n} bytes but holds ${4 * (words.length - 1)} (truncated?)`);
  const blob = new Uint8Array(words.buffer, words.byteOffset + 4, n).slice();
  decodeState(blob); // checksum, version and layout now, rather than at the first step
  return blob;
}

/**
 * Which fisheropt parameter names a saved blob gives the variables `vars` (in the order the optimizer
 * first saw them): their own names when the blob has exactly those, else the blob's names by position
 * when the shapes agree.
 */
function namesFromBlob(blob: Uint8Array, vars: readonly { variable: string; shape: readonly number[] }[]): string[] {
  const saved = decodeState(blob).header.params;
  const savedNames = new Set(saved.map((p) => p.name));
  if (saved.length === vars.length && vars.every((v) => savedNames.has(v.variable))) return vars.map((v) => v.variable);
  if (saved.length === vars.length && vars.every((v, i) => sameShape(v.shape, saved[i].shape))) return saved.map((p) => p.name);
  const list = (xs: readonly { name: string; shape: readonly number[] }[]) => xs.map((x) => `${x.name} ${fmt(x.shape)}`).join(', ');
  throw new FisheroptError(
    'BAD_STATE',
    `fisheropt/tfjs: the saved optimizer state is for ${saved.length} variables (${list(saved)}), which match neither by name nor by position and shape the ${vars.length} trained here (${list(vars.map((v) => ({ name: v.variable, shape: v.shape })))})`,
  );
}

/** A `tf.Optimizer` backed by fisheropt. Create it with `await tfjsOptimizer(config)`. */
export class FisheroptOptimizer extends TfOptimizer {
  static readonly className = 'FisheroptOptimizer';

  private readonly config: TfjsOptimizerConfig;
  private backendName: 'ref' | 'wasm' | undefined;
  private module: WebAssembly.Module | undefined;
  private readonly loading: Promise<void> | undefined;
  private loadError: FisheroptError | undefined;
  private inner: Optimizer<StepInfo> | undefined;
  private vars: VarRecord[] = [];
  private byVar = new Map<string, VarRecord>();
  /** State given to `setWeights` before the first step: loaded when the arena is created. */
  private pending: Uint8Array | undefined;
  private disposed = false;

  /**
   * Validates `config` now; loads the kernels in the background unless they are loaded already
   * (`await ready()`, or use `tfjsOptimizer()`, which does both).
   */
  constructor(config: TfjsOptimizerConfig) {
    super();
    checkConfig(config);
    this.config = { ...config };
    const backend = config.backend ?? 'auto';
    if (backend === 'ref') this.backendName = 'ref';
    else if (config.wasm === undefined && defaultModule) [this.backendName, this.module] = ['wasm', defaultModule];
    else {
      this.loading = loadWasmModule(config.wasm).then(
        (m) => {
          if (config.wasm === undefined) defaultModule = m;
          [this.backendName, this.module] = ['wasm', m];
        },
        (e: Error) => {
          if (backend === 'auto') this.backendName = 'ref';
          else this.loadError = new FisheroptError('BACKEND_UNAVAILABLE', `fisheropt/tfjs: the wasm backend could not be loaded: ${e.message}`);
        },
      );
    }
  }

  /** Resolves when the kernels are loaded (rejects when backend `wasm` cannot load). */
  async ready(): Promise<void> {
    await this.loading;
    if (this.loadError) throw this.loadError;
  }

  /** The backend in use (`undefined` while loading). */
  get backend(): 'ref' | 'wasm' | undefined {
    return this.backendName;
  }

  /** The fisheropt optimizer behind this one (created by the first step; `undefined` before). */
  get core(): Optimizer<StepInfo> | undefined {
    return this.inner;
  }

  /** Which optimizer, with which options, updates the variable named `variableName` (seen in a step). */
  groupOf(variableName: string): Group {
    const r = this.byVar.get(variableName);
    if (!r || !this.inner) {
      throw new FisheroptError('UNKNOWN_PARAM', `fisheropt/tfjs: variable ${JSON.stringify(variableName)} has not been through a step of this optimizer; known: ${[...this.byVar.keys()].join(', ')}`);
    }
    return this.inner.groupOf(r.param);
  }

  private usable(): void {
    if (this.disposed) throw new FisheroptError('CLOSED', 'fisheropt/tfjs: this optimizer was disposed');
    if (this.loadError) throw this.loadError;
    if (!this.backendName) {
      throw new FisheroptError('BAD_STATE', 'fisheropt/tfjs: the kernels are still loading; await optimizer.ready() (or create it with await tfjsOptimizer()) before training');
    }
  }

  /** A fresh fisheropt optimizer over `vars` (named `names`), with `blob`'s state when given. */
  private build(vars: readonly { shape: number[]; data: ArrayLike<number> }[], names: readonly string[], blob?: Uint8Array): Optimizer<StepInfo> {
    const params = Object.fromEntries(vars.map((v, i) => [names[i], { shape: v.shape, data: v.data }]));
    const inner = createOptimizerSync({ ...coreConfig(this.config), params, backend: this.backendName!, wasm: this.module });
    if (blob) inner.load(blob);
    return inner;
  }

  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    this.usable();
    const given: [string, Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v): [string, Tensor | undefined] => [v?.name, v?.tensor])
      : Object.entries(variableGradients ?? {});
    // Check everything before anything changes.
    const items: { variable: Variable; grad: Tensor; rec: VarRecord | undefined }[] = [];
    const seen = new Set<string>();
    for (const [name, grad] of given) {
      if (grad == null) continue;
      if (seen.has(name)) throw new FisheroptError('DUPLICATE_PARAM', `fisheropt/tfjs: two gradients for variable ${JSON.stringify(name)}`);
      seen.add(name);
      const variable = engine().registeredVariables[name];
      if (!variable) throw new FisheroptError('UNKNOWN_PARAM', `fisheropt/tfjs: no variable named ${JSON.stringify(name)} is registered with the TF.js engine`);
      if (variable.dtype !== 'float32' || grad.dtype !== 'float32') {
        throw new FisheroptError('BAD_VALUE', `fisheropt/tfjs: variable ${JSON.stringify(name)} is ${variable.dtype} with a ${grad.dtype} gradient; only float32 is supported`);
      }
      if (!sameShape(grad.shape, variable.shape)) {
        throw new FisheroptError('BAD_SHAPE', `fisheropt/tfjs: the gradient of ${JSON.stringify(name)} has shape ${fmt(grad.shape)}, the variable ${fmt(variable.shape)}`);
      }
      const rec = this.byVar.get(name);
      if (rec && !sameShape(rec.shape, variable.shape)) {
        throw new FisheroptError('BAD_SHAPE', `fisheropt/tfjs: variable ${JSON.stringify(name)} has shape ${fmt(variable.shape)} but had ${fmt(rec.shape)} when this optimizer first updated it; its optimizer state has that shape (use a new optimizer for a new model)`);
      }
      items.push({ variable, grad, rec });
    }
    const missing = this.vars.filter((r) => !seen.has(r.variable)).map((r) => r.variable);
    if (missing.length) {
      throw new FisheroptError('BAD_STATE', `fisheropt/tfjs: no gradient for ${missing.map((n) => JSON.stringify(n)).join(', ')}, updated in earlier steps; fisheropt updates all its variables in every step (use one optimizer per set of variables trained together)`);
    }
    if (items.length === 0) return;

    const fresh = items.filter((it) => !it.rec).map((it) => ({ variable: it.variable.name, shape: [...it.variable.shape], data: it.variable.dataSync(), dataId: it.variable.dataId }));
    if (fresh.length) {
      let added: string[];
      if (!this.inner) {
        added = this.pending ? namesFromBlob(this.pending, fresh) : fresh.map((v) => v.variable);
        this.inner = this.build(fresh, added, this.pending);
        this.pending = undefined;
      } else {
        const taken = new Set(this.inner.paramNames);
        added = fresh.map((v) => {
          let name = v.variable;
          for (let k = 1; taken.has(name); k++) name = `${v.variable}#${k}`;
          taken.add(name);
          return name;
        });
        this.inner.addParams(Object.fromEntries(fresh.map((v, i) => [added[i], { shape: v.shape, data: v.data }])));
      }
      fresh.forEach((v, i) => {
        const rec: VarRecord = { variable: v.variable, param: added[i], shape: v.shape, dataId: v.dataId };
        this.vars.push(rec);
        this.byVar.set(v.variable, rec);
      });
    }

    const inner = this.inner!;
    const recs = items.map((it) => it.rec ?? this.byVar.get(it.variable.name)!);
    items.forEach(({ variable, grad }, i) => {
      if (variable.dataId !== recs[i].dataId) {
        inner.param(recs[i].param).set(variable.dataSync());
        recs[i].dataId = variable.dataId;
      }
      inner.grad(recs[i].param).set(grad.dataSync());
    });
    const info = inner.step();
    if (!info.skipped) {
      tidy(() => {
        items.forEach(({ variable }, i) => {
          variable.assign(tensor(inner.param(recs[i].param).slice(), variable.shape, 'float32'));
          recs[i].dataId = variable.dataId;
        });
      });
    }
    this.incrementIterations();
  }

  /** `[iter, fisheropt/state]`: tfjs's step counter and the whole optimizer state (no state before the first step). */
  override async getWeights(): Promise<NamedTensor[]> {
    if (this.disposed) throw new FisheroptError('CLOSED', 'fisheropt/tfjs: this optimizer was disposed');
    const iter = await this.saveIterations();
    const blob = this.inner ? this.inner.save({ params: false }) : this.pending;
    return blob ? [iter, { name: STATE_WEIGHT_NAME, tensor: packState(blob) }] : [iter];
  }

  /**
   * Restore what `getWeights()` returned, before the first step or after. With only `iter`, the state
   * starts afresh at the next step. Checked first: on error nothing changes.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.ready();
    if (this.disposed) throw new FisheroptError('CLOSED', 'fisheropt/tfjs: this optimizer was disposed');
    const names = Array.isArray(weightValues) ? weightValues.map((w) => w?.name) : [];
    if (!Array.isArray(weightValues) || names.length < 1 || names.length > 2 || (names.length === 2 && names[1] !== STATE_WEIGHT_NAME)) {
      throw new FisheroptError('BAD_STATE', `fisheropt/tfjs: expected the weights [iter, ${STATE_WEIGHT_NAME}] of a fisheropt optimizer, got [${names.join(', ')}]`);
    }
    const iterations = (await weightValues[0].tensor.data())[0];
    const blob = weightValues.length === 2 ? await unpackState(weightValues[1].tensor) : undefined;
    if (!this.inner) {
      this.pending = blob;
    } else if (!blob) {
      this.inner = undefined;
      this.vars = [];
      this.byVar.clear();
    } else {
      const inner = this.inner;
      const names = namesFromBlob(blob, this.vars);
      if (names.every((n, i) => n === this.vars[i].param)) inner.load(blob);
      else {
        this.inner = this.build(this.vars.map((r) => ({ shape: r.shape, data: inner.param(r.param) })), names, blob);
        this.vars.forEach((r, i) => (r.param = names[i]));
      }
    }
    this.iterations_ = iterations;
  }

  /** The config (not the kernel source), as one JSON string that survives tfjs-layers' key conversions. */
  override getConfig(): serialization.ConfigDict {
    return { config: encodeConfig(this.config) };
  }

  static override fromConfig<T extends serialization.Serializable>(cls: serialization.SerializableConstructor<T>, config: serialization.ConfigDict): T {
    return new cls(decodeConfig(config.config));
  }

  /** Release the optimizer's memory; later steps throw. */
  override dispose(): void {
    super.dispose();
    this.disposed = true;
    void this.inner?.close();
    this.inner = undefined;
    this.pending = undefined;
    this.vars = [];
    this.byVar.clear();
  }
}

serialization.registerClass(FisheroptOptimizer);

/** A fisheropt-backed `tf.Optimizer`, its kernels loaded. */
export async function tfjsOptimizer(config: TfjsOptimizerConfig): Promise<FisheroptOptimizer> {
  const opt = new FisheroptOptimizer(config);
  await opt.ready();
  return opt;
}
