/**
 * fisheropt: memory-efficient optimizers on WebAssembly SIMD kernels.
 *
 * ```ts
 * import { createOptimizer } from 'fisheropt';
 * const opt = await createOptimizer({ optimizer: 'adamw', options: { lr: 1e-3 }, params: { w: { shape: [3, 5] } } });
 * opt.grad('w').set(gradient);   // zero-copy views into the arena
 * opt.step();
 * ```
 */
export { createOptimizer, createOptimizerSync, Optimizer } from './optimizer.js';
export type { NonFinitePolicy, OptimizerConfig, ParamInit, StepInfo } from './optimizer.js';
export { DEFAULT_FALLBACK_PATTERN, route } from './routing.js';
export type { FallbackConfig, Group, ParamDesc, ParamMatcher, RouteRule } from './routing.js';
export { getOptimizer, optimizerNames, registerOptimizer } from './optimizers/index.js';
export type { HostArena, OptimizerDef, ParamRef, SlotSpec, StepContext } from './optimizers/index.js';
export {
  colNormalize, colNormalizeScratchBytes, rowNormalize, rowNormalizeScratchBytes, rowStandardize,
  rowStandardizeScratchBytes, sinkhorn, sinkhornNormalize, sinkhornNormalizeScratchBytes, sinkhornScratchBytes,
  whiten, whitenScratchBytes,
} from './optimizers/normalized/operators.js';
export { MUON_COEFFS, newtonSchulzInvSqrt, newtonSchulzPolar, invSqrtScratchBytes, polarScratchBytes } from './linalg/newton-schulz.js';
export { scheduleFactor } from './options.js';
export type { OptionSchema, OptionSpec, Options, Schedule } from './options.js';
export { FisheroptError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { BACKENDS, createBackend, createBackendSync } from './backends/index.js';
export type { Backend, BackendChoice, BackendName } from './backends/index.js';
export { setWebGpuDevice } from './backends/webgpu/device.js';
export { defaultWasmUrl, loadWasmModule, setWasmSource, wasmAvailable } from './backends/wasm.js';
export type { WasmSource } from './backends/wasm.js';
export { KernelFlag, KERNEL_NAMES } from './kernels.js';
export type { Kernels, Ptr } from './kernels.js';
export { Arena } from './arena.js';
export { replay } from './replay.js';
export type { ReplayCase, ReplayResult } from './replay.js';
export { trainSpirals, spirals, SPIRALS_DEFAULTS } from './demo/spirals.js';
export type { SpiralsConfig, SpiralsProgress, SpiralsResult } from './demo/spirals.js';
