/** A byte offset into the arena's memory. */
export type Ptr = number;
