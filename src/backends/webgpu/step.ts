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
 *   An optimizer that asks for a host scalar (`sumsq`, `maxAbs`, `dot`: Muon's and SWAN's norms) gets
 *   it by replay: what is recorded up to the scalar is submitted with the scalar's reduction, the value
 *   is read back, and the step is recorded again from the start with the submitted dispatches skipped
 *   and the known scalars returned (one readback per scalar; see `Replay`). Such a step is no longer
 *   atomic against an error raised after its first readback; `createOptimizer` records a probe step
 *   first so that unsupported kernels fail before anything runs.
 *
 * Optimizers read the arena through kernels only: a `StepContext.memory` read on the host throws here
 * (the host arena is not current during a step on the device).
 */
import type { StepInfo, StepPlan } from '../../engine.js';
import { runUpdatesInOrder } from '../../engine.js';
import { FisheroptError } from '../../errors.js';
import type { Kernels } from '../../kernels.js';
import type { OptimizerDef } from '../../optimizers/types.js';
import { scheduleFactor } from '../../options.js';
import { NeedScalar, STATUS_WORDS, type GpuRuntime, type Replay } from './runtime.js';

/** Most workgroups one parameter's gradient check uses (each adds one partial to the status buffer). */
const CHECK_GROUPS = 64;

/** `StepContext.memory` on the device: reading the host arena during a step is an error. */
export function deviceMemoryGuard(optimizer: () => string): WebAssembly.Memory {
  return {
    get buffer(): never {
      throw new FisheroptError('BACKEND_UNAVAILABLE', `optimizer ${optimizer()} reads the arena on the host during a step, which the webgpu backend cannot do (its arena is on the device)`);
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
    runUpdatesInOrder(plan, lrFactor, kernels, guard, (name) => {
      current = JSON.stringify(name);
      return resolve(name);
    });
    if (status) rt.record('gateReset', [], [1, 1]);
  } catch (e) {
    if (!(e instanceof NeedScalar)) rt.discard();
    throw e;
  }
  return { status, lrFactor };
}

/** Record (never submit) a step, host scalars taken as 1: unsupported kernels and host reads throw now. */
export function probeStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): void {
  rt.submit();
  rt.replay = { seen: 0, skip: 0, memo: [], calls: 0, probe: true };
  try {
    recordStep(plan, rt, kernels, resolve);
  } finally {
    rt.replay = undefined;
    rt.discard();
  }
}

/** Bytes of status read back: gate, non-finite flag, Σg², clip factor, the last host scalar. */
const STATUS_READ = 32;

async function readStatus(rt: GpuRuntime): Promise<{ nonFinite: boolean; sumsq: number; scalar: number }> {
  const rb = rt.staging(STATUS_READ);
  rt.submit({ into: rb, bytes: STATUS_READ });
  const words = await rt.readStaging(rb, STATUS_READ);
  const u = new Uint32Array(words), f = new Float32Array(words);
  return { nonFinite: u[1] !== 0, sumsq: f[2], scalar: f[4] };
}

/** Run one step on the device; see the header for when it waits for the device. */
export async function runDeviceStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): Promise<StepInfo> {
  rt.submit();
  const replay: Replay = { seen: 0, skip: 0, memo: [], calls: 0, probe: false };
  rt.replay = replay;
  let recorded: { status: boolean; lrFactor: number };
  const checks = plan.nonFinite !== 'ignore';
  try {
    for (;;) {
      replay.seen = 0;
      replay.calls = 0;
      try {
        recorded = recordStep(plan, rt, kernels, resolve);
        break;
      } catch (e) {
        if (!(e instanceof NeedScalar)) throw e;
      }
      // Submit up to the scalar's reduction and read it (with the gradient check's verdict) back.
      const st = await readStatus(rt);
      if (st.nonFinite && checks) {
        rt.record('gateReset', [], [1, 1]);
        rt.submit();
        return await nonFiniteStep(plan, rt, scheduleFactor(plan.schedule, plan.t));
      }
      replay.memo.push(st.scalar);
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
