/**
 * A pool worker (Piscina task module). Every worker instantiates the shared-memory kernel module over
 * the arena's shared memory (zero copies) and runs one of two tasks:
 * - `serve`: a helper loop that executes kernel parts dispatched through the control block until EXIT;
 * - `step`: one optimizer step as the leader (the engine's `runStep` over `parallelKernels`, parameter
 *   updates spread by `poolUpdates`, each preceded by its parameter's backup), with the parameters
 *   backed up in this step restored if it fails (`rollback.ts`).
 * A serving helper runs kernel parts and, on UPDATES_COMMAND, its list of whole parameter updates.
 */
import { workerData } from 'node:worker_threads';
import { runStep, type StepInfo, type StepPlan } from '../../engine.js';
import { FisheroptError } from '../../errors.js';
import { KERNEL_NAMES, type Kernels } from '../../kernels.js';
import { instantiateWasm } from '../wasm.js';
import { Dispatcher, parallelKernels } from './parallel-kernels.js';
import { clearError, poolUpdates, runUpdateList, UPDATES_COMMAND } from './updates.js';
import { restoreSaved } from './rollback.js';
import { ARGS_STRIDE, controlViews, CRASH, CRASH_AT, DEAD, DONE, ERR, EXIT, READY, SEQ, SPIN, SPIN_POLLS, TAG } from './protocol.js';

export interface PoolWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  helperScratch: number[];
  minWork: number;
  /** The plan channel of parameter updates run on several threads (`updates.ts`). */
  channel: SharedArrayBuffer;
  /** Per parameter, the token of the last step that backed it up (`rollback.ts`). */
  marks: SharedArrayBuffer;
}

export type PoolTask =
  | { kind: 'serve'; slot: number }
  | { kind: 'step'; plan: StepPlan; token: number }
  | { kind: 'kernel'; name: keyof Kernels; args: number[] };

export type StepReply = { info: StepInfo } | { error: { code: string; message: string }; restored: boolean };

const data = workerData as PoolWorkerData;
const ctl = controlViews(data.control);
const marks = new Int32Array(data.marks);
let local: Kernels | undefined;
let fns: ((...a: number[]) => number | void)[] = [];

function kernels(): Kernels {
  if (!local) {
    local = instantiateWasm(data.module, data.memory);
    fns = KERNEL_NAMES.map((n) => local![n] as (...a: number[]) => number | void);
  }
  return local;
}

function serve(slot: number): void {
  kernels();
  const { i32, args, results } = ctl;
  Atomics.store(i32, DEAD + slot, 0);
  Atomics.store(i32, ERR + slot, 0);
  // Commands assigned to this slot before this worker started (to a predecessor that died) are not run.
  let lastRun = Atomics.load(i32, TAG + slot);
  Atomics.store(i32, DONE + slot, lastRun);
  let seen = Atomics.load(i32, SEQ);
  Atomics.store(i32, READY + slot, 1);
  try {
    for (;;) {
      if (Atomics.load(i32, EXIT) !== 0) return;
      let polls = 0;
      while (Atomics.load(i32, SEQ) === seen && Atomics.load(i32, TAG + slot) === lastRun) {
        if (Atomics.load(i32, SPIN) !== 0 && polls++ < SPIN_POLLS) continue;
        Atomics.wait(i32, SEQ, seen);
      }
      seen = Atomics.load(i32, SEQ);
      if (Atomics.load(i32, EXIT) !== 0) return;
      const tag = Atomics.load(i32, TAG + slot);
      if (tag === lastRun) continue; // woken for a command of other helpers
      lastRun = tag;
      const base = slot * ARGS_STRIDE;
      const kid = args[base];
      if (kid === UPDATES_COMMAND) clearError(data.channel, slot);
      const crash = Atomics.load(i32, CRASH_AT) === 1 && kid !== UPDATES_COMMAND ? 0 : Atomics.load(i32, CRASH);
      if (crash === slot + 1) {
        Atomics.store(i32, CRASH, 0);
        process.exit(1); // test hook: this worker thread dies mid-step
      }
      let err = 0;
      try {
        if (crash === -(slot + 1)) {
          Atomics.store(i32, CRASH, 0);
          throw new Error('test hook: a kernel throws');
        }
        if (kid === UPDATES_COMMAND) {
          runUpdateList(data.channel, slot, local!, data.memory, marks);
        } else {
          const a = Array.from(args.subarray(base + 2, base + 2 + args[base + 1]));
          results[slot] = (fns[kid](...a) as number | undefined) ?? 0;
        }
      } catch {
        err = 1;
      }
      Atomics.store(i32, ERR + slot, err);
      Atomics.store(i32, DONE + slot, tag);
      Atomics.notify(i32, DONE + slot);
    }
  } finally {
    Atomics.store(i32, READY + slot, 0);
  }
}

function step(plan: StepPlan, token: number): StepReply {
  const k = parallelKernels(kernels(), ctl, data.helperScratch, data.minWork, data.memory);
  const updates = poolUpdates(new Dispatcher(ctl, data.helperScratch.length), data.channel, kernels(), data.minWork, marks, token);
  try {
    return { info: runStep(plan, k, data.memory, undefined, updates) };
  } catch (e) {
    try {
      restoreSaved(plan, marks, token, (dst, src, n) => k.copy(dst, src, n));
    } catch {
      // A helper died during the restore: the main thread restores from the same backups.
      return { error: { code: 'WORKER_FAILED', message: (e as Error).message }, restored: false };
    }
    const code = e instanceof FisheroptError ? e.code : 'WORKER_FAILED';
    return { error: { code, message: (e as Error).message }, restored: true };
  }
}

export default function task(t: PoolTask): StepReply | number | void {
  if (t.kind === 'serve') return serve(t.slot);
  if (t.kind === 'kernel') {
    const k = parallelKernels(kernels(), ctl, data.helperScratch, data.minWork, data.memory);
    return (k[t.name] as (...a: number[]) => number | void)(...t.args) ?? undefined;
  }
  return step(t.plan, t.token);
}
