/**
 * One optimizer step as a plain function over the arena: the same code runs on the calling thread
 * (`ref`, `wasm`) and inside a pool worker (`pool`), which is why the step's description (`StepPlan`)
 * is structured-clonable data: pointers, shapes, optimizer names and options.
 */
import { FisheroptError } from './errors.js';
import type { Kernels, Ptr } from './kernels.js';
import { getOptimizer } from './optimizers/index.js';
import { memoryHost, type HostArena, type OptimizerDef, type ParamRef } from './optimizers/types.js';
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

/** A region of `floats` f32 values at `src` and where its value at the start of a step is kept. */
export type SaveRange = readonly [src: Ptr, floats: number, backup: Ptr];

export interface PlanParam extends ParamRef {
  /** Steps completed before this parameter was added (default 0): its optimizer counts from there. */
  readonly step0?: number;
  /**
   * Pool with rollback: the regions this parameter's update writes (its values, its state slots), copied
   * to their backups just before the update, so a failed step can put them back.
   */
  readonly save?: readonly SaveRange[];
}

export interface StepPlan {
  readonly groups: readonly { readonly optimizer: string; readonly options: Options; readonly params: readonly PlanParam[] }[];
  readonly schedule: Schedule;
  readonly clipGradNorm?: number;
  readonly nonFinite: NonFinitePolicy;
  readonly scratch: Ptr;
  /**
   * Pool only: scratch regions of the same size for helper threads 1…threads−1 (index w for helper w),
   * used when parameter updates run on several threads at once.
   */
  readonly threadScratch?: readonly Ptr[];
  /** Steps completed before this one. */
  readonly t: number;
}

/**
 * Runs every parameter's update of a step (in plan order by default; the pool spreads them). `host`:
 * the optimizers' host access to arena values (default: views of `memory`).
 */
export type UpdateRunner = (
  plan: StepPlan, lrFactor: number, k: Kernels, memory: WebAssembly.Memory, resolve: (name: string) => OptimizerDef, host?: HostArena,
) => void;

/** Apply the update of parameter `index` of group `group`, with this thread's kernels and scratch. */
export function runUpdate(
  plan: StepPlan, lrFactor: number, group: number, index: number, k: Kernels, memory: WebAssembly.Memory, scratch: Ptr,
  resolve: (name: string) => OptimizerDef = getOptimizer, host: HostArena = memoryHost(memory),
): void {
  const g = plan.groups[group];
  const p = g.params[index];
  const step = plan.t + 1 - (p.step0 ?? 0);
  resolve(g.optimizer).step({ kernels: k, step, lr: (g.options.lr as number) * lrFactor, scratch, memory, host }, p, g.options);
}

/**
 * Estimated work of one parameter's update at this step (the optimizer's `cost`, else 32 units per
 * element): for balancing parameters across threads.
 */
export function updateCost(plan: StepPlan, group: number, index: number, resolve: (name: string) => OptimizerDef = getOptimizer): number {
  const g = plan.groups[group];
  const p = g.params[index];
  const def = resolve(g.optimizer);
  return def.cost?.(p.shape, g.options, plan.t + 1 - (p.step0 ?? 0)) ?? 32 * p.size;
}

/** Every parameter's update on the calling thread, in plan order. */
export const runUpdatesInOrder: UpdateRunner = (plan, lrFactor, k, memory, resolve, host = memoryHost(memory)) => {
  plan.groups.forEach((g, gi) => g.params.forEach((_, pi) => runUpdate(plan, lrFactor, gi, pi, k, memory, plan.scratch, resolve, host)));
};

/**
 * Apply one step: check gradients (finite, global norm), clip, evaluate the schedule, run each group's
 * optimizer on each of its parameters. Throws NON_FINITE_GRAD before writing anything.
 */
export function runStep(
  plan: StepPlan, k: Kernels, memory: WebAssembly.Memory,
  resolve: (name: string) => OptimizerDef = getOptimizer, updates: UpdateRunner = runUpdatesInOrder,
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
  updates(plan, factor, k, memory, resolve);
  return { step: plan.t + 1, skipped: false, gradNorm, lrFactor: factor };
}
