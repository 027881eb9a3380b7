/**
 * The optimizer API over named parameters. `createOptimizer()` routes parameters to optimizers, plans
 * the arena (params, grads, state, scratch), loads the backend, and returns an `Optimizer` whose
 * `step()` applies one update in place.
 */
import { alignUp, Arena } from './arena.js';
import { checkBackend, createBackend, createBackendSync, type Backend, type BackendChoice } from './backends/index.js';
import { GEMM_SCRATCH_BYTES } from './kernels/gemm.js';
import type { WasmSource } from './backends/wasm.js';
import { runStep, type NonFinitePolicy, type SaveRange, type StepInfo, type StepPlan } from './engine.js';
import { probeStep, runDeviceStep } from './backends/webgpu/step.js';
import { FisheroptError } from './errors.js';

export type { NonFinitePolicy, StepInfo } from './engine.js';
import { numel, type ParamRef, type SlotSpec } from './optimizers/types.js';
import { resolveOptions, scheduleFactor, validateSchedule, type Options, type Schedule } from './options.js';
import { route, type FallbackConfig, type Group, type RouteRule } from './routing.js';
import { decodeState, encodeState, FORMAT_VERSION, type StateHeader } from './state.js';

export interface ParamInit {
  shape: readonly number[];
  /** Initial values, row-major (default zeros). */
  data?: ArrayLike<number>;
}

export interface OptimizerConfig {
  /** The main optimizer: `sgd`, `adam`, `adamw`, `adafactor`, … */
  optimizer: string;
  /** Its hyperparameters (camelCase; see the README's option table). */
  options?: Options;
  /** Parameters by name. */
  params: Record<string, ParamInit>;
  /** Routing rules, first match wins. */
  rules?: RouteRule[];
  /** Where matrix optimizers send what they do not take (default AdamW). */
  fallback?: FallbackConfig;
  /**
   * `auto` (default: wasm when it loads, else ref), `wasm`, `ref`, `pool` (Node: a worker pool over
   * shared memory; its `step()` returns a promise; call `close()` when done), or `webgpu` (the GPU
   * through WebGPU; `step()` returns a promise, parameters are read after `await download()`; without
   * an adapter it falls back to `auto`'s backend and says why in `fallbackReason`).
   */
  backend?: BackendChoice;
  /** `pool`: threads computing a step (default: available cores). */
  threads?: number;
  /**
   * `pool`: back up each parameter and its state just before its update (by the thread that runs it)
   * so a failed step (a worker that dies or throws) leaves params and state exactly as before (default
   * true; costs one copy of params and state per step and the same memory again).
   */
  rollback?: boolean;
  /** Where to load `fisheropt.wasm` from (bytes, URL or compiled module); default: beside the JS. */
  wasm?: WasmSource;
  /** Learning-rate schedule, a factor on every group's lr (default constant). */
  schedule?: Schedule;
  /** Clip the global gradient norm to this value before the update (torch's clip_grad_norm_). */
  clipGradNorm?: number;
  /** Non-finite gradients: `throw` (default), `skip` the whole step, or `ignore` (no check). */
  nonFinite?: NonFinitePolicy;
}

const CONFIG_KEYS = ['optimizer', 'options', 'params', 'rules', 'fallback', 'backend', 'threads', 'rollback', 'wasm', 'schedule', 'clipGradNorm', 'nonFinite'];

interface ParamRecord extends ParamRef {
  readonly group: Group;
  readonly slotList: { name: string; length: number; ptr: number }[];
  /** Steps completed before this parameter was added (its own step counter is t − step0). */
  readonly step0: number;
  /** With rollback: the regions its update writes and their backups (see `PlanParam.save`). */
  readonly save?: readonly SaveRange[];
}

const describe = (v: unknown) =>
  typeof v === 'number' ? String(v) : typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;

function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new FisheroptError('BAD_SHAPE', `parameter ${JSON.stringify(name)}: shape must be an array of positive integers, got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

/** Throw naming the parameter, the index and the value when `data` has a non-finite value. */
function checkFinite(what: string, name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new FisheroptError('BAD_VALUE', `${what} ${JSON.stringify(name)}: element ${i} is ${describe(v)}, expected a finite number`);
    }
  }
}

/**
 * An optimizer over named parameters. `S` is what `step()` returns: `StepInfo` on the `ref` and `wasm`
 * backends, `Promise<StepInfo>` on `pool` and `webgpu` (`await opt.step()` is right for all).
 *
 * On `webgpu` the parameters, gradients and state live in a device arena at the same offsets as the
 * host arena, which becomes a mirror: `setParams`/`setGrads`/`zeroGrads`/`load` write both; after a
 * `grad()` view was handed out the host gradients are uploaded at every step; parameters and state
 * change on the device only, so `param()`, `state()`, `getParams()` and `save()` need `await
 * download()` after a step (they throw BAD_STATE otherwise), and writes into `param()`/`state()` views
 * reach the device with `await upload()`.
 */
export class Optimizer<S extends StepInfo | Promise<StepInfo> = StepInfo> {
  readonly arena: Arena;
  readonly backend: Backend['name'];
  readonly groups: Group[];
  readonly clipGradNorm: number | undefined;
  readonly nonFinite: NonFinitePolicy;
  private schedule: Schedule;
  private readonly kernels: Backend['kernels'];
  private readonly records: Map<string, ParamRecord>;
  private scratch: number;
  /** Pool: one scratch region of `scratchBytes` per helper thread, for parameter updates run in parallel. */
  private threadScratch: number[];
  private t = 0;
  private skipped = 0;
  private readonly pool: Backend['pool'];
  private readonly routing: Routing;
  private readonly rollback: boolean;
  private scratchBytes: number;
  private busy = false;
  private closed = false;
  private readonly gpu: Backend['gpu'];
  /** Why `webgpu` was asked for and another backend runs (undefined otherwise). */
  readonly fallbackReason: string | undefined;
  /** `step()` returns a promise (pool, webgpu, and webgpu's fallback). */
  private readonly asyncStep: boolean;
  /** webgpu: the device has values the host mirror lacks (a step ran since the last download). */
  private hostStale = false;
  /** webgpu: a `grad()` view exists, so gradients are uploaded from the host at every step. */
  private hostGrads = false;

  /** Use `createOptimizer()`. */
  constructor(init: {
    arena: Arena; backend: Backend; groups: Group[]; records: Map<string, ParamRecord>; scratch: number;
    scratchBytes: number; schedule: Schedule; clipGradNorm?: number; nonFinite: NonFinitePolicy;
    routing: Routing; rollback: boolean; asyncStep?: boolean;
  }) {
    this.gpu = init.backend.gpu;
    this.fallbackReason = init.backend.fallbackReason;
    this.asyncStep = init.asyncStep ?? !!(init.backend.pool || init.backend.gpu);
    this.routing = init.routing;
    this.rollback = init.rollback;
    this.scratchBytes = init.scratchBytes;
    this.pool = init.backend.pool;
    this.arena = init.arena;
    this.backend = init.backend.name;
    this.kernels = init.backend.kernels;
    this.groups = init.groups;
    this.records = init.records;
    this.scratch = init.scratch;
    this.threadScratch = this.allocThreadScratch(init.scratchBytes);
    this.schedule = init.schedule;
    this.clipGradNorm = init.clipGradNorm;
    this.nonFinite = init.nonFinite;
  }

  /** Steps applied so far (skipped steps are not counted). */
  get stepCount(): number {
    return this.t;
  }

  /** Steps skipped because of non-finite gradients. */
  get skippedSteps(): number {
    return this.skipped;
  }

  get paramNames(): string[] {
    return [...this.records.keys()];
  }

  shape(name: string): readonly number[] {
    return this.record(name).shape;
  }

  /** Which optimizer updates `name`, with which options. */
  groupOf(name: string): Group {
    return this.record(name).group;
  }

  private record(name: string): ParamRecord {
    const r = this.records.get(name);
    if (!r) {
      throw new FisheroptError('UNKNOWN_PARAM', `unknown parameter ${JSON.stringify(name)}; known: ${this.paramNames.join(', ')}`);
    }
    return r;
  }

  /** A zero-copy view of the parameter's values (valid until the arena grows; webgpu: the host mirror). */
  param(name: string): Float32Array {
    const r = this.record(name);
    this.checkHostCurrent('read parameters');
    return this.arena.f32(r.p, r.size);
  }

  /** A zero-copy view of the parameter's gradient: write gradients here before `step()`. */
  grad(name: string): Float32Array {
    const r = this.record(name);
    this.hostGrads = true;
    return this.arena.f32(r.g, r.size);
  }

  /** Zero-copy views of one parameter's optimizer state, by slot name. */
  state(name: string): Record<string, Float32Array> {
    const r = this.record(name);
    this.checkHostCurrent('read optimizer state');
    return Object.fromEntries(r.slotList.map((s) => [s.name, this.arena.f32(s.ptr, s.length)]));
  }

  private checkedCopies(values: Record<string, ArrayLike<number>>, what: 'parameter' | 'gradient', finite: boolean): [ParamRecord, ArrayLike<number>][] {
    if (values === null || typeof values !== 'object') throw new FisheroptError('BAD_VALUE', `${what}s must be an object of arrays by name`);
    return Object.entries(values).map(([name, data]) => {
      const r = this.record(name);
      if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number') {
        throw new FisheroptError('BAD_VALUE', `${what} ${JSON.stringify(name)}: expected an array of numbers, got ${describe(data)}`);
      }
      if (data.length !== r.size) {
        throw new FisheroptError('BAD_LENGTH', `${what} ${JSON.stringify(name)}: expected ${r.size} values for shape [${r.shape.join(', ')}], got ${data.length}`);
      }
      if (finite) checkFinite(what, name, data);
      return [r, data];
    });
  }

  /** Copy values into parameters (validated first: nothing changes on error). */
  setParams(values: Record<string, ArrayLike<number>>): void {
    this.checkIdle('set params');
    for (const [r, d] of this.checkedCopies(values, 'parameter', true)) {
      this.arena.f32(r.p, r.size).set(d);
      this.gpu?.upload(r.p, 4 * r.size);
    }
  }

  /** Copy gradients in (validated for names and lengths first: nothing changes on error). */
  setGrads(values: Record<string, ArrayLike<number>>): void {
    this.checkIdle('set gradients');
    for (const [r, d] of this.checkedCopies(values, 'gradient', false)) {
      this.arena.f32(r.g, r.size).set(d);
      this.gpu?.upload(r.g, 4 * r.size);
    }
  }

  /** Copies of all parameters. */
  getParams(): Record<string, Float32Array> {
    this.checkHostCurrent('read parameters');
    return Object.fromEntries([...this.records.values()].map((r) => [r.name, this.arena.f32(r.p, r.size).slice()]));
  }

  /**
   * Add parameters between steps, routed by the same rules. The arena grows when needed (views taken
   * before may be detached: take new ones with `param()` / `grad()`); each new parameter's optimizer
   * starts at its own step 1. Validation and the size check come first: on error nothing changes.
   */
  addParams(params: Record<string, ParamInit>): void {
    this.checkIdle('add parameters');
    this.checkHostCurrent('add parameters');
    const parsed = parseParams(params, new Set(this.records.keys()));
    const { main, rules, fallback } = this.routing;
    const fresh = route(parsed, main, rules, fallback);
    const plan = planParams(parsed, fresh);
    const extraScratch = plan.scratchBytes > this.scratchBytes ? plan.scratchBytes : 0;
    Arena.pagesFor(this.arena.used + plan.bytes(this.rollback) + this.threads * extraScratch + 16 * (3 * parsed.length + 8 + this.threads));
    const laid = layoutParams(this.arena, plan, this.t, this.rollback);
    if (extraScratch) {
      this.scratch = this.arena.alloc(extraScratch);
      this.scratchBytes = extraScratch;
      this.threadScratch = this.allocThreadScratch(extraScratch);
    }
    for (const g of fresh) {
      const key = JSON.stringify(g.options);
      const same = this.groups.find((x) => x.def === g.def && JSON.stringify(x.options) === key);
      const target = same ?? g;
      if (same) same.params.push(...g.params);
      else this.groups.push(g);
      for (const r of laid.records) if (g.params.includes(r.name)) this.records.set(r.name, { ...r, group: target });
    }
    this.gpu?.mirrorHost();
  }

  private allocThreadScratch(bytes: number): number[] {
    return Array.from({ length: this.threads - 1 }, () => this.arena.alloc(bytes));
  }

  zeroGrads(): void {
    for (const r of this.records.values()) {
      this.arena.f32(r.g, r.size).fill(0);
      this.gpu?.upload(r.g, 4 * r.size);
    }
  }

  /** The arena ranges [byte offset, bytes] of every parameter, gradient and state slot. */
  private ranges(): [number, number][] {
    return [...this.records.values()].flatMap((r) => [[r.p, 4 * r.size], [r.g, 4 * r.size], ...r.slotList.map((s): [number, number] => [s.ptr, 4 * s.length])]);
  }

  /**
   * webgpu: copy parameters, gradients and state from the device into the host arena (what `param()`,
   * `state()`, `getParams()` and `save()` read). Resolves at once on the other backends.
   */
  async download(): Promise<void> {
    this.checkIdle('download');
    if (!this.gpu) return;
    this.busy = true;
    try {
      await this.gpu.download(this.ranges());
      this.hostStale = false;
    } finally {
      this.busy = false;
    }
  }

  /** webgpu: copy parameters, gradients and state from the host arena to the device (after writing into views). */
  async upload(): Promise<void> {
    this.checkIdle('upload');
    if (!this.gpu) return;
    this.checkHostCurrent('upload');
    for (const [p, b] of this.ranges()) this.gpu.upload(p, b);
    await this.gpu.sync();
  }

  private checkHostCurrent(what: string): void {
    if (this.hostStale) {
      throw new FisheroptError('BAD_STATE', `cannot ${what}: the webgpu device has newer values than the host (await opt.download() first)`);
    }
  }

  /** Optimizer-state bytes of one parameter, or of all (the documented formula; scratch excluded). */
  stateBytes(name?: string): number {
    const bytes = (r: ParamRecord) => r.slotList.reduce((a, s) => a + 4 * s.length, 0);
    if (name !== undefined) return bytes(this.record(name));
    let total = 0;
    for (const r of this.records.values()) total += bytes(r);
    return total;
  }

  /** The lr factor the schedule gives the next step. */
  lrFactor(): number {
    return scheduleFactor(this.schedule, this.t);
  }

  /** Apply one update to every parameter from the gradients in the arena. */
  step(): S {
    this.checkIdle('step');
    if (this.pool) return this.stepPool() as S;
    if (this.gpu) return this.stepGpu() as S;
    const info = runStep(this.plan(), this.kernels, this.arena.memory, this.resolveDef);
    this.account(info);
    return (this.asyncStep ? Promise.resolve(info) : info) as S;
  }

  private readonly resolveDef = (name: string) => this.groups.find((g) => g.optimizer === name)!.def;

  private async stepGpu(): Promise<StepInfo> {
    const gpu = this.gpu!;
    if (this.hostGrads) for (const r of this.records.values()) gpu.upload(r.g, 4 * r.size);
    this.busy = true;
    try {
      const info = await runDeviceStep(this.plan(), gpu, this.kernels, this.resolveDef);
      if (!info.skipped) this.hostStale = true;
      this.account(info);
      return info;
    } finally {
      this.busy = false;
    }
  }

  private account(info: StepInfo): void {
    if (info.skipped) this.skipped++;
    else this.t = info.step;
  }

  private async stepPool(): Promise<StepInfo> {
    this.busy = true;
    try {
      const info = await this.pool!.step(this.plan());
      this.account(info);
      return info;
    } finally {
      this.busy = false;
    }
  }

  private checkIdle(what: string): void {
    if (this.closed) throw new FisheroptError('CLOSED', `cannot ${what}: the optimizer was closed`);
    if (this.busy) throw new FisheroptError('BAD_STATE', `cannot ${what} while a step is running (await the previous step)`);
  }

  /** Threads computing a step (1 except on `pool`). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Stop the pool's workers (the process can then exit); later calls fail with CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.close();
    this.gpu?.destroy();
  }

  async [Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose')](): Promise<void> {
    await this.close();
  }

  /** webgpu: record (never submit) the next step, so unsupported kernels or host reads throw now. */
  probeDeviceStep(): void {
    if (this.gpu) probeStep(this.plan(), this.gpu, this.kernels, this.resolveDef);
  }

  /** Test hook (pool only): a helper worker dies (`exit`) or throws (`throw`) in the next step. */
  injectFault(slot: number, mode: 'exit' | 'throw', at: 'any' | 'updates' = 'any'): void {
    if (!this.pool) throw new FisheroptError('BAD_STATE', 'injectFault needs the pool backend');
    this.pool.injectFault(slot, mode, at);
  }

  /** The step's description for the engine (pointers, shapes, names, options). */
  protected plan(): StepPlan {
    return {
      groups: this.groups.map((g) => ({
        optimizer: g.optimizer,
        options: g.options,
        params: g.params.map((n) => {
          const { name, shape, size, p, g: grad, slots, step0, save } = this.records.get(n)!;
          return save ? { name, shape, size, p, g: grad, slots, step0, save } : { name, shape, size, p, g: grad, slots, step0 };
        }),
      })),
      schedule: this.schedule,
      clipGradNorm: this.clipGradNorm,
      nonFinite: this.nonFinite,
      scratch: this.scratch,
      threadScratch: this.threadScratch,
      t: this.t,
    };
  }

  /**
   * The whole optimizer state as one blob: per-group optimizer and options, step counters, schedule,
   * parameter names and shapes, every state slot, and (default) the parameter values.
   */
  save(opts: { params?: boolean } = {}): Uint8Array {
    this.checkIdle('save state');
    this.checkHostCurrent('save state');
    const includesParams = opts.params ?? true;
    const recs = [...this.records.values()];
    const header: StateHeader = {
      format: 'fisheropt-state',
      version: FORMAT_VERSION,
      step: this.t,
      skippedSteps: this.skipped,
      schedule: this.schedule,
      includesParams,
      groups: this.groups.map((g) => ({ optimizer: g.optimizer, options: g.options, params: g.params })),
      params: recs.map((r) => ({ name: r.name, shape: [...r.shape], slots: r.slotList.map((s) => ({ name: s.name, length: s.length })), step0: r.step0 })),
    };
    const chunks: Float32Array[] = [];
    for (const r of recs) {
      if (includesParams) chunks.push(this.arena.f32(r.p, r.size));
      for (const s of r.slotList) chunks.push(this.arena.f32(s.ptr, s.length));
    }
    return encodeState(header, chunks);
  }

  /**
   * Restore a blob written by `save()` (by any backend). The blob must describe the same parameters
   * (names, shapes), the same optimizer per parameter and the same state layout; its hyperparameters,
   * step counters and schedule replace the current ones (as torch's load_state_dict does). On any
   * mismatch this throws and nothing changes.
   */
  load(blob: Uint8Array): void {
    this.checkIdle('load state');
    const { header, payload } = decodeState(blob);
    const bad = (msg: string) => new FisheroptError('BAD_STATE', `cannot load optimizer state: ${msg}`);
    const names = header.params.map((p) => p.name);
    const missing = this.paramNames.filter((n) => !names.includes(n));
    const extra = names.filter((n) => !this.records.has(n));
    if (missing.length || extra.length) {
      throw bad(`parameters differ (missing from the blob: [${missing.join(', ')}]; not in this optimizer: [${extra.join(', ')}])`);
    }
    const groupOfName = new Map<string, StateHeader['groups'][number]>();
    for (const g of header.groups) for (const n of g.params) groupOfName.set(n, g);
    for (const hp of header.params) {
      const r = this.records.get(hp.name)!;
      if (hp.shape.length !== r.shape.length || hp.shape.some((d, i) => d !== r.shape[i])) {
        throw bad(`parameter ${JSON.stringify(hp.name)} has shape [${hp.shape.join(', ')}] in the blob but [${r.shape.join(', ')}] here`);
      }
      const hg = groupOfName.get(hp.name);
      if (!hg || hg.optimizer !== r.group.optimizer) {
        throw bad(`parameter ${JSON.stringify(hp.name)} is updated by ${hg?.optimizer ?? 'nothing'} in the blob but by ${r.group.optimizer} here`);
      }
      const same = hp.slots.length === r.slotList.length && hp.slots.every((s, i) => s.name === r.slotList[i].name && s.length === r.slotList[i].length);
      if (!same) {
        throw bad(
          `parameter ${JSON.stringify(hp.name)} has state slots [${hp.slots.map((s) => `${s.name}:${s.length}`).join(', ')}] in the blob but [${r.slotList.map((s) => `${s.name}:${s.length}`).join(', ')}] here (different options such as momentum or amsgrad?)`,
        );
      }
    }
    // Groups: same partition of parameters; the blob's hyperparameters are adopted.
    const newOptions = new Map<Group, Options>();
    for (const g of this.groups) {
      const hg = groupOfName.get(g.params[0])!;
      const sameMembers = hg.params.length === g.params.length && g.params.every((n) => hg.params.includes(n));
      if (!sameMembers) throw bad(`the blob groups parameters differently (group of ${JSON.stringify(g.params[0])}: [${hg.params.join(', ')}] vs [${g.params.join(', ')}])`);
      let o: Options;
      try {
        o = resolveOptions(g.def.schema, hg.options, `${hg.optimizer} (from the blob)`);
      } catch (e) {
        throw bad((e as Error).message);
      }
      const err = g.def.validate?.(o);
      if (err) throw bad(err);
      newOptions.set(g, o);
    }
    const schedule = validateSchedule(header.schedule);
    if (!Number.isInteger(header.step) || header.step < 0) throw bad(`bad step counter ${JSON.stringify(header.step)}`);
    // Everything checked: write.
    let off = 0;
    for (const hp of header.params) {
      const r = this.records.get(hp.name)!;
      if (header.includesParams) {
        this.arena.f32(r.p, r.size).set(payload.subarray(off, off + r.size));
        off += r.size;
      }
      for (const s of r.slotList) {
        this.arena.f32(s.ptr, s.length).set(payload.subarray(off, off + s.length));
        off += s.length;
      }
    }
    for (const [g, o] of newOptions) Object.assign(g.options, o);
    for (const hp of header.params) {
      const r = this.records.get(hp.name)!;
      this.records.set(hp.name, { ...r, step0: Number.isInteger(hp.step0) && hp.step0! >= 0 ? hp.step0! : 0 });
    }
    this.t = header.step;
    this.skipped = header.skippedSteps ?? 0;
    this.schedule = schedule;
    if (this.gpu) {
      // What was written goes to the device; without parameters in the blob the device's stay.
      for (const r of this.records.values()) {
        if (header.includesParams) this.gpu.upload(r.p, 4 * r.size);
        for (const s of r.slotList) this.gpu.upload(s.ptr, 4 * s.length);
      }
      if (header.includesParams) this.hostStale = false;
    }
  }
}

interface Routing {
  main: { optimizer: string; options?: Options };
  rules: RouteRule[];
  fallback: FallbackConfig;
}

interface ParsedParam {
  name: string;
  shape: number[];
  size: number;
  data?: ArrayLike<number>;
}

/** Validate parameter declarations (names, shapes, lengths, finite data); nothing is allocated. */
function parseParams(params: Record<string, ParamInit>, existing: ReadonlySet<string> = new Set()): ParsedParam[] {
  if (params === null || typeof params !== 'object') throw new FisheroptError('BAD_OPTION', 'params must be an object of { shape, data? } by name');
  return Object.entries(params).map(([name, init]) => {
    if (name === '') throw new FisheroptError('BAD_SHAPE', 'parameter names must be non-empty');
    if (existing.has(name)) throw new FisheroptError('DUPLICATE_PARAM', `parameter ${JSON.stringify(name)} already exists`);
    if (init === null || typeof init !== 'object') throw new FisheroptError('BAD_SHAPE', `parameter ${JSON.stringify(name)}: expected { shape, data? }`);
    const shape = checkShape(name, init.shape);
    const size = numel(shape);
    if (init.data !== undefined) {
      if (typeof init.data?.length !== 'number' || init.data.length !== size) {
        throw new FisheroptError('BAD_LENGTH', `parameter ${JSON.stringify(name)}: expected ${size} values for shape [${shape.join(', ')}], got ${init.data?.length}`);
      }
      checkFinite('parameter', name, init.data);
    }
    return { name, shape, size, data: init.data };
  });
}

interface ParamPlan {
  params: (ParsedParam & { group: Group; slots: SlotSpec[] })[];
  paramBytes: number;
  stateBytes: number;
  scratchBytes: number;
  /** Arena bytes for params, grads, state, scratch and (with rollback) the rollback backups. */
  bytes(rollback: boolean): number;
}

function planParams(params: ParsedParam[], groups: readonly Group[]): ParamPlan {
  const groupOf = new Map<string, Group>();
  for (const g of groups) for (const n of g.params) groupOf.set(n, g);
  let scratchBytes = 0;
  const planned = params.map((p) => {
    const group = groupOf.get(p.name)!;
    scratchBytes = Math.max(scratchBytes, group.def.scratchBytes?.(p.shape, group.options) ?? 0);
    return { ...p, group, slots: group.def.slots(p.shape, group.options) };
  });
  const paramBytes = planned.reduce((a, p) => a + alignUp(4 * p.size), 0);
  const stateBytes = planned.reduce((a, p) => a + p.slots.reduce((x, sl) => x + alignUp(4 * sl.length), 0), 0);
  return {
    params: planned, paramBytes, stateBytes, scratchBytes,
    bytes: (rollback) => 2 * paramBytes + stateBytes + alignUp(scratchBytes) + (rollback ? paramBytes + stateBytes : 0),
  };
}

/**
 * Allocate and fill params (a contiguous block), grads, state slots (a contiguous block) and, with
 * rollback, the backups of the two blocks: each parameter's record names its own regions (its values,
 * its state slots) and their places in the backups. Grows the arena when needed (never during a step).
 */
function layoutParams(arena: Arena, plan: ParamPlan, step0: number, rollback: boolean): { records: ParamRecord[] } {
  Arena.pagesFor(arena.used + plan.bytes(rollback) + 16 * (3 * plan.params.length + 4));
  const ptrP = plan.params.map((p) => arena.alloc(4 * p.size));
  const ptrG = plan.params.map((p) => arena.alloc(4 * p.size));
  const stateStart = arena.used;
  const records = plan.params.map((p, i): ParamRecord => {
    const slotList = p.slots.map((sl) => ({ name: sl.name, length: sl.length, ptr: arena.alloc(4 * sl.length) }));
    const view = arena.f32(ptrP[i], p.size);
    if (p.data) view.set(p.data);
    else view.fill(0);
    arena.f32(ptrG[i], p.size).fill(0);
    for (const sl of slotList) arena.f32(sl.ptr, sl.length).fill(0);
    return {
      name: p.name, shape: p.shape, size: p.size, p: ptrP[i], g: ptrG[i], group: p.group, slotList, step0,
      slots: Object.fromEntries(slotList.map((sl) => [sl.name, sl.ptr])),
    };
  });
  if (!rollback) return { records };
  const backupP = plan.paramBytes ? arena.alloc(plan.paramBytes) : 0;
  const backupS = plan.stateBytes ? arena.alloc(plan.stateBytes) : 0;
  return {
    records: records.map((r) => {
      const save: SaveRange[] = [[r.p, r.size, backupP + (r.p - ptrP[0])]];
      if (r.slotList.length) {
        // The slots of one parameter are allocated one after the other: one region.
        const first = r.slotList[0], last = r.slotList[r.slotList.length - 1];
        save.push([first.ptr, (last.ptr + 4 * last.length - first.ptr) / 4, backupS + (first.ptr - stateStart)]);
      }
      return { ...r, save };
    }),
  };
}

interface CheckedConfig {
  backend: BackendChoice;
  isPool: boolean;
  nonFinite: NonFinitePolicy;
  clip: number | undefined;
  schedule: Schedule;
}

/** Validate the config's fields that need no routing (names, policies, schedule, backend, pool settings). */
function checkConfig(config: OptimizerConfig): CheckedConfig {
  if (config === null || typeof config !== 'object') throw new FisheroptError('BAD_OPTION', 'createOptimizer needs a config object');
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new FisheroptError('UNKNOWN_OPTION', `unknown config field ${JSON.stringify(key)}; known: ${CONFIG_KEYS.join(', ')}`);
    }
  }
  if (typeof config.optimizer !== 'string') throw new FisheroptError('BAD_OPTION', `config.optimizer must be an optimizer name, got ${describe(config.optimizer)}`);
  if (config.params === null || typeof config.params !== 'object') throw new FisheroptError('BAD_OPTION', 'config.params must be an object of { shape, data? } by name');
  const nonFinite = config.nonFinite ?? 'throw';
  if (!['throw', 'skip', 'ignore'].includes(nonFinite)) {
    throw new FisheroptError('BAD_OPTION', `nonFinite must be 'throw', 'skip' or 'ignore', got ${JSON.stringify(nonFinite)}`);
  }
  const clip = config.clipGradNorm;
  if (clip !== undefined && !(typeof clip === 'number' && clip > 0 && Number.isFinite(clip))) {
    throw new FisheroptError('BAD_OPTION', `clipGradNorm must be a positive finite number, got ${JSON.stringify(clip)}`);
  }
  const schedule = validateSchedule(config.schedule);
  const backend = config.backend ?? 'auto';
  checkBackend(backend);
  const isPool = backend === 'pool';
  if (config.threads !== undefined && (!isPool || !Number.isInteger(config.threads) || config.threads < 1)) {
    throw new FisheroptError('BAD_OPTION', isPool ? `threads must be a positive integer, got ${JSON.stringify(config.threads)}` : `threads applies to the pool backend only (backend is ${JSON.stringify(backend)})`);
  }
  if (config.rollback !== undefined && (!isPool || typeof config.rollback !== 'boolean')) {
    throw new FisheroptError('BAD_OPTION', isPool ? `rollback must be true or false, got ${JSON.stringify(config.rollback)}` : `rollback applies to the pool backend only (backend is ${JSON.stringify(backend)})`);
  }
  return { backend, isPool, nonFinite, clip, schedule };
}

/** Route and plan the parameters, create and fill the arena; the backend comes next (`finish`). */
function prepare(config: OptimizerConfig, checked: CheckedConfig, threads: number) {
  const rollback = checked.isPool && (config.rollback ?? true);
  const params = parseParams(config.params);
  const routing: Routing = { main: { optimizer: config.optimizer, options: config.options }, rules: config.rules ?? [], fallback: config.fallback ?? {} };
  const groups = route(params, routing.main, routing.rules, routing.fallback);
  const plan = planParams(params, groups);
  const arena = new Arena({ initialBytes: plan.bytes(rollback) + (threads - 1) * (GEMM_SCRATCH_BYTES + alignUp(plan.scratchBytes) + 16), shared: checked.isPool });
  const laid = layoutParams(arena, plan, 0, rollback);
  const scratch = arena.alloc(plan.scratchBytes);
  new Uint8Array(arena.buffer, scratch, alignUp(plan.scratchBytes)).fill(0);
  const helperScratch = Array.from({ length: threads - 1 }, () => arena.alloc(GEMM_SCRATCH_BYTES));
  const finish = <S extends StepInfo | Promise<StepInfo>>(backend: Backend) => new Optimizer<S>({
    arena, backend, groups, records: new Map(laid.records.map((r) => [r.name, r])), scratch, scratchBytes: plan.scratchBytes,
    schedule: checked.schedule, clipGradNorm: checked.clip, nonFinite: checked.nonFinite, routing, rollback,
    asyncStep: checked.isPool || checked.backend === 'webgpu',
  });
  return { arena, helperScratch, finish };
}

/** Build an optimizer: validate everything, route parameters, plan and fill the arena, load the backend. */
export async function createOptimizer(config: OptimizerConfig & { backend: 'pool' | 'webgpu' }): Promise<Optimizer<Promise<StepInfo>>>;
export async function createOptimizer(config: OptimizerConfig & { backend?: 'ref' | 'wasm' | 'auto' }): Promise<Optimizer<StepInfo>>;
export async function createOptimizer(config: OptimizerConfig): Promise<Optimizer<StepInfo | Promise<StepInfo>>>;
export async function createOptimizer(config: OptimizerConfig): Promise<Optimizer<StepInfo | Promise<StepInfo>>> {
  const checked = checkConfig(config);
  const threads = checked.isPool ? (config.threads ?? (await import('./backends/pool/index.js')).defaultThreads()) : 1;
  const { arena, helperScratch, finish } = prepare(config, checked, threads);
  const backend = await createBackend(checked.backend, arena, config.wasm, checked.isPool ? { threads, helperScratch } : undefined);
  const opt = finish(backend);
  if (backend.gpu) {
    // Record the first step without submitting it, so an optimizer that cannot run on the device fails here.
    try {
      opt.probeDeviceStep();
    } catch (e) {
      await opt.close();
      throw e;
    }
  }
  if (backend.fallbackReason) console.warn(`fisheropt: ${backend.fallbackReason}`);
  return opt;
}

/**
 * Build an optimizer without awaiting, on a backend that needs no loading: `ref`, or `wasm` with
 * `config.wasm` set to a compiled `WebAssembly.Module` (`await loadWasmModule()` once, beforehand). For
 * code that cannot await at that point, such as a framework's synchronous optimizer hook. `auto` and
 * `pool` need `createOptimizer`.
 */
export function createOptimizerSync(config: OptimizerConfig & { backend: 'ref' | 'wasm' }): Optimizer<StepInfo> {
  const checked = checkConfig(config);
  if (checked.backend !== 'ref' && checked.backend !== 'wasm') {
    throw new FisheroptError('BAD_OPTION', `createOptimizerSync needs backend 'ref' or 'wasm', got ${JSON.stringify(checked.backend)} (use createOptimizer for 'auto', 'pool' and 'webgpu')`);
  }
  if (checked.backend === 'wasm' && !(config.wasm instanceof WebAssembly.Module)) {
    throw new FisheroptError('BAD_OPTION', `createOptimizerSync with backend 'wasm' needs config.wasm to be a compiled WebAssembly.Module (from await loadWasmModule()), got ${describe(config.wasm)}`);
  }
  const { arena, finish } = prepare(config, checked, 1);
  return finish<StepInfo>(createBackendSync(checked.backend, arena, config.wasm as WebAssembly.Module | undefined));
}
