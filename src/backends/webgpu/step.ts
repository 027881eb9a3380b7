/**
 * One optimizer step on the device: the same optimizer definitions (`OptimizerDef.step`) and the same
 * per-parameter loop (`runUpdatesInOrder`) as every other backend, with the kernels recording into one
 * command encoder, and the step's own host decisions moved onto the device:
 *
 * - Gradient check and clipping: per-workgroup partial Σg² and non-finite flags, reduced by one
 *   workgroup into the status buffer, which also gets the clip factor and the gate. Every later kernel
 *   of the step tests the gate, so a step with a non-finite gradient writes nothing (the finiteness
 *   check never waits for the host).
 * - Readbacks, the documented exceptions: when the step checks gradients or clips, the host reads back
 *   32 bytes of status after the submit, because the host's step counter (which gives the next step's
 *   bias corrections) and `StepInfo` (skipped, gradNorm) depend on them, and `nonFinite: 'throw'` must
 *   throw. With `nonFinite: 'ignore'` and no clipping a step reads nothing back; it waits only for the
 *   previous step's work to finish (at most two steps in flight; WebGPU errors surface there).
 *   An optimizer that asks for a host scalar (`READBACK_KERNELS`: norms and sums of squares) or reads
 *   arena values on the host (`StepContext.host.read`: Adafactor's row mean, the RACS/Alice limiter's φ,
 *   eigenvalues at refreshes) gets them by replay: what is recorded up to that point is submitted with
 *   the scalar's reduction (or a copy of the regions), read back with the status, and the step is
 *   recorded again from the start with the submitted work skipped and the known values returned (one
 *   readback each; see `Replay`). Host writes (`StepContext.host.write`) and the outputs of the host
 *   decompositions are copies into the device arena inside the same command encoder. Such a step is
 *   no longer atomic against an error raised after its first readback; `createOptimizer` records a
 *   probe step first so that unsupported work fails before anything runs.
 *
 * `StepContext.memory` read on the host throws here (the host arena is not current during a step on
 * the device); optimizers use `StepContext.host`.
 *
 * What runs where: every kernel but the decompositions is WGSL on the device. `qrFactor`, `qrFormQ`,
 * `qrApply`, `eigh` and `svd` run on the host kernels (wasm, else ref) over the host mirror, with their
 * inputs read back and their outputs uploaded explicitly; the optimizers call them at refresh steps
 * only, so steady steps move no decomposition data. Readbacks per step with the gradient check or
 * clipping on (the status readback, 1, is not there without them): SGD, Adam, AdamW 1; SinkGD 1 per
 * matrix (max|g|, the f32 rounds' scale) + 1; Muon and SWAN 1 per matrix norm + 1; Adafactor 3 per matrix and 2 per vector + 1; RACS
 * 2·(iterations − 1) + 3 per matrix + 1; GaLore, Alice and the eigen optimizers 1 on steady steps
 * (AdaDiag with Adafactor 2 more per matrix), more at refresh steps (the decompositions' inputs, Gram
 * diagonals). `GpuRuntime.stats` counts them.
 */
import type { StepInfo, StepPlan } from '../../engine.js';
import { runUpdatesInOrder } from '../../engine.js';
import { FisheroptError } from '../../errors.js';
import type { Kernels } from '../../kernels.js';
import type { OptimizerDef } from '../../optimizers/types.js';
import { scheduleFactor } from '../../options.js';
import type { HostArena } from '../../optimizers/types.js';
import { NeedReadback, STATUS_WORDS, type GpuRuntime, type Region, type Replay } from './runtime.js';

/** Most workgroups one parameter's gradient check uses (each adds one partial to the status buffer). */
const CHECK_GROUPS = 64;

/** `StepContext.memory` on the device: reading the host arena during a step is an error. */
export function deviceMemoryGuard(optimizer: () => string): WebAssembly.Memory {
  return {
    get buffer(): never {
      throw new FisheroptError('BACKEND_UNAVAILABLE', `optimizer ${optimizer()} reads StepContext.memory during a step, which the webgpu backend cannot provide (its arena is on the device); read and write arena values through StepContext.host`);
    },
  } as unknown as WebAssembly.Memory;
}

/** Record the step's updates (with the gradient check and clipping when asked) without submitting. */
export function recordStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): { status: boolean; lrFactor: number } {
  const lrFactor = scheduleFactor(plan.schedule, plan.t);
  const all = plan.groups.flatMap((g) => g.params);
  const clip = plan.clipGradNorm;
  const status = plan.nonFinite !== 'ignore' || clip !== undefined;
  let current = '';
  try {
    if (status) {
      const groups = all.map((r) => Math.min(rt.groupsFor(r.size)[0], CHECK_GROUPS));
      const count = groups.reduce((a, b) => a + b, 0);
      rt.ensureStatus(STATUS_WORDS + 2 * count);
      rt.record('statusReset', [], [1, 1]);
      let base = 0;
      all.forEach((r, i) => {
        rt.record('checkPartial', [r.g / 4, r.size, base], [groups[i], 1]);
        base += groups[i];
      });
      rt.record('checkFinal', [count, clip ?? 0, clip !== undefined ? 1 : 0, plan.nonFinite !== 'ignore' ? 1 : 0], [1, 1]);
      if (clip !== undefined) for (const r of all) rt.record('clipScale', [r.g / 4, r.size], rt.groupsFor(r.size));
    }
    const guard = deviceMemoryGuard(() => current);
    const host: HostArena = {
      read: (ptr, length) => {
        rt.hostRead(`host read by ${current}`, [[ptr, 4 * length]]);
        return new Float32Array(rt.hostBuffer, ptr, length).slice();
      },
      write: (ptr, values) => rt.hostWrite(`host write by ${current}`, ptr, values),
    };
    runUpdatesInOrder(plan, lrFactor, kernels, guard, (name) => {
      current = JSON.stringify(name);
      return resolve(name);
    }, host);
    if (status) rt.record('gateReset', [], [1, 1]);
  } catch (e) {
    if (!(e instanceof NeedReadback)) rt.discard();
    throw e;
  }
  return { status, lrFactor };
}

/** Record (never submit) a step, host scalars taken as 1: unsupported kernels and host reads throw now. */
export function probeStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): void {
  rt.submit();
  rt.replay = { seen: 0, skip: 0, memo: [], calls: 0, probe: true, gated: false, fresh: [], hostDone: [], hostCalls: 0 };
  try {
    recordStep(plan, rt, kernels, resolve);
  } finally {
    rt.replay = undefined;
    rt.discard();
  }
}

/** Bytes of status read back: gate, non-finite flag, Σg², clip factor, the last host scalar. */
const STATUS_READ = 32;

/** Submit what is recorded, then read back the status and (after it) the given arena regions. */
async function readStatus(rt: GpuRuntime, regions: readonly Region[] = []): Promise<{ nonFinite: boolean; sumsq: number; scalar: number; data: Uint8Array[] }> {
  const bytes = STATUS_READ + regions.reduce((a, [, b]) => a + b, 0);
  const rb = rt.staging(bytes);
  rt.submit({ into: rb, statusBytes: STATUS_READ, regions });
  const words = await rt.readStaging(rb, bytes);
  const u = new Uint32Array(words, 0, 8), f = new Float32Array(words, 0, 8);
  let off = STATUS_READ;
  const data = regions.map(([, b]) => {
    const d = new Uint8Array(words, off, b);
    off += b;
    return d;
  });
  return { nonFinite: u[1] !== 0, sumsq: f[2], scalar: f[4], data };
}

/** Run one step on the device; see the header for when it waits for the device. */
export async function runDeviceStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): Promise<StepInfo> {
  rt.submit();
  const checks = plan.nonFinite !== 'ignore';
  const replay: Replay = { seen: 0, skip: 0, memo: [], calls: 0, probe: false, gated: checks, fresh: [], hostDone: [], hostCalls: 0 };
  rt.replay = replay;
  let recorded: { status: boolean; lrFactor: number };
  try {
    for (;;) {
      replay.seen = 0;
      replay.calls = 0;
      replay.fresh = [];
      replay.hostCalls = 0;
      let need: NeedReadback;
      try {
        recorded = recordStep(plan, rt, kernels, resolve);
        break;
      } catch (e) {
        if (!(e instanceof NeedReadback)) throw e;
        need = e;
      }
      // Submit up to the scalar's reduction (or the regions' last writer) and read the value back,
      // with the gradient check's verdict.
      const st = await readStatus(rt, need.regions);
      if (st.nonFinite && checks) {
        rt.record('gateReset', [], [1, 1]);
        rt.submit();
        return await nonFiniteStep(plan, rt, scheduleFactor(plan.schedule, plan.t));
      }
      replay.memo.push(need.regions.length ? st.data : st.scalar);
      replay.skip = replay.seen;
    }
  } finally {
    rt.replay = undefined;
  }
  const { status, lrFactor } = recorded;
  if (!status) {
    rt.submit();
    await rt.throttle();
    return { step: plan.t + 1, skipped: false, lrFactor };
  }
  const st = await readStatus(rt);
  if (st.nonFinite && checks) return nonFiniteStep(plan, rt, lrFactor);
  return { step: plan.t + 1, skipped: false, gradNorm: plan.clipGradNorm !== undefined ? Math.sqrt(st.sumsq) : undefined, lrFactor };
}

/** A step whose gradients failed the device's check (nothing was written): skip, or throw naming the value. */
async function nonFiniteStep(plan: StepPlan, rt: GpuRuntime, lrFactor: number): Promise<StepInfo> {
  if (plan.nonFinite === 'skip') return { step: plan.t, skipped: true, lrFactor };
  const all = plan.groups.flatMap((g) => g.params);
  await rt.download(all.map((r) => [r.g, 4 * r.size] as const));
  for (const r of all) {
    const g = new Float32Array(rt.hostBuffer, r.g, r.size);
    const i = g.findIndex((v) => !Number.isFinite(v));
    if (i < 0) continue;
    throw new FisheroptError(
      'NON_FINITE_GRAD',
      `gradient of ${JSON.stringify(r.name)} has a non-finite value (${g[i]} at element ${i}); nothing was updated (set nonFinite: 'skip' to skip such steps)`,
    );
  }
  throw new FisheroptError('DEVICE_ERROR', 'the device reported a non-finite gradient that the host copy does not show');
}
