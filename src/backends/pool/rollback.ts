/**
 * Rollback of a failed pool step. Each parameter's update is preceded, on the thread that runs it, by a
 * copy of the regions it writes (its values and its state slots: `PlanParam.save`) to their backups;
 * once the copy is complete, the parameter's mark (an Int32 per parameter, in plan order, in a
 * SharedArrayBuffer shared by every worker and the main thread) is set to the step's token, a number
 * no earlier step used. When the step fails, exactly the parameters marked with its token are put back:
 * the others were not written (their update had not started, or their backup was incomplete and
 * their update had not started either). Copying each parameter just before its update spreads the
 * backups over the threads like the updates, and the update then reads values the copy just
 * brought into cache.
 */
import type { StepPlan } from '../../engine.js';
import type { Kernels } from '../../kernels.js';

/** Most parameters a pool optimizer may hold (the marks buffer's maximum size / 4). */
export const MAX_MARKS = 1 << 22;

/** A growable marks buffer shared with the workers (views made without a length follow its growth). */
export function createMarks(): SharedArrayBuffer {
  const Sab = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer;
  return new Sab(4096, { maxByteLength: 4 * MAX_MARKS });
}

/** Grow the marks buffer to hold `count` parameters (between steps only). */
export function ensureMarks(marks: SharedArrayBuffer, count: number): void {
  const growable = marks as unknown as { byteLength: number; grow(n: number): void };
  const need = 4 * Math.min(MAX_MARKS, count);
  if (growable.byteLength < need) growable.grow(Math.min(4 * MAX_MARKS, Math.max(need, 2 * growable.byteLength)));
}

/** Index of parameter `index` of group `group` in plan order. */
function flatIndex(plan: StepPlan, group: number, index: number): number {
  let i = index;
  for (let g = 0; g < group; g++) i += plan.groups[g].params.length;
  return i;
}

/** Back up the regions parameter (group, index)'s update writes, then mark it with `token`. */
export function saveParam(plan: StepPlan, group: number, index: number, k: Kernels, marks: Int32Array, token: number): void {
  const save = plan.groups[group].params[index].save;
  if (!save) return;
  for (const [src, n, backup] of save) k.copy(backup, src, n);
  Atomics.store(marks, flatIndex(plan, group, index), token);
}

/** Put back every parameter marked with `token` (`copy(dst, src, floats)`). */
export function restoreSaved(plan: StepPlan, marks: Int32Array, token: number, copy: (dst: number, src: number, floats: number) => void): void {
  let i = 0;
  for (const g of plan.groups) {
    for (const p of g.params) {
      if (p.save && Atomics.load(marks, i) === token) for (const [src, n, backup] of p.save) copy(src, backup, n);
      i++;
    }
  }
}
