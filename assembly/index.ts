/**
 * fisheropt kernels: WebAssembly SIMD (f32x4 / f64x2) implementations of the kernel set documented in
 * `src/kernels.ts`, bit-identical to the scalar oracle `src/backends/ref.ts`.
 *
 * ABI: pointers are byte offsets into the imported memory (`usize`), counts `i32`, scalars `f32`,
 * reductions return `f64`. Export names are the snake_case `WasmExports` of `src/backends/wasm.ts`.
 * The module allocates nothing and keeps no state: no mutable globals, no statics, no data segments.
 */

export { scale_f32, axpy_f32, copy_f32, fill_f32, fill_uniform_f32, add_diag_f32, norm_scale_f32, sgd_f32, adam_f32, lerp_f32, adam_direction_f32 } from './elementwise';
export {
  adafactor_row_var_f32,
  adafactor_col_var_f32,
  adafactor_factored_var_f32,
  adafactor_factored_sumsq_f32,
  adafactor_factored_apply_f32,
  adafactor_vec_var_f32,
  adafactor_vec_sumsq_f32,
  adafactor_vec_apply_f32,
} from './adafactor';
export { sumsq_f32, row_sumsq_f32, col_sumsq_f32, row_mean_std_f32, scale_rows_cols_f32, sinkhorn_round_f32, sinkgd_round_f32, row_standardize_f32, max_abs_f32, dot_f32 } from './reduce';
export * from './gemm';
export * from './linalg';
export * from './fisher';
export * from './eigen';
