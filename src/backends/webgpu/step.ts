/**
 * One optimizer step on the device: the same optimizer definitions (`OptimizerDef.step`) and the same
 * per-parameter loop (`runUpdatesInOrder`) as every other backend, with the kernels recording into one
 * command encoder, and the step's own host decisions moved onto the device:
 *
 * - Gradient check and clipping: per-workgroup partial Σg² and non-finite flags, reduced by one
 *   workgroup into the status buffer, which also gets the clip factor and the gate. Every later kernel
 *   of the step tests the gate, so a step with a non-finite gradient writes nothing (the finiteness
 *   check never waits for the host).
 * - The one exception: when the step checks gradients or clips, the host reads back 16 bytes of status
 *   after the submit, because the host's step counter (which gives the next step's bias corrections)
 *   and `StepInfo` (skipped, gradNorm) depend on them, and `nonFinite: 'throw'` must throw. With
 *   `nonFinite: 'ignore'` and no clipping a step submits and returns without waiting for the device.
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
import { STATUS_WORDS, type GpuRuntime } from './runtime.js';

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
  rt.submit();
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
    rt.discard();
    throw e;
  }
  return { status, lrFactor };
}

/** Run one step on the device; see the header for when it waits for the device. */
export async function runDeviceStep(plan: StepPlan, rt: GpuRuntime, kernels: Kernels, resolve: (name: string) => OptimizerDef): Promise<StepInfo> {
  const { status, lrFactor } = recordStep(plan, rt, kernels, resolve);
  if (!status) {
    rt.submit();
    return { step: plan.t + 1, skipped: false, lrFactor };
  }
  const rb = rt.staging(16);
  rt.submit({ into: rb, bytes: 16 });
  const words = await rt.readStaging(rb, 16);
  const nonFinite = new Uint32Array(words)[1] !== 0;
  const total = new Float32Array(words)[2];
  if (nonFinite && plan.nonFinite !== 'ignore') {
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
  }
  return { step: plan.t + 1, skipped: false, gradNorm: plan.clipGradNorm !== undefined ? Math.sqrt(total) : undefined, lrFactor };
}
