/** Matrix optimizers: Eigen-Adam, SOAP, Shampoo, AdaDiag, AdaDiag++, AdaDiag with Adafactor (Gong et al. 2025; Nguyen et al. 2025, arXiv 2502.07488). */
import type { OptimizerDef } from '../types.js';

export const EIGEN_OPTIMIZERS: OptimizerDef[] = [];
