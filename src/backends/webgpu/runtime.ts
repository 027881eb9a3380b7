/// <reference types="@webgpu/types" />
/**
 * The device side of the WebGPU backend: a device arena (one storage buffer as large as the host
 * arena, tensors at the same byte offsets), a status buffer, a pipeline cache and a recorder.
 *
 * Kernel calls do not run when called: each records one dispatch (its pipeline and its parameters,
 * packed into a 256-byte slot of a uniform buffer). `submit()` encodes everything recorded into one
 * command encoder with one compute pass (dispatches in a pass see each other's writes in order) and
 * submits it; `sync()` waits for it and turns WebGPU errors into FisheroptError. Pipeline creation and
 * submission run inside validation and out-of-memory error scopes. Transfers: `upload()` copies a
 * range of the host arena to the same range of the device arena (after submitting what is recorded,
 * so it lands after those kernels); `download()` the other way.
 *
 * Inside a step, the host mirror (the host arena) is made current region by region where an optimizer
 * reads arena values on the host (`hostRead`: a readback, by replay), and host writes (`hostWrite`,
 * also the outputs of the host decompositions) are recorded as copies into the device arena between
 * the dispatches, in the same command encoder. `stats` counts readbacks, uploads and host kernels.
 */
import { FisheroptError } from '../../errors.js';
import { SHADERS, WG, wgslSource, type ShaderName } from './shaders.js';

// WebGPU flag values (spec constants; the Node package does not install the browser globals).
const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
const MAP_READ = 1;
const COMPUTE = 4;
const SLOT = 256;
/** Words of the status buffer before the gradient-check partials. */
export const STATUS_WORDS = 16;

/** A byte range [ptr, ptr + bytes) of the arena (4-byte aligned). */
export type Region = readonly [ptr: number, bytes: number];

/**
 * Readbacks inside a step, by replay: the step is recorded again from the start after each readback
 * (a host scalar, or arena regions made current on the host), with the dispatches and uploads already
 * submitted skipped and the values already read returned from `memo`. Optimizer steps are
 * deterministic functions of their kernels' results, so each pass records the same work up to the
 * next unknown value.
 */
export interface Replay {
  /** Dispatches and uploads (recorded or skipped) in this pass so far. */
  seen: number;
  /** Dispatches and uploads submitted in earlier passes: skipped in this one. */
  skip: number;
  /** What was read back so far, in call order: a scalar, or the bytes of each region read. */
  readonly memo: (number | Uint8Array[])[];
  /** Readback calls in this pass so far. */
  calls: number;
  /** Probe (record, never submit): scalars are 1, host reads see the host arena as it is. */
  readonly probe: boolean;
  /** Whether the step's kernels are gated by a gradient check (host writes then wait for its verdict). */
  readonly gated: boolean;
  /** Regions where the host mirror equals the device arena since the last dispatch (reset each pass). */
  fresh: Region[];
  /** Host decompositions run in earlier passes, in call order: their status and output bytes. */
  readonly hostDone: { readonly status: number; readonly data: readonly Uint8Array[] }[];
  /** Host decompositions reached in this pass so far. */
  hostCalls: number;
}

/** Thrown inside a step when a value must be read back; the step runner catches it. */
export class NeedReadback extends Error {
  /** Arena regions to copy back with the status (none for a host scalar, which is in the status). */
  constructor(readonly regions: readonly Region[]) {
    super('a readback is needed (caught by the webgpu step runner)');
  }
}

/** A host scalar's reduction (see `scalarPartial`): which terms are summed (or maxed). */
export const ScalarMode = {
  SUMSQ: 0, MAX_ABS: 1, DOT: 2, ADAFACTOR_VEC: 3, RACS_NORM: 4, ADAFACTOR_FACTORED: 5, RACS_SCALED: 6,
} as const;

/** Operands of a host scalar (f32 indices; `cols` and the f32 constants only where the mode uses them). */
export interface ScalarArgs {
  readonly x: number;
  readonly y?: number;
  readonly c?: number;
  readonly n: number;
  readonly cols?: number;
  readonly a?: number;
  readonly b?: number;
}

/** What the runtime did, counted since it was created (tests and benchmarks take differences). */
export interface RuntimeStats {
  /** Submissions whose results the host waited for and read (status, scalars, regions, downloads). */
  readbacks: number;
  /** Host-to-device uploads inside steps (one per `hostWrite` or host decomposition, of one or more regions). */
  uploads: number;
  uploadBytes: number;
  /** Host decompositions run (once per call in a step, whatever the number of replay passes). */
  hostKernels: number;
}

/** The aligned hull of a region. */
const aligned = ([p, b]: Region): Region => [p & ~3, ((p + b + 3) & ~3) - (p & ~3)];

/** Dispatches one host scalar records (`scalarPartial`, `scalarFinal`). */
const SCALAR_DISPATCHES = 2;
/** Most workgroups of a scalar's first stage. */
const SCALAR_GROUPS = 64;

interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly groups: readonly [number, number];
  readonly params: ArrayBuffer;
}

/** Host bytes copied into the device arena regions (`data` holds them back to back), in order with the dispatches. */
interface Upload {
  readonly regions: readonly Region[];
  readonly data: Uint8Array;
}

export class GpuRuntime {
  private arenaBuf: GPUBuffer;
  private status: GPUBuffer;
  private statusWords: number;
  private uniforms: GPUBuffer;
  private uniformSlots = 64;
  private bindGroup: GPUBindGroup | undefined;
  private readonly layout: GPUBindGroupLayout;
  private readonly pipelineLayout: GPUPipelineLayout;
  private readonly pipelines = new Map<ShaderName, GPUComputePipeline>();
  private pending: (Dispatch | Upload)[] = [];
  readonly stats: RuntimeStats = { readbacks: 0, uploads: 0, uploadBytes: 0, hostKernels: 0 };
  /** Error scopes not yet settled, and the first WebGPU error they reported (thrown by the next call). */
  private readonly scopes = new Set<Promise<void>>();
  private firstError: string | undefined;
  /** The device's completion of the work submitted by the previous `throttle()` call. */
  private previousDone: Promise<unknown> = Promise.resolve();
  private lost: string | undefined;
  private destroyed = false;
  /** Set while a step is recorded (host scalars are possible only then). */
  replay: Replay | undefined;

  constructor(readonly device: GPUDevice, readonly description: string, private readonly memory: WebAssembly.Memory) {
    device.lost.then((info) => {
      this.lost = `the WebGPU device was lost (${info.reason}: ${info.message || 'no message'})`;
    });
    this.layout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: COMPUTE, buffer: { type: 'storage' } },
        { binding: 1, visibility: COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: SLOT } },
        { binding: 2, visibility: COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    this.pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
    this.arenaBuf = this.createArena(memory.buffer.byteLength);
    this.statusWords = STATUS_WORDS + 2 * 1024;
    this.status = this.createStatus(this.statusWords);
    this.uniforms = this.createUniforms(this.uniformSlots);
    this.upload(0, memory.buffer.byteLength);
  }

  /** Bytes of the device arena. */
  get arenaBytes(): number {
    return this.arenaBuf.size;
  }

  /** The host arena's bytes. */
  get hostBuffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  get maxGroups(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  private check(): void {
    if (this.lost) throw new FisheroptError('DEVICE_LOST', this.lost);
    if (this.destroyed) throw new FisheroptError('CLOSED', 'the WebGPU backend was closed');
    const err = this.firstError;
    if (err !== undefined) {
      this.firstError = undefined;
      throw new FisheroptError('DEVICE_ERROR', `WebGPU error: ${err}`);
    }
  }

  private buffer(size: number, usage: number, label: string): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const b = this.device.createBuffer({ size, usage, label });
    this.watch(this.device.popErrorScope());
    return b;
  }

  private createArena(bytes: number): GPUBuffer {
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > max) {
      throw new FisheroptError('ARENA_TOO_LARGE', `the arena needs ${bytes} bytes but this WebGPU device binds at most ${max} bytes in one storage buffer (maxStorageBufferBindingSize)`);
    }
    return this.buffer(bytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, 'fisheropt arena');
  }

  private createStatus(words: number): GPUBuffer {
    return this.buffer(4 * words, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, 'fisheropt status');
  }

  private createUniforms(slots: number): GPUBuffer {
    return this.buffer(slots * SLOT, USAGE.UNIFORM | USAGE.COPY_DST, 'fisheropt kernel parameters');
  }

  /** Make the status buffer hold `words` words (its contents are per step; it is not preserved). */
  ensureStatus(words: number): void {
    if (words <= this.statusWords) return;
    this.submit();
    this.status.destroy();
    this.statusWords = Math.max(words, 2 * this.statusWords);
    this.status = this.createStatus(this.statusWords);
    this.bindGroup = undefined;
  }

  /** Follow the host arena (e.g. after it grew): a device arena of its size with its whole contents. */
  mirrorHost(): void {
    this.check();
    const bytes = this.memory.buffer.byteLength;
    this.submit();
    if (bytes !== this.arenaBuf.size) {
      const next = this.createArena(bytes);
      this.arenaBuf.destroy();
      this.arenaBuf = next;
      this.bindGroup = undefined;
    }
    this.upload(0, bytes);
  }

  private pipeline(name: ShaderName): GPUComputePipeline {
    let p = this.pipelines.get(name);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code: wgslSource(SHADERS[name]), label: name });
      p = this.device.createComputePipeline({ layout: this.pipelineLayout, compute: { module, entryPoint: 'main' }, label: name });
      const scope = this.device.popErrorScope();
      this.watch(scope, `pipeline ${name}: `);
      this.pipelines.set(name, p);
    }
    return p;
  }

  /**
   * Record one dispatch of `name` with its parameters in field order (u32 fields take pointers as f32
   * indices, counts and flags; f32 fields are rounded to f32) over `groups` workgroups.
   */
  record(name: ShaderName, values: readonly number[], groups: readonly [number, number], writesArena = true): void {
    this.check();
    const def = SHADERS[name];
    if (values.length !== def.fields.length) throw new Error(`shader ${name}: ${values.length} values for ${def.fields.length} fields`);
    if (this.replay) {
      if (writesArena) this.replay.fresh = [];
      if (this.replay.seen++ < this.replay.skip) return;
    }
    const params = new ArrayBuffer(SLOT);
    const u = new Uint32Array(params), f = new Float32Array(params);
    def.fields.forEach(([, t], i) => {
      if (t === 'u') u[i] = values[i] >>> 0;
      else f[i] = values[i];
    });
    this.pending.push({ pipeline: this.pipeline(name), groups, params });
  }

  /** The current step's replay state; host scalars and host reads exist only inside a step. */
  private inStep(kernel: string, what: string): Replay {
    const r = this.replay;
    if (!r) {
      throw new FisheroptError('BACKEND_UNAVAILABLE', `kernel ${kernel} is not available on the webgpu backend outside an optimizer step: it ${what}, which cannot wait for the device synchronously`);
    }
    return r;
  }

  /**
   * A host scalar of f32 data (see `ScalarMode`), summed in f32 on the device. Inside a step: the value
   * read back in an earlier pass, or a recorded reduction and NeedReadback. Outside a step the host
   * cannot wait for the device synchronously: BACKEND_UNAVAILABLE.
   */
  scalar(kernel: string, mode: number, a: ScalarArgs): number {
    const r = this.inStep(kernel, 'returns a value to the host');
    if (a.n <= 0) return 0;
    const i = r.calls++;
    if (i < r.memo.length) {
      r.seen += SCALAR_DISPATCHES;
      return r.memo[i] as number;
    }
    if (r.probe) return 1;
    const groups = Math.min(this.groupsFor(a.n)[0], SCALAR_GROUPS);
    this.record('scalarPartial', [a.x, a.y ?? 0, a.c ?? 0, a.n, a.cols ?? 1, mode, a.a ?? 0, a.b ?? 0], [groups, 1], false);
    this.record('scalarFinal', [groups, mode], [1, 1], false);
    throw new NeedReadback([]);
  }

  /**
   * Make arena regions current in the host mirror, inside a step: nothing to do where the host already
   * has them (written by the host since the last dispatch), else the bytes read back in an earlier pass
   * are put back, or the step so far is submitted and read back (NeedReadback). The probe reads nothing.
   */
  hostRead(kernel: string, regions: readonly Region[]): void {
    const r = this.inStep(kernel, 'reads arena values on the host');
    const want = regions.filter(([, b]) => b > 0).map(aligned);
    if (want.length && want.every(([p, b]) => r.fresh.some(([q, c]) => q <= p && p + b <= q + c))) return;
    const i = r.calls++;
    if (i < r.memo.length) {
      const data = r.memo[i] as Uint8Array[];
      want.forEach(([p, b], j) => new Uint8Array(this.memory.buffer, p, b).set(data[j]));
      r.fresh.push(...want);
      return;
    }
    if (r.probe) return;
    throw new NeedReadback(want);
  }

  /**
   * Inside a step: write f32 values into the host mirror at `ptr` and record their copy into the device
   * arena after the dispatches recorded so far. In a gated step the first host write of a pass waits
   * for the gradient check's verdict (a readback), as copies are not gated. The probe writes nothing.
   */
  hostWrite(kernel: string, ptr: number, values: ArrayLike<number>): void {
    const r = this.inStep(kernel, 'writes arena values from the host');
    if (r.probe || !values.length) return;
    if (r.gated && r.calls === 0) this.hostRead(kernel, []);
    new Float32Array(this.memory.buffer, ptr, values.length).set(values);
    this.recordUpload([[ptr, 4 * values.length]]);
  }

  /**
   * A decomposition on the host kernels, inside a step: its input regions are made current in the host
   * mirror (`hostRead`), `run` works on the host mirror, and on success its output regions are recorded
   * as one upload. A later pass of the same step puts back the outputs of the first run instead of
   * running it again. The probe runs nothing (status 0).
   */
  hostKernel(kernel: string, inputs: readonly Region[], outputs: readonly Region[], run: () => number): number {
    this.hostRead(kernel, inputs);
    const r = this.replay!;
    if (r.probe) return 0;
    const j = r.hostCalls++;
    let done = r.hostDone[j];
    const outs = outputs.map(aligned).filter(([, b]) => b > 0);
    if (done) {
      outs.forEach(([p, b], i) => new Uint8Array(this.memory.buffer, p, b).set(done!.data[i]));
    } else {
      const status = run();
      this.stats.hostKernels++;
      done = { status, data: outs.map(([p, b]) => new Uint8Array(this.memory.buffer, p, b).slice()) };
      r.hostDone[j] = done;
    }
    if (done.status === 0) this.recordUpload(outs);
    return done.status;
  }

  /** Record one copy of host mirror regions into the device arena (inside a step); they are then fresh on both sides. */
  recordUpload(regions: readonly Region[]): void {
    const r = this.replay!;
    const list = regions.map(aligned).filter(([, b]) => b > 0);
    if (!list.length) return;
    r.fresh.push(...list);
    if (r.seen++ < r.skip) return;
    const data = new Uint8Array(list.reduce((a, [, b]) => a + b, 0));
    let off = 0;
    for (const [p, b] of list) {
      data.set(new Uint8Array(this.memory.buffer, p, b), off);
      off += b;
    }
    this.pending.push({ regions: list, data });
  }

  /** Workgroups for a grid-stride pass over `count` items, `per` items per workgroup. */
  groupsFor(count: number, per = WG): [number, number] {
    return [Math.max(1, Math.min(Math.ceil(count / per), this.maxGroups)), 1];
  }

  /** Forget what was recorded and not submitted (a step that failed while recording). */
  discard(): void {
    this.pending = [];
  }

  get recorded(): number {
    return this.pending.length;
  }

  /**
   * Submit everything recorded as one command buffer: runs of dispatches as compute passes (dispatches
   * in a pass see each other's writes in order), uploads as buffer copies between them. Then, with
   * `read`, copy the first `read.statusBytes` bytes of the status buffer and then each of `read.regions`
   * of the arena, back to back, into `read.into`.
   */
  submit(read?: { into: GPUBuffer; statusBytes: number; regions?: readonly Region[] }): void {
    this.check();
    if (!this.pending.length && !read) return;
    const dispatches = this.pending.filter((d): d is Dispatch => 'pipeline' in d);
    const n = dispatches.length;
    if (n > this.uniformSlots) {
      this.uniforms.destroy();
      while (this.uniformSlots < n) this.uniformSlots *= 2;
      this.uniforms = this.createUniforms(this.uniformSlots);
      this.bindGroup = undefined;
    }
    if (n) {
      const all = new Uint8Array(n * SLOT);
      dispatches.forEach((d, i) => all.set(new Uint8Array(d.params), i * SLOT));
      this.device.queue.writeBuffer(this.uniforms, 0, all);
    }
    this.bindGroup ??= this.device.createBindGroup({
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: this.arenaBuf } },
        { binding: 1, resource: { buffer: this.uniforms, size: SLOT } },
        { binding: 2, resource: { buffer: this.status } },
      ],
    });
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const enc = this.device.createCommandEncoder();
    const sources: GPUBuffer[] = [];
    let pass: GPUComputePassEncoder | undefined;
    let slot = 0;
    for (const d of this.pending) {
      if ('pipeline' in d) {
        pass ??= enc.beginComputePass();
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, this.bindGroup!, [slot++ * SLOT]);
        pass.dispatchWorkgroups(d.groups[0], d.groups[1]);
        continue;
      }
      pass?.end();
      pass = undefined;
      const src = this.device.createBuffer({ size: d.data.byteLength, usage: USAGE.COPY_SRC, mappedAtCreation: true, label: 'fisheropt upload' });
      new Uint8Array(src.getMappedRange()).set(d.data);
      src.unmap();
      let off = 0;
      for (const [p, b] of d.regions) {
        enc.copyBufferToBuffer(src, off, this.arenaBuf, p, b);
        off += b;
      }
      sources.push(src);
      this.stats.uploads++;
      this.stats.uploadBytes += d.data.byteLength;
    }
    pass?.end();
    if (read) {
      enc.copyBufferToBuffer(this.status, 0, read.into, 0, read.statusBytes);
      let off = read.statusBytes;
      for (const [p, b] of read.regions ?? []) {
        enc.copyBufferToBuffer(this.arenaBuf, p, read.into, off, b);
        off += b;
      }
    }
    this.device.queue.submit([enc.finish()]);
    for (const b of sources) b.destroy();
    this.watch(this.device.popErrorScope());
    this.watch(this.device.popErrorScope());
    this.discard();
  }

  /** Keep the first error an error scope reports; it is thrown by the next `check()`. */
  private watch(scope: Promise<GPUError | null>, prefix = ''): void {
    const p: Promise<void> = scope.then(
      (e) => {
        if (e) this.firstError ??= `${prefix}${e.message}`;
      },
      (e: Error) => {
        this.firstError ??= `${prefix}${e.message}`;
      },
    ).finally(() => this.scopes.delete(p));
    this.scopes.add(p);
  }

  /** Submit what is recorded, wait for the device, and throw the first WebGPU error since the last sync. */
  async sync(): Promise<void> {
    this.submit();
    await Promise.all([...this.scopes]);
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /**
   * Wait until the device has finished the work submitted at the previous call, so that a caller that
   * never reads back (steps without status) keeps at most two submissions in flight; then throw any
   * WebGPU error reported meanwhile.
   */
  async throttle(): Promise<void> {
    const previous = this.previousDone;
    this.previousDone = this.device.queue.onSubmittedWorkDone();
    await previous;
    this.check();
  }

  /** Copy host arena bytes [ptr, ptr + bytes) to the device arena (after the kernels recorded so far). */
  upload(ptr: number, bytes: number): void {
    this.check();
    if (bytes <= 0) return;
    this.submit();
    const lo = ptr & ~3, hi = (ptr + bytes + 3) & ~3;
    this.device.queue.writeBuffer(this.arenaBuf, lo, this.memory.buffer as ArrayBuffer, lo, hi - lo);
  }

  /** A mappable buffer for reading back `bytes` bytes. */
  staging(bytes: number): GPUBuffer {
    return this.buffer(Math.max(16, (bytes + 3) & ~3), USAGE.MAP_READ | USAGE.COPY_DST, 'fisheropt readback');
  }

  /** Read a mapped staging buffer's first `bytes` bytes, then destroy it. */
  async readStaging(buf: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.stats.readbacks++;
    try {
      await this.sync();
      await buf.mapAsync(MAP_READ, 0, buf.size);
      return buf.getMappedRange(0, buf.size).slice(0, bytes);
    } finally {
      buf.destroy();
    }
  }

  /** Copy device arena ranges back into the host arena (after everything recorded so far). */
  async download(ranges: readonly (readonly [number, number])[]): Promise<void> {
    this.check();
    const spans = ranges.filter(([, b]) => b > 0).map(([p, b]) => [p & ~3, ((p + b + 3) & ~3) - (p & ~3)] as const);
    const total = spans.reduce((a, [, b]) => a + b, 0);
    if (!total) return this.sync();
    this.submit();
    const buf = this.staging(total);
    const enc = this.device.createCommandEncoder();
    let off = 0;
    for (const [p, b] of spans) {
      enc.copyBufferToBuffer(this.arenaBuf, p, buf, off, b);
      off += b;
    }
    this.device.queue.submit([enc.finish()]);
    const data = new Uint8Array(await this.readStaging(buf, total));
    off = 0;
    for (const [p, b] of spans) {
      new Uint8Array(this.memory.buffer, p, b).set(data.subarray(off, off + b));
      off += b;
    }
  }

  /** Release this backend's buffers (the device is shared and stays). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.discard();
    for (const b of [this.arenaBuf, this.status, this.uniforms]) b.destroy();
  }
}
