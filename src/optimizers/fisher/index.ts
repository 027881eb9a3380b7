/** Matrix optimizers: RACS, Alice, Alice-0, GaLore (Gong et al. 2025, arXiv 2502.07752). */
import type { OptimizerDef } from '../types.js';

export const FISHER_OPTIMIZERS: OptimizerDef[] = [];
