/**
 * `pool` (Node): the wasm kernels on a Piscina worker pool, every worker instantiating the
 * shared-memory build over the arena's shared `WebAssembly.Memory` (params, grads and state are never
 * copied between threads).
 *
 * A step is one Piscina task: a leader worker runs the engine's step and splits large kernel calls
 * with `threads − 1` helper workers, which serve kernel parts through the control block (spinning
 * briefly, then sleeping in Atomics.wait); parameters whose updates cost less than a fair share are
 * dealt to the threads whole, by cost (`updates.ts`). The main thread only awaits the step, so it can notice a
 * worker that dies, fail the step, put back the parameters backed up in it (`rollback.ts`), and have
 * Piscina replace the worker. Results do not depend on the number of threads (see `split.ts`).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { StepInfo, StepPlan } from '../../engine.js';
import type { Kernels } from '../../kernels.js';
import { FisheroptError, type ErrorCode } from '../../errors.js';
import { PARALLEL_MIN_WORK } from './parallel-kernels.js';
import { controlViews, CONTROL_BYTES, CRASH, CRASH_AT, DEAD, DONE, EXIT, MAX_HELPERS, READY, SEQ, SPIN, TAG, type Control } from './protocol.js';
import { createChannel } from './updates.js';
import { createMarks, ensureMarks, MAX_MARKS, restoreSaved } from './rollback.js';
import type { PoolTask, PoolWorkerData, StepReply } from './worker.js';

export interface PoolOptions {
  /** Threads computing a step (the leader and its helpers); default: available cores. */
  threads?: number;
  /** Work units below which a kernel call is not split (default PARALLEL_MIN_WORK). */
  minWork?: number;
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export class PoolRuntime {
  readonly threads: number;
  private readonly piscina: Piscina;
  private readonly ctl: Control;
  private readonly serving: Promise<void>[] = [];
  private closing = false;
  private readonly memory: WebAssembly.Memory;
  private readonly marks = createMarks();
  private token = 0;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, helperScratch: number[], opts: PoolOptions = {}) {
    const threads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_HELPERS + 1) {
      throw new FisheroptError('BAD_OPTION', `threads must be an integer in [1, ${MAX_HELPERS + 1}], got ${threads}`);
    }
    if (helperScratch.length < threads - 1) throw new FisheroptError('BAD_STATE', 'pool: missing helper scratch');
    this.threads = threads;
    this.memory = memory;
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctl = controlViews(control);
    // Spin only when every spinning thread has a core of its own.
    Atomics.store(this.ctl.i32, SPIN, threads <= defaultThreads() ? 1 : 0);
    const workerData: PoolWorkerData = {
      module, memory, control, helperScratch, minWork: opts.minWork ?? PARALLEL_MIN_WORK, channel: createChannel(), marks: this.marks,
    };
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1,
      workerData,
    });
    // Load-time errors of a worker (e.g. a LinkError) surface as failed tasks; keep the process alive.
    this.piscina.on('error', () => {});
    for (let slot = 0; slot < threads - 1; slot++) this.serve(slot);
  }

  private serve(slot: number): void {
    const task: PoolTask = { kind: 'serve', slot };
    this.serving[slot] = this.piscina.run(task).then(
      () => {},
      () => {
        // The helper's worker died: mark it, wake a leader waiting on it, and start a replacement.
        const { i32 } = this.ctl;
        Atomics.store(i32, READY + slot, 0);
        Atomics.store(i32, DEAD + slot, 1);
        Atomics.notify(i32, DONE + slot);
        if (!this.closing) this.serve(slot);
      },
    );
  }

  /** Helpers currently serving. */
  readyHelpers(): number {
    let n = 0;
    for (let w = 0; w < this.threads - 1; w++) if (Atomics.load(this.ctl.i32, READY + w) === 1) n++;
    return n;
  }

  /** Resolves once every helper is serving (after start-up or a replacement). */
  async whenReady(timeoutMs = 30000): Promise<void> {
    const t0 = Date.now();
    while (this.readyHelpers() < this.threads - 1) {
      if (this.closing) throw new FisheroptError('CLOSED', 'the pool is closed');
      if (Date.now() - t0 > timeoutMs) throw new FisheroptError('WORKER_FAILED', `pool workers did not start within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Wait until no helper is executing a kernel part (each finished its last command or died). */
  private async quiesce(): Promise<void> {
    const { i32 } = this.ctl;
    for (let w = 0; w < this.threads - 1; w++) {
      while (Atomics.load(i32, READY + w) === 1 && Atomics.load(i32, DEAD + w) === 0 && Atomics.load(i32, DONE + w) !== Atomics.load(i32, TAG + w)) {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }

  /** Run one step on the pool; on failure the parameters it backed up are put back. */
  async step(plan: StepPlan): Promise<StepInfo> {
    if (this.closing) throw new FisheroptError('CLOSED', 'the optimizer was closed');
    const count = plan.groups.reduce((a, g) => a + g.params.length, 0);
    if (count > MAX_MARKS) throw new FisheroptError('BAD_STATE', `pool: at most ${MAX_MARKS} parameters, got ${count}`);
    ensureMarks(this.marks, count);
    const token = (this.token = (this.token % 0x7ffffffe) + 1);
    const task: PoolTask = { kind: 'step', plan, token };
    let reply: StepReply;
    try {
      reply = (await this.piscina.run(task)) as StepReply;
    } catch (e) {
      // The leader's worker died: wait for the helpers, then restore here.
      await this.quiesce();
      this.restore(plan, token);
      throw new FisheroptError('WORKER_FAILED', `the pool worker running the step died (${(e as Error).message}); params and state were restored`);
    }
    if ('error' in reply) {
      if (!reply.restored) {
        await this.quiesce();
        this.restore(plan, token);
      }
      const code = reply.error.code as ErrorCode;
      const suffix = code === 'WORKER_FAILED' ? '; params and state were restored' : '';
      throw new FisheroptError(code, reply.error.message + suffix);
    }
    return reply.info;
  }

  private restore(plan: StepPlan, token: number): void {
    const f = new Float32Array(this.memory.buffer);
    restoreSaved(plan, new Int32Array(this.marks), token, (dst, src, n) => f.copyWithin(dst >> 2, src >> 2, (src >> 2) + n));
  }

  /** Run one kernel call on the pool (split like a step's calls): for conformance tests and benchmarks. */
  async kernel(name: keyof Kernels, args: number[]): Promise<number | void> {
    if (this.closing) throw new FisheroptError('CLOSED', 'the pool is closed');
    return (await this.piscina.run({ kind: 'kernel', name, args } satisfies PoolTask)) as number | void;
  }

  /**
   * Test hook: helper `slot` dies (`exit`) or its kernel throws (`throw`) at its next command (with
   * `at: 'updates'`, its next command to run parameter updates).
   */
  injectFault(slot: number, mode: 'exit' | 'throw', at: 'any' | 'updates' = 'any'): void {
    Atomics.store(this.ctl.i32, CRASH_AT, at === 'updates' ? 1 : 0);
    Atomics.store(this.ctl.i32, CRASH, mode === 'exit' ? slot + 1 : -(slot + 1));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const { i32 } = this.ctl;
    Atomics.store(i32, EXIT, 1);
    Atomics.add(i32, SEQ, 1);
    Atomics.notify(i32, SEQ);
    await Promise.allSettled(this.serving);
    await this.piscina.destroy();
  }
}
