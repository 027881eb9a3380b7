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

export function parallelKernels(
  local: Kernels, ctl: Control, helperScratch: readonly number[], minWork = PARALLEL_MIN_WORK, memory?: WebAssembly.Memory,
): Kernels {
  const { results } = ctl;
  const out: Record<string, unknown> = {};
  const dispatcher = new Dispatcher(ctl, helperScratch.length);

  /**
   * Run `name` with `own` on the leader and `parts[i]` on helper `hs[i]` at once; the leader's return
   * value and the helpers' slots. Throws (after every helper finished) when a part failed.
   */
  const together = (name: keyof Kernels, own: number[], parts: number[][], hs: readonly number[]): [number | void, number[]] => {
    const fn = local[name] as (...x: number[]) => number | void;
    const kid = KERNEL_NAMES.indexOf(name);
    const used = hs.slice(0, parts.length);
    const seq = dispatcher.nextSeq();
    used.forEach((w, i) => dispatcher.post(w, seq, kid, parts[i]));
    dispatcher.wake(seq);
    let result: number | void = undefined;
    let ownError: unknown;
    try {
      result = fn(...own);
    } catch (e) {
      ownError = e;
    }
    const failed = dispatcher.wait(used, seq);
    if (ownError) throw ownError;
    if (failed.length) {
      throw new HelperFailure('WORKER_FAILED', `pool worker ${failed.map((w) => `#${w + 1}`).join(', ')} failed during kernel ${name}`);
    }
    return [result, used];
  };

  const run = (name: keyof Kernels, split: Split, a: number[]): number | void => {
    const units = split.units(a);
    const hs = dispatcher.helpers();
    if (hs.length === 0 || units * split.unitCost(a) < minWork || units < 2 * split.grain) return (local[name] as (...x: number[]) => number | void)(...a);
    const parts = Math.min(hs.length + 1, Math.floor(units / split.grain));
    const per = Math.ceil(units / parts / split.grain) * split.grain;
    const others: number[][] = [];
    for (let i = 1; i < parts; i++) {
      const u0 = i * per, u1 = Math.min(units, (i + 1) * per);
      if (u0 >= u1) break;
      others.push(split.part(a, u0, u1, helperScratch[hs[i - 1]]));
    }
    const [own, used] = together(name, split.part(a, 0, Math.min(units, per), a[13] ?? 0), others, hs);
    if (split.combine === 'max') {
      let m = own as number;
      for (const w of used) m = Math.max(m, results[w]);
      return m;
    }
    return own;
  };

  const gemm = (...a: number[]) => run('gemm', SPLITS.gemm!, a);
  const syrk = (...a: number[]): void => {
    const hs = dispatcher.helpers();
    const plan = memory ? syrkPlan(a, hs.length + 1, minWork) : undefined;
    if (!plan) return local.syrk(...(a as Parameters<Kernels['syrk']>));
    const [c, ldc, , lda, trans, , k, alpha, beta] = a;
    const t = trans ? 1 : 0;
    const { bounds, diagonal } = plan;
    // The diagonal blocks, one per thread (each also mirrors its own block) …
    together('syrk', diagonal(0, a[9]), bounds.slice(2).map((_, i) => diagonal(i + 1, helperScratch[hs[i]])), hs);
    // … then the blocks left of them, each a gemm split by rows, then their mirror images.
    for (let i = 1; i + 1 < bounds.length; i++) {
      const r0 = bounds[i], r1 = bounds[i + 1];
      gemm(c + 4 * r0 * ldc, ldc, rowsOf(a, r0), lda, t, a[2], lda, 1 - t, r1 - r0, r0, k, alpha, beta, a[9]);
    }
    mirrorBelowBlocks(new Int32Array(memory!.buffer), c >> 2, ldc, bounds);
  };

  for (const name of KERNEL_NAMES) {
    const fn = local[name] as (...x: number[]) => number | void;
    const split = SPLITS[name];
    if (name === 'syrk') {
      out[name] = syrk;
    } else if (name === 'copy') {
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

/** Rows of op(A) from row r on (A stored n×k, or k×n when transposed). */
const rowsOf = (a: readonly number[], r: number): number => (a[4] ? a[2] + 4 * r : a[2] + 4 * r * a[3]);

/**
 * How a syrk call `a` (c, ldc, a, lda, trans, n, k, alpha, beta, scratch) is split over `threads`, or
 * undefined when it stays whole: row bounds 0 = b0 < b1 < … = n (multiples of 4), the diagonal block
 * [b_i, b_i+1)² of each thread computed by syrk itself, the blocks left of them by gemm. Every
 * element of the lower triangle sees the operations of the whole call in the same order (the gemm
 * micro-kernel's result does not depend on where its tile starts) and the upper one is its mirror
 * image, so the result is the whole call's, bit for bit.
 */
function syrkPlan(a: readonly number[], threads: number, minWork: number) {
  const n = a[5], k = a[6];
  const parts = Math.min(threads, Math.floor(n / 16));
  if (parts < 2 || n * n * Math.max(k, 1) < 2 * minWork * parts) return undefined;
  const bounds = Array.from({ length: parts + 1 }, (_, i) => (i === parts ? n : 4 * Math.round((n * i) / parts / 4)));
  const diagonal = (i: number, scratch: number): number[] => {
    const r = bounds[i];
    return [a[0] + 4 * (r * a[1] + r), a[1], rowsOf(a, r), a[3], a[4], bounds[i + 1] - r, k, a[7], a[8], scratch];
  };
  return { bounds, diagonal };
}

/** c_ji ← c_ij (bit copies) for every row i of block t ≥ 1 and column j < b_t: the mirror of the gemm blocks. */
function mirrorBelowBlocks(m: Int32Array, c: number, ldc: number, bounds: readonly number[]): void {
  for (let t = 1; t + 1 < bounds.length; t++) {
    const r0 = bounds[t], r1 = bounds[t + 1];
    for (let ib = r0; ib < r1; ib += 32) {
      const ie = Math.min(ib + 32, r1);
      for (let jb = 0; jb < r0; jb += 32) {
        const je = Math.min(jb + 32, r0);
        for (let i = ib; i < ie; i++) for (let j = jb; j < je; j++) m[c + j * ldc + i] = m[c + i * ldc + j];
      }
    }
  }
}
