/** fisher kernels: see src/kernels/fisher.ts. */
export {};
