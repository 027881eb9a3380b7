/** Matrix optimizers: Eigen-Adam, SOAP, Shampoo, AdaDiag, AdaDiag++, AdaDiag with Adafactor (Gong et al. 2025; Nguyen et al. 2025, arXiv 2502.07488). */
import type { OptimizerDef } from '../types.js';
import { adadiag } from './adadiag.js';
import { adadiagAdafactor } from './adadiag-adafactor.js';
import { adadiagpp } from './adadiagpp.js';
import { eigenadam } from './eigenadam.js';
import { shampoo } from './shampoo.js';
import { soap } from './soap.js';

export const EIGEN_OPTIMIZERS: OptimizerDef[] = [eigenadam, adadiag, adadiagpp, soap, shampoo, adadiagAdafactor];
