/**
 * The optimizer API over named parameters. `createOptimizer()` routes parameters to optimizers, plans
 * the arena (params, grads, state, scratch), loads the backend, and returns an `Optimizer` whose
 * `step()` applies one update in place.
 */
import { alignUp, Arena } from './arena.js';
import { checkBackend, createBackend, type Backend, type BackendChoice } from './backends/index.js';
import { GEMM_SCRATCH_BYTES } from './kernels/gemm.js';
import type { WasmSource } from './backends/wasm.js';
import { runStep, type NonFinitePolicy, type StepInfo, type StepPlan } from './engine.js';
import { FisheroptError } from './errors.js';

export type { NonFinitePolicy, StepInfo } from './engine.js';
import { numel, type ParamRef } from './optimizers/types.js';
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
   * `auto` (default: wasm when it loads, else ref), `wasm`, `ref`, or `pool` (Node: a worker pool over
   * shared memory; its `step()` returns a promise; call `close()` when done).
   */
  backend?: BackendChoice;
  /** `pool`: threads computing a step (default: available cores). */
  threads?: number;
  /**
   * `pool`: snapshot params and state at the start of every step so a failed step (a worker that dies)
   * leaves them exactly as before (default true; costs one copy of params and state per step and the
   * same memory again).
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
 * backends, `Promise<StepInfo>` on `pool` (`await opt.step()` is right for both).
 */
export class Optimizer<S extends StepInfo | Promise<StepInfo> = StepInfo> {
  readonly arena: Arena;
  readonly backend: Backend['name'];
  readonly groups: readonly Group[];
  readonly clipGradNorm: number | undefined;
  readonly nonFinite: NonFinitePolicy;
  private schedule: Schedule;
  private readonly kernels: Backend['kernels'];
  private readonly records: Map<string, ParamRecord>;
  private readonly scratch: number;
  private t = 0;
  private skipped = 0;
  private readonly pool: Backend['pool'];
  private readonly snapshot: [number, number, number][];
  private busy = false;
  private closed = false;

  /** Use `createOptimizer()`. */
  constructor(init: {
    arena: Arena; backend: Backend; groups: Group[]; records: Map<string, ParamRecord>; scratch: number;
    schedule: Schedule; clipGradNorm?: number; nonFinite: NonFinitePolicy; snapshot?: [number, number, number][];
  }) {
    this.pool = init.backend.pool;
    this.snapshot = init.snapshot ?? [];
    this.arena = init.arena;
    this.backend = init.backend.name;
    this.kernels = init.backend.kernels;
    this.groups = init.groups;
    this.records = init.records;
    this.scratch = init.scratch;
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

  /** A zero-copy view of the parameter's values (valid until the arena grows). */
  param(name: string): Float32Array {
    const r = this.record(name);
    return this.arena.f32(r.p, r.size);
  }

  /** A zero-copy view of the parameter's gradient: write gradients here before `step()`. */
  grad(name: string): Float32Array {
    const r = this.record(name);
    return this.arena.f32(r.g, r.size);
  }

  /** Zero-copy views of one parameter's optimizer state, by slot name. */
  state(name: string): Record<string, Float32Array> {
    const r = this.record(name);
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
    for (const [r, d] of this.checkedCopies(values, 'parameter', true)) this.arena.f32(r.p, r.size).set(d);
  }

  /** Copy gradients in (validated for names and lengths first: nothing changes on error). */
  setGrads(values: Record<string, ArrayLike<number>>): void {
    this.checkIdle('set gradients');
    for (const [r, d] of this.checkedCopies(values, 'gradient', false)) this.arena.f32(r.g, r.size).set(d);
  }

  /** Copies of all parameters. */
  getParams(): Record<string, Float32Array> {
    return Object.fromEntries([...this.records.values()].map((r) => [r.name, this.arena.f32(r.p, r.size).slice()]));
  }

  zeroGrads(): void {
    for (const r of this.records.values()) this.arena.f32(r.g, r.size).fill(0);
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
    const info = runStep(this.plan(), this.kernels, this.arena.memory, (name) => this.groups.find((g) => g.optimizer === name)!.def);
    this.account(info);
    return info as S;
  }

  private account(info: StepInfo): void {
    if (info.skipped) this.skipped++;
    else this.t = info.step;
  }

  private async stepPool(): Promise<StepInfo> {
    this.busy = true;
    try {
      const info = await this.pool!.step(this.plan(), this.snapshot);
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
  }

  async [Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose')](): Promise<void> {
    await this.close();
  }

  /** Test hook (pool only): a helper worker dies (`exit`) or throws (`throw`) in the next step. */
  injectFault(slot: number, mode: 'exit' | 'throw'): void {
    if (!this.pool) throw new FisheroptError('BAD_STATE', 'injectFault needs the pool backend');
    this.pool.injectFault(slot, mode);
  }

  /** The step's description for the engine (pointers, shapes, names, options). */
  protected plan(): StepPlan {
    return {
      groups: this.groups.map((g) => ({
        optimizer: g.optimizer,
        options: g.options,
        params: g.params.map((n) => {
          const { name, shape, size, p, g: grad, slots } = this.records.get(n)!;
          return { name, shape, size, p, g: grad, slots };
        }),
      })),
      schedule: this.schedule,
      clipGradNorm: this.clipGradNorm,
      nonFinite: this.nonFinite,
      scratch: this.scratch,
      t: this.t,
    };
  }

  /**
   * The whole optimizer state as one blob: per-group optimizer and options, step counters, schedule,
   * parameter names and shapes, every state slot, and (default) the parameter values.
   */
  save(opts: { params?: boolean } = {}): Uint8Array {
    this.checkIdle('save state');
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
      params: recs.map((r) => ({ name: r.name, shape: [...r.shape], slots: r.slotList.map((s) => ({ name: s.name, length: s.length })) })),
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
    this.t = header.step;
    this.skipped = header.skippedSteps ?? 0;
    this.schedule = schedule;
  }
}

/** Build an optimizer: validate everything, route parameters, plan and fill the arena, load the backend. */
export async function createOptimizer(config: OptimizerConfig & { backend: 'pool' }): Promise<Optimizer<Promise<StepInfo>>>;
export async function createOptimizer(config: OptimizerConfig & { backend?: 'ref' | 'wasm' | 'auto' }): Promise<Optimizer<StepInfo>>;
export async function createOptimizer(config: OptimizerConfig): Promise<Optimizer<StepInfo | Promise<StepInfo>>>;
export async function createOptimizer(config: OptimizerConfig): Promise<Optimizer<StepInfo | Promise<StepInfo>>> {
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
  const backendChoice = config.backend ?? 'auto';
  checkBackend(backendChoice);
  const isPool = backendChoice === 'pool';
  if (config.threads !== undefined && (!isPool || !Number.isInteger(config.threads) || config.threads < 1)) {
    throw new FisheroptError('BAD_OPTION', isPool ? `threads must be a positive integer, got ${JSON.stringify(config.threads)}` : `threads applies to the pool backend only (backend is ${JSON.stringify(backendChoice)})`);
  }
  if (config.rollback !== undefined && (!isPool || typeof config.rollback !== 'boolean')) {
    throw new FisheroptError('BAD_OPTION', isPool ? `rollback must be true or false, got ${JSON.stringify(config.rollback)}` : `rollback applies to the pool backend only (backend is ${JSON.stringify(backendChoice)})`);
  }
  const threads = isPool ? (config.threads ?? (await import('./backends/pool/index.js')).defaultThreads()) : 1;
  const rollback = isPool && (config.rollback ?? true);

  const params = Object.entries(config.params).map(([name, init]) => {
    if (name === '') throw new FisheroptError('BAD_SHAPE', 'parameter names must be non-empty');
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
  const groups = route(params, { optimizer: config.optimizer, options: config.options }, config.rules, config.fallback);
  const groupOf = new Map<string, Group>();
  for (const g of groups) for (const n of g.params) groupOf.set(n, g);

  // Plan the arena: params, grads, then every state slot, then scratch.
  let bytes = 0;
  let scratchBytes = 0;
  const plan = params.map((p) => {
    const g = groupOf.get(p.name)!;
    const slots = g.def.slots(p.shape, g.options);
    scratchBytes = Math.max(scratchBytes, g.def.scratchBytes?.(p.shape, g.options) ?? 0);
    bytes += 2 * alignUp(4 * p.size) + slots.reduce((a, s) => a + alignUp(4 * s.length), 0);
    return { ...p, group: g, slots };
  });
  bytes += alignUp(scratchBytes);
  const paramBytes = plan.reduce((a, p) => a + alignUp(4 * p.size), 0);
  const stateBytes = bytes - alignUp(scratchBytes) - 2 * paramBytes;
  if (isPool) bytes += (threads - 1) * GEMM_SCRATCH_BYTES + (rollback ? paramBytes + stateBytes : 0);
  const arena = new Arena({ initialBytes: bytes, shared: isPool });
  const ptrP = plan.map((p) => arena.alloc(4 * p.size));
  const ptrG = plan.map((p) => arena.alloc(4 * p.size));
  const records = new Map<string, ParamRecord>();
  const stateStart = arena.used;
  plan.forEach((p, i) => {
    const slotList = p.slots.map((s) => ({ name: s.name, length: s.length, ptr: arena.alloc(4 * s.length) }));
    const view = arena.f32(ptrP[i], p.size);
    if (p.data) view.set(p.data);
    else view.fill(0);
    arena.f32(ptrG[i], p.size).fill(0);
    for (const s of slotList) arena.f32(s.ptr, s.length).fill(0);
    records.set(p.name, {
      name: p.name, shape: p.shape, size: p.size, p: ptrP[i], g: ptrG[i], group: p.group, slotList,
      slots: Object.fromEntries(slotList.map((s) => [s.name, s.ptr])),
    });
  });
  const scratch = arena.alloc(scratchBytes);
  new Uint8Array(arena.buffer, scratch, alignUp(scratchBytes)).fill(0);
  const helperScratch = Array.from({ length: threads - 1 }, () => arena.alloc(GEMM_SCRATCH_BYTES));
  // Snapshot regions: [source, floats, backup] for the params block and the state block.
  const snapshot: [number, number, number][] = [];
  if (rollback) {
    if (paramBytes) snapshot.push([ptrP[0] ?? 0, paramBytes / 4, arena.alloc(paramBytes)]);
    if (stateBytes) snapshot.push([stateStart, stateBytes / 4, arena.alloc(stateBytes)]);
  }

  const backend = await createBackend(backendChoice, arena, config.wasm, isPool ? { threads, helperScratch } : undefined);
  return new Optimizer({ arena, backend, groups, records, scratch, schedule, clipGradNorm: clip, nonFinite, snapshot });
}
