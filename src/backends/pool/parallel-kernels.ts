/**
 * The kernels as the step's leader thread sees them: a call large enough to pay for a wake-up is split
 * (see `split.ts`) between the leader and the serving helper threads through the control block; the
 * rest run on the leader alone. Synchronous, like every `Kernels`.
 */
import { FisheroptError } from '../../errors.js';
import { KERNEL_NAMES, type Kernels } from '../../kernels.js';
import { ARGS_STRIDE, DEAD, DONE, ERR, MAX_HELPERS, READY, SEQ, SPIN, SPIN_POLLS, TAG, type Control } from './protocol.js';
import { copySplit, SPLITS, type Split } from './split.js';

/** Work units (≈ elements touched) below which a call stays on the leader. */
export const PARALLEL_MIN_WORK = 1 << 15;

export class HelperFailure extends FisheroptError {}

/** The leader's side of the control block: find serving helpers, hand them commands, wait for them. */
export class Dispatcher {
  constructor(readonly ctl: Control, readonly slots: number) {}

  /** Helper slots serving now. */
  helpers(): number[] {
    const { i32 } = this.ctl;
    const h: number[] = [];
    for (let w = 0; w < Math.min(MAX_HELPERS, this.slots); w++) {
      if (Atomics.load(i32, READY + w) === 1 && Atomics.load(i32, DEAD + w) === 0) h.push(w);
    }
    return h;
  }

  /** The number the next batch of commands carries. */
  nextSeq(): number {
    return Atomics.load(this.ctl.i32, SEQ) + 1;
  }

  /** Give helper `w` command `kid` (a kernel index, or PARAMS_COMMAND) with its arguments. */
  post(w: number, seq: number, kid: number, a: readonly number[]): void {
    const { args, i32 } = this.ctl;
    const base = w * ARGS_STRIDE;
    args[base] = kid;
    args[base + 1] = a.length;
    for (let j = 0; j < a.length; j++) args[base + 2 + j] = a[j];
    Atomics.store(i32, TAG + w, seq); // publishes the arguments written above
  }

  /** Wake the helpers for the commands posted with `seq`. */
  wake(seq: number): void {
    Atomics.store(this.ctl.i32, SEQ, seq);
    Atomics.notify(this.ctl.i32, SEQ);
  }

  /** Wait until each of `used` finished command `seq` or died; the slots that died or threw. */
  wait(used: readonly number[], seq: number): number[] {
    const { i32 } = this.ctl;
    const spin = Atomics.load(i32, SPIN) !== 0;
    const failed: number[] = [];
    for (const w of used) {
      let polls = 0;
      for (;;) {
        const d = Atomics.load(i32, DONE + w);
        if (d === seq) break;
        if (Atomics.load(i32, DEAD + w) !== 0) {
          failed.push(w);
          break;
        }
        if (spin && polls++ < SPIN_POLLS) continue;
        Atomics.wait(i32, DONE + w, d, 5);
      }
      if (Atomics.load(i32, ERR + w) !== 0 && !failed.includes(w)) failed.push(w);
    }
    return failed;
  }
}

export function parallelKernels(local: Kernels, ctl: Control, helperScratch: readonly number[], minWork = PARALLEL_MIN_WORK): Kernels {
  const { results } = ctl;
  const out: Record<string, unknown> = {};
  const dispatcher = new Dispatcher(ctl, helperScratch.length);

  const run = (name: keyof Kernels, split: Split, a: number[]): number | void => {
    const fn = local[name] as (...x: number[]) => number | void;
    const units = split.units(a);
    const hs = dispatcher.helpers();
    if (hs.length === 0 || units * split.unitCost(a) < minWork || units < 2 * split.grain) return fn(...a);
    const parts = Math.min(hs.length + 1, Math.floor(units / split.grain));
    const per = Math.ceil(units / parts / split.grain) * split.grain;
    const kid = KERNEL_NAMES.indexOf(name);
    const used: number[] = [];
    const seq = dispatcher.nextSeq();
    for (let i = 1; i < parts; i++) {
      const u0 = i * per, u1 = Math.min(units, (i + 1) * per);
      if (u0 >= u1) break;
      const w = hs[i - 1];
      dispatcher.post(w, seq, kid, split.part(a, u0, u1, helperScratch[w]));
      used.push(w);
    }
    dispatcher.wake(seq);
    let own: number | void = undefined;
    let ownError: unknown;
    try {
      own = fn(...split.part(a, 0, Math.min(units, per), a[13] ?? 0));
    } catch (e) {
      ownError = e;
    }
    const failed = dispatcher.wait(used, seq);
    if (ownError) throw ownError;
    if (failed.length) {
      throw new HelperFailure('WORKER_FAILED', `pool worker ${failed.map((w) => `#${w + 1}`).join(', ')} failed during kernel ${name}`);
    }
    if (split.combine === 'max') {
      let m = own as number;
      for (const w of used) m = Math.max(m, results[w]);
      return m;
    }
    return own;
  };

  for (const name of KERNEL_NAMES) {
    const fn = local[name] as (...x: number[]) => number | void;
    const split = SPLITS[name];
    if (name === 'copy') {
      out[name] = (...a: number[]) => {
        const s = copySplit(a);
        return s ? run(name, s, a) : fn(...a);
      };
    } else if (split) {
      out[name] = (...a: number[]) => run(name, split, a);
    } else {
      out[name] = fn;
    }
  }
  return out as unknown as Kernels;
}
