/**
 * Trajectory replay: run an optimizer over given gradients and return the parameters after every step.
 * Used for parity checks against other frameworks and for bug reports (`npx fisheropt replay case.json`).
 *
 * Every parameter goes to the named optimizer when it can update it (no name-based routing); a matrix
 * optimizer's non-matrix parameters go to the fallback (AdamW unless the case says otherwise).
 */
import type { BackendChoice } from './backends/index.js';
import { FisheroptError } from './errors.js';
import { createOptimizer, type NonFinitePolicy, type StepInfo } from './optimizer.js';
import type { Options, Schedule } from './options.js';
import type { FallbackConfig } from './routing.js';

export interface ReplayCase {
  optimizer: string;
  options?: Options;
  backend?: BackendChoice;
  /** `pool` backend: threads. */
  threads?: number;
  params: Record<string, { shape: number[]; data: number[] }>;
  /** One record per step: the gradient of every parameter, row-major. */
  grads: Record<string, number[]>[];
  schedule?: Schedule;
  clipGradNorm?: number;
  nonFinite?: NonFinitePolicy;
  fallback?: { optimizer?: string; options?: Options };
}

export interface ReplayResult {
  optimizer: string;
  backend: string;
  /** Parameters after each step, by name. */
  steps: Record<string, number[]>[];
  /** Per-step info (step counter, skipped, gradient norm). */
  info: StepInfo[];
  stateBytes: number;
}

const CASE_KEYS = ['optimizer', 'options', 'backend', 'threads', 'params', 'grads', 'schedule', 'clipGradNorm', 'nonFinite', 'fallback'];

export async function replay(c: ReplayCase): Promise<ReplayResult> {
  const bad = (msg: string) => new FisheroptError('BAD_CASE', `replay case: ${msg}`);
  if (c === null || typeof c !== 'object') throw bad('expected a JSON object');
  for (const k of Object.keys(c)) if (!CASE_KEYS.includes(k)) throw bad(`unknown field ${JSON.stringify(k)}; known: ${CASE_KEYS.join(', ')}`);
  if (!Array.isArray(c.grads)) throw bad('"grads" must be an array with one object of gradients per step');
  if (c.params === null || typeof c.params !== 'object') throw bad('"params" must be an object of { shape, data } by name');
  const fallback: FallbackConfig = { ...c.fallback, pattern: null };
  const opt = await createOptimizer({
    optimizer: c.optimizer,
    options: c.options,
    params: c.params,
    backend: c.backend,
    threads: c.threads,
    schedule: c.schedule,
    clipGradNorm: c.clipGradNorm,
    nonFinite: c.nonFinite,
    fallback,
  });
  const steps: Record<string, number[]>[] = [];
  const info: StepInfo[] = [];
  try {
    for (const [i, g] of c.grads.entries()) {
      if (g === null || typeof g !== 'object') throw bad(`grads[${i}] must be an object of gradients by name`);
      const missing = opt.paramNames.filter((n) => !(n in g));
      if (missing.length) throw bad(`grads[${i}] has no gradient for ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
      try {
        opt.setGrads(g);
      } catch (e) {
        throw bad(`grads[${i}]: ${(e as Error).message}`);
      }
      info.push(await opt.step());
      await opt.download();
      steps.push(Object.fromEntries(opt.paramNames.map((n) => [n, Array.from(opt.param(n))])));
    }
  } finally {
    await opt.close();
  }
  return { optimizer: c.optimizer, backend: opt.backend, steps, info, stateBytes: opt.stateBytes() };
}
