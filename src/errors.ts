/** Every error the library throws on bad input or bad state, with a stable machine-readable `code`. */
export type ErrorCode =
  | 'UNKNOWN_OPTION'
  | 'BAD_OPTION'
  | 'UNKNOWN_OPTIMIZER'
  | 'UNKNOWN_BACKEND'
  | 'BACKEND_UNAVAILABLE'
  | 'UNKNOWN_PARAM'
  | 'DUPLICATE_PARAM'
  | 'BAD_SHAPE'
  | 'BAD_LENGTH'
  | 'BAD_VALUE'
  | 'NON_FINITE_GRAD'
  | 'UNROUTED_PARAM'
  | 'BAD_STATE'
  | 'NO_CONVERGENCE'
  | 'ARENA_TOO_LARGE'
  | 'ARENA_GROW_FAILED'
  | 'BAD_CASE'
  | 'WORKER_FAILED'
  | 'CLOSED'
  | 'DEVICE_ERROR'
  | 'DEVICE_LOST';

export class FisheroptError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'FisheroptError';
  }
}
