/** Stateless and momentum-only normalized-update optimizers: SinkGD, SWAN (Scetbon, Ma et al. 2025) and Muon. */
import type { OptimizerDef } from '../types.js';
import { muon } from './muon.js';
import { sinkgd } from './sinkgd.js';
import { swan } from './swan.js';

export const NORMALIZED_OPTIMIZERS: OptimizerDef[] = [sinkgd, swan, muon];
export { muon, muonShapeScale } from './muon.js';
export { sinkgd } from './sinkgd.js';
export { swan } from './swan.js';
export * from './operators.js';
