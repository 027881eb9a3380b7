/**
 * AdaDiag (one-sided): Adam in the basis of the current gradient's singular vectors on the smaller
 * side, refreshed every T steps. Nguyen, Liu, Chen & Liu 2025, "Improving Adaptive Moment Optimization
 * via Preconditioner Diagonalization" (arXiv 2502.07488); spec ../shared/papers/adadiag.md §2.2.
 *
 * Update at step t (m ≤ n; for m > n the right side: P = V (n×n), G̃ = G·P, Δ = N·Pᵀ):
 *   θ ← θ·(1 − η·λ)                                      (decoupled weight decay, before the update)
 *   if (t − 1) mod T = 0:  G = U·Σ·Vᵀ (svd);  P ← U (m×m)   [and with momentum 'rotate': M ← P_newᵀ·P_old·M]
 *   G̃ = Pᵀ·G                                              (= Σ·Vᵀ, taken from the factors, at a refresh)
 *   M ← β1·M + (1 − β1)·G̃;  V ← β2·V + (1 − β2)·G̃²       (both in the rotated coordinates)
 *   N = (M / (1 − β1ᵗ)) / (√V / √(1 − β2ᵗ) + ε)
 *   θ ← θ − η·P·N
 *
 * State, d = min(m, n): M, V (m×n), P (d×d): stateBytes = 4·(2mn + d²) (spec §2.1).
 * Defaults (spec §6, not the paper's, which are unknown): lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weightDecay 0, T (`updateInterval`) 200, biasCorrection true, momentum 'keep'.
 *
 * Choices where the spec is open:
 * - Refresh at t = 1, T+1, 2T+1, … (§1); the update is applied at t = 1 (GaLore-style, §3.1).
 * - Moments at a refresh (§3.3): 'keep' (option A, [R] default: M and V untouched) or 'rotate'
 *   (option B: M ← P_newᵀ·P_old·M, V untouched). The bias-correction clock is never restarted (§5.5).
 * - ε outside √V̂ with bias correction as torch.optim.AdamW (§5.4); `biasCorrection: false` drops it.
 * - Weight decay applied to θ_t before the update (§5.7, torch's order).
 * - Basis from `svd` (computed in f64, stored f32; §5.1). At a refresh G̃ is formed from the SVD factors
 *   (Σ·Vᵀ or U·Σ) rather than by a product with the new basis: the same value, without its round-off.
 * - A zero gradient at a refresh after t = 1 keeps the previous basis (§5.6).
 * - Signs follow `svd`'s deterministic convention; no sign alignment (option C) is done (§5.2).
 * First step: N = sign(G̃) (up to ε), so Δ₁ = −η·P·sign(Pᵀ·G) (§5.6; tested).
 */
import { makeSvdAdam } from './svd-adam.js';

export const adadiag = makeSvdAdam('adadiag', 'AdaDiag: Adam in the singular basis of the gradient (smaller side), refreshed every T steps', false);
