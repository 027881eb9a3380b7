/** Matrix optimizers: RACS, Alice, Alice-0, GaLore (Gong et al. 2025, arXiv 2502.07752). */
import type { OptimizerDef } from '../types.js';
import { alice, alice0 } from './alice.js';
import { galore } from './galore.js';
import { racs } from './racs.js';

export const FISHER_OPTIMIZERS: OptimizerDef[] = [racs, galore, alice, alice0];
