/**
 * The pool's control block: one SharedArrayBuffer read and written with Atomics by the main thread, the
 * step's leader worker and the helper workers. Kernel calls are dispatched through it, not through
 * Piscina tasks (a task costs tens of µs; a wake-up through a shared word costs about one).
 *
 * Int32 words:
 *   SEQ        command counter; the leader bumps it (and notifies) to wake the helpers
 *   EXIT       nonzero: helpers leave their loop
 *   SPIN       nonzero: waiting threads may spin before sleeping (threads ≤ cores)
 *   CRASH      test hook: helper slot + 1 that must die (−(slot + 1): whose kernel must throw) at its
 *              next command (0: none)
 *   CRASH_AT   test hook: 0 any command, 1 only a command to run parameter updates
 *   READY+w    1 while helper slot w is serving
 *   DEAD+w     set by the main thread when helper slot w's worker died
 *   TAG+w      the command number assigned to helper slot w, stored (atomically) after its arguments:
 *              a helper runs a command exactly once, when TAG+w exceeds the last one it ran
 *   DONE+w     the command number helper slot w last finished
 *   ERR+w      nonzero when helper slot w's last kernel threw
 * Float64 words (after the int32 block), per helper slot w, ARGS_STRIDE values:
 *   [0] kernel index in KERNEL_NAMES, [1] argument count, [2..] arguments; and a result slot per helper.
 */
export const MAX_HELPERS = 63;
export const SEQ = 0;
export const EXIT = 1;
export const SPIN = 2;
export const CRASH = 3;
export const CRASH_AT = 4;
export const READY = 8;
export const DEAD = READY + MAX_HELPERS + 1;
export const DONE = DEAD + MAX_HELPERS + 1;
export const ERR = DONE + MAX_HELPERS + 1;
export const TAG = ERR + MAX_HELPERS + 1;
export const INT_WORDS = TAG + MAX_HELPERS + 1;
export const ARGS_STRIDE = 24;
export const ARGS_OFFSET = INT_WORDS * 4;
export const RESULTS_OFFSET = ARGS_OFFSET + MAX_HELPERS * ARGS_STRIDE * 8;
export const CONTROL_BYTES = RESULTS_OFFSET + MAX_HELPERS * 8;

export interface Control {
  readonly i32: Int32Array;
  readonly args: Float64Array;
  readonly results: Float64Array;
}

export function controlViews(sab: SharedArrayBuffer): Control {
  return {
    i32: new Int32Array(sab, 0, INT_WORDS),
    args: new Float64Array(sab, ARGS_OFFSET, MAX_HELPERS * ARGS_STRIDE),
    results: new Float64Array(sab, RESULTS_OFFSET, MAX_HELPERS),
  };
}

/** Polls before a waiting thread sleeps in Atomics.wait (when spinning is allowed). */
export const SPIN_POLLS = 20000;
