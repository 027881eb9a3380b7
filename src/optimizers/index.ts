/** The optimizer registry: name → definition. */
import { FisheroptError } from '../errors.js';
import { adafactor } from './adafactor.js';
import { adam, adamw } from './adam.js';
import { EIGEN_OPTIMIZERS } from './eigen/index.js';
import { FISHER_OPTIMIZERS } from './fisher/index.js';
import { NORMALIZED_OPTIMIZERS } from './normalized/index.js';
import { sgd } from './sgd.js';
import type { OptimizerDef } from './types.js';

const registry = new Map<string, OptimizerDef>();

/** Make an optimizer available by name (built-ins are registered on import). */
export function registerOptimizer(def: OptimizerDef): void {
  registry.set(def.name, def);
}

export function getOptimizer(name: string): OptimizerDef {
  const def = registry.get(name);
  if (!def) {
    throw new FisheroptError('UNKNOWN_OPTIMIZER', `unknown optimizer ${JSON.stringify(name)}; available: ${[...registry.keys()].join(', ')}`);
  }
  return def;
}

export function optimizerNames(): string[] {
  return [...registry.keys()];
}

for (const def of [sgd, adam, adamw, adafactor, ...FISHER_OPTIMIZERS, ...EIGEN_OPTIMIZERS, ...NORMALIZED_OPTIMIZERS]) registerOptimizer(def);

export { adafactor, adam, adamw, sgd };
export type { HostArena, OptimizerDef, ParamRef, SlotSpec, StepContext } from './types.js';
