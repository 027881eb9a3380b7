/**
 * Eigen-Adam (one-sided SOAP; equivalent to AdaDiag up to the source of the basis): Adam in the
 * eigenbasis of an EMA of the smaller-side gradient covariance. Gong et al. 2025, "Towards Efficient
 * Optimizer Design for LLM via Structured Fisher Approximation…" (arXiv 2502.07752), Eq. 13 / Alg. 7;
 * spec ../shared/papers/alice-racs.md §3.4, with SOAP's basis refresh (Vyas et al. 2024, arXiv 2409.11321).
 *
 * Update at step t (m ≤ n shown; for m > n the same on the right: S = EMA[GᵀG], G̃ = G·U, Δ = N·Uᵀ):
 *   θ ← θ·(1 − η·λ)                                   (decoupled weight decay, before the update)
 *   S ← β3·S + (1 − β3)·G·Gᵀ                           (syrk Gram-EMA, every step)
 *   if (t − 1) mod K = 0:  U ← eigh(S) at t = 1 (exact, descending);
 *                          afterwards U ← orth(S·U)   (one power-iteration step + Householder QR, SOAP)
 *   M ← β1·M + (1 − β1)·G                              (first moment in the ORIGINAL coordinates)
 *   G̃ = Uᵀ·G,  M̃ = Uᵀ·M
 *   V ← β2·V + (1 − β2)·G̃²                            (second moment in the rotated coordinates)
 *   N = (M̃ / (1 − β1ᵗ)) / (√V / √(1 − β2ᵗ) + ε)       (`adamDirection` with KEEP_M)
 *   θ ← θ − η·U·N
 *
 * State, d = min(m, n): M, V (m×n), S (d×d), U (d×d): stateBytes = 4·(2mn + 2d²) (spec §3.4: 2mn + 2m²).
 * Defaults: lr 1e-3, betas (β1, β2, β3) = (0.9, 0.999, 0.999), eps 1e-8, weightDecay 0, K
 * (`updateInterval`) 10 (SOAP's precondition frequency), biasCorrection true, skipFirstStep false,
 * identityBasis false.
 *
 * Choices where the spec is open (§3.4 "not stated"):
 * - Bias correction on (Adam's), ε outside √V̂ as torch.optim.AdamW; `biasCorrection: false` gives the
 *   paper's literal M̃ ⊘ √V form (with ε).
 * - The update is applied at t = 1 (the paper's Alg. 7); `skipFirstStep: true` does as SOAP's code
 *   (t = 1 only builds S and U; θ, M, V untouched; bias correction counts from t = 2).
 * - M lives in the original coordinates, so a basis change needs no moment handling; V stays in
 *   rotated coordinates. At a power-iteration refresh the basis columns are first re-sorted by their
 *   estimated eigenvalues diag(Uᵀ·S·U) and V's rows (columns, for m > n) are permuted with them, as
 *   SOAP's code does; QR sign flips of columns do not matter (V is squared, M is not rotated).
 * - Eigenvectors of (numerically) zero eigenvalues of S (≤ 1e-5·λ_max: a rank-deficient S) are
 *   replaced by the Householder completion of the others, so every backend picks the same basis.
 * - Refresh at t = 1, K+1, 2K+1, … (spec adadiag.md §1: the off-by-one is immaterial).
 * - `identityBasis: true` freezes U = I: the optimizer is then AdamW up to f32 rounding (a test).
 */
import { makeGramAdam } from './gram-adam.js';

export const eigenadam = makeGramAdam('eigenadam', 'Eigen-Adam / one-sided SOAP: Adam in the eigenbasis of EMA[G·Gᵀ] (smaller side)', false, false);
