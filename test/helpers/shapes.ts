/** The shape tables every backend's conformance tests run on (kernels.test.ts, gemm.test.ts, webgpu.test.ts). */

/** Vector lengths: empty, tail-only, exact multiples of 4 and long. */
export const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 1000];

/** m×n matrices for the row/column kernels. */
export const MATRICES: [number, number][] = [
  [1, 1], [1, 7], [7, 1], [3, 5], [5, 3], [37, 101], [129, 3], [64, 64],
  [0, 5], [5, 0], // degenerate: must agree (NaN means where ref divides by zero) and write nothing extra
  [3, 4099], // wider than one column block of adafactor_col_var_f32
];

/** m×n×k products for gemm and syrk. */
export const GEMM_SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 5], [17, 1, 5], [1, 1, 300], [5, 1, 300], [1, 300, 7], [4, 8, 4], [8, 16, 9],
  [37, 101, 13], [129, 3, 67], [3, 129, 67], [13, 9, 260], [2048, 6, 16], [6, 2048, 16],
  [130, 520, 260], // more than one row block (MC), column block (NC) and depth block (KC), with edges
];
