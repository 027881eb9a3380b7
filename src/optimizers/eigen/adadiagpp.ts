/**
 * AdaDiag++ (two-sided): Adam in the full left and right singular bases of the current gradient,
 * refreshed every T steps (SOAP without the EMA of the statistics). Nguyen et al. 2025 (arXiv
 * 2502.07488); spec ../shared/papers/adadiag.md §2.3 (and alice-racs.md §3.5 for the SOAP relation).
 *
 * Update at step t:
 *   θ ← θ·(1 − η·λ)
 *   if (t − 1) mod T = 0:  G = U·Σ·Vᵀ (full SVD: U m×m, V n×n);  P ← U, Q ← V
 *                          [momentum 'rotate': M ← (P_newᵀ·P_old)·M·(Q_oldᵀ·Q_new)]
 *   G̃ = Pᵀ·G·Q                                   (= [Σ | 0] exactly at a refresh: set from Σ, §5.3)
 *   M ← β1·M + (1 − β1)·G̃;  V ← β2·V + (1 − β2)·G̃²
 *   N = (M / (1 − β1ᵗ)) / (√V / √(1 − β2ᵗ) + ε)
 *   θ ← θ − η·P·N·Qᵀ
 *
 * State: M, V (m×n), P (m×m), Q (n×n, stored as Qᵀ): stateBytes = 4·(2mn + m² + n²) (spec §2.1).
 * Defaults: as `adadiag.ts` (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0, T 200,
 * biasCorrection true, momentum 'keep').
 *
 * Choices: as `adadiag.ts`, plus the full SVD (a thin one would drop the complement, §1). The §5.3
 * hazard (round-off noise in the structural zeros of Pᵀ·G·Q mapped to ±1 by Adam's first step) is
 * avoided by setting G̃ = [Σ | 0] from the singular values at refresh steps (the exact value; the
 * spec's "projection in f64" mitigation, taken to its limit). First step: N = [I | 0] (σ > ε), so
 * Δ₁ = −η·U_s·V_sᵀ, the polar factor of G (tested against an f64 polar factor).
 */
import { makeSvdAdam } from './svd-adam.js';

export const adadiagpp = makeSvdAdam('adadiagpp', 'AdaDiag++: Adam in the full two-sided singular basis of the gradient, refreshed every T steps', true);
