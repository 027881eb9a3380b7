/** eigen kernels: see src/kernels/eigen.ts. */
export {};
