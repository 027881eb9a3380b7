/**
 * SOAP (two-sided; AdaDiag++ with EMA statistics): Adam in the Kronecker eigenbasis U_L ⊗ U_R of EMA
 * Gram statistics. Vyas et al. 2024 (arXiv 2409.11321), as framed by Gong et al. 2025 (arXiv
 * 2502.07752) Eq. 29 / Alg. 6; spec ../shared/papers/alice-racs.md §3.5.
 *
 * Update at step t:
 *   θ ← θ·(1 − η·λ)
 *   L ← β3·L + (1 − β3)·G·Gᵀ;  R ← β3·R + (1 − β3)·Gᵀ·G
 *   if (t − 1) mod K = 0:  U_L, U_R ← eigh(L), eigh(R) at t = 1;
 *                          afterwards U_X ← orth(X·U_X·Π) (columns re-sorted by diag(U_Xᵀ·X·U_X), V
 *                          permuted alike, then one power-iteration step + QR: SOAP's code)
 *   M ← β1·M + (1 − β1)·G                              (original coordinates)
 *   G̃ = U_Lᵀ·G·U_R,  M̃ = U_Lᵀ·M·U_R
 *   V ← β2·V + (1 − β2)·G̃²
 *   N = (M̃ / (1 − β1ᵗ)) / (√V / √(1 − β2ᵗ) + ε)
 *   θ ← θ − η·U_L·N·U_Rᵀ
 *
 * State: M, V (m×n), L, U_L (m×m), R, U_R (n×n): stateBytes = 4·(2mn + 2m² + 2n²).
 * Defaults: lr 1e-3, betas (0.9, 0.999, 0.999) (β3 = β2 as SOAP's shampoo_beta default), eps 1e-8,
 * weightDecay 0, K 10, biasCorrection true, skipFirstStep true, identityBasis false.
 * Choices:
 * - t = 1 only builds L, R and the bases (θ, M, V untouched; Adam's bias correction counts from t = 2),
 *   as SOAP's code does (spec adadiag.md §3.1): at t = 1 both bases come from G₁ alone, so
 *   U_Lᵀ·G₁·U_R = [Σ | 0] and Adam would map the round-off in its structural zeros to ±1 steps (§5.3).
 *   `skipFirstStep: false` applies the paper's Alg. 6 literally.
 * - Rank-deficient statistics: null-space eigenvectors are replaced by a deterministic Householder
 *   completion of the significant ones (`refreshGramBasis`), so backends agree. Residual limitation: a
 *   power-iteration refresh while the rank of R still grows inside the previous null space (m·K < n,
 *   e.g. K = 1 on a 4×9 matrix) orthonormalizes numerically dependent columns, and that part of the
 *   basis then depends on round-off (both bases valid; backends differ by ~1e-3 relative).
 * - Otherwise as `eigenadam.ts`: AdamW's bias correction and ε placement, M in the original space, V
 *   permuted with the basis re-sort, refresh at t = 1, K+1, …, no dimension cap (route large matrices
 *   such as embeddings to the fallback).
 */
import { makeGramAdam } from './gram-adam.js';

export const soap = makeGramAdam('soap', 'SOAP: Adam in the two-sided eigenbasis of EMA[G·Gᵀ], EMA[Gᵀ·G]', true, true);
