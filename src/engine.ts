/**
 * One optimizer step as a plain function over the arena: the same code runs on the calling thread
 * (`ref`, `wasm`) and inside a pool worker (`pool`), which is why the step's description (`StepPlan`)
 * is structured-clonable data: pointers, shapes, optimizer names and options.
 */
import { FisheroptError } from './errors.js';
import type { Kernels, Ptr } from './kernels.js';
import { getOptimizer } from './optimizers/index.js';
import type { OptimizerDef, ParamRef, StepContext } from './optimizers/types.js';
import { scheduleFactor, type Options, type Schedule } from './options.js';

export type NonFinitePolicy = 'throw' | 'skip' | 'ignore';

export interface StepInfo {
  /** Steps applied so far (including this one). */
  step: number;
  /** True when the step was skipped for non-finite gradients (nonFinite: 'skip'). */
  skipped: boolean;
  /** Global gradient L2 norm before clipping (computed when clipGradNorm is set). */
  gradNorm?: number;
  /** The lr factor of the schedule applied at this step. */
  lrFactor: number;
}

export interface PlanParam extends ParamRef {
  /** Steps completed before this parameter was added (default 0): its optimizer counts from there. */
  readonly step0?: number;
}

export interface StepPlan {
  readonly groups: readonly { readonly optimizer: string; readonly options: Options; readonly params: readonly PlanParam[] }[];
  readonly schedule: Schedule;
  readonly clipGradNorm?: number;
  readonly nonFinite: NonFinitePolicy;
  readonly scratch: Ptr;
  /** Steps completed before this one. */
  readonly t: number;
}

/**
 * Apply one step: check gradients (finite, global norm), clip, evaluate the schedule, run each group's
 * optimizer on each of its parameters. Throws NON_FINITE_GRAD before writing anything.
 */
export function runStep(
  plan: StepPlan, k: Kernels, memory: WebAssembly.Memory,
  resolve: (name: string) => OptimizerDef = getOptimizer,
): StepInfo {
  const factor = scheduleFactor(plan.schedule, plan.t);
  const all = plan.groups.flatMap((g) => g.params);
  let gradNorm: number | undefined;
  if (plan.nonFinite !== 'ignore') {
    // max |g| is NaN or ∞ exactly when a gradient holds a non-finite value; it does not depend on the
    // order of evaluation, so threads can share it.
    for (const r of all) {
      if (Number.isFinite(k.maxAbs(r.g, r.size))) continue;
      if (plan.nonFinite === 'skip') return { step: plan.t, skipped: true, lrFactor: factor };
      const g = new Float32Array(memory.buffer, r.g, r.size);
      const i = g.findIndex((v) => !Number.isFinite(v));
      throw new FisheroptError(
        'NON_FINITE_GRAD',
        `gradient of ${JSON.stringify(r.name)} has a non-finite value (${g[i]} at element ${i}); nothing was updated (set nonFinite: 'skip' to skip such steps)`,
      );
    }
  }
  if (plan.clipGradNorm !== undefined) {
    let total = 0;
    for (const r of all) total += k.sumsq(r.g, r.size);
    gradNorm = Math.sqrt(total);
    const coef = plan.clipGradNorm / (gradNorm + 1e-6);
    if (coef < 1) for (const r of all) k.scale(r.g, r.size, coef);
  }
  const step = plan.t + 1;
  for (const group of plan.groups) {
    const def = resolve(group.optimizer);
    const ctx: StepContext = { kernels: k, step, lr: (group.options.lr as number) * factor, scratch: plan.scratch, memory };
    for (const p of group.params) def.step(p.step0 ? { ...ctx, step: step - p.step0 } : ctx, p, group.options);
  }
  return { step, skipped: false, gradNorm, lrFactor: factor };
}
