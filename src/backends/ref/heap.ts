/** Typed views over the arena for the scalar reference kernels, re-created when the memory grows. */
export interface RefMemory {
  readonly buffer: ArrayBufferLike;
}

export class Heap {
  private f32v: Float32Array;
  private f64v: Float64Array;

  constructor(private readonly memory: RefMemory) {
    this.f32v = new Float32Array(memory.buffer);
    this.f64v = new Float64Array(memory.buffer);
  }

  private refresh(): void {
    if (this.f32v.buffer !== this.memory.buffer || this.f32v.length * 4 !== this.memory.buffer.byteLength) {
      this.f32v = new Float32Array(this.memory.buffer);
      this.f64v = new Float64Array(this.memory.buffer);
    }
  }

  /** The whole memory as f32 (index = byte offset >> 2). */
  get f32(): Float32Array {
    this.refresh();
    return this.f32v;
  }

  /** The whole memory as f64 (index = byte offset >> 3). */
  get f64(): Float64Array {
    this.refresh();
    return this.f64v;
  }
}

export const f = Math.fround;

/** PyTorch's lerp in f32: a + w·(b − a) when |w| < 0.5, else b − (b − a)·(1 − w). */
export function lerp(a: number, b: number, w: number, omw: number, small: boolean): number {
  const d = f(b - a);
  return small ? f(a + f(w * d)) : f(b - f(d * omw));
}

/** Lane-order accumulator: four f64 partial sums of squares indexed by position mod 4. */
export class LaneSum {
  s0 = 0; s1 = 0; s2 = 0; s3 = 0;
  add(lane: number, x: number): void {
    const q = x * x;
    if (lane === 0) this.s0 += q;
    else if (lane === 1) this.s1 += q;
    else if (lane === 2) this.s2 += q;
    else this.s3 += q;
  }
  total(): number {
    return (this.s0 + this.s1) + (this.s2 + this.s3);
  }
}

/** `normScale`'s scale: f32(√(t/s)) in f64, 0 for s = 0 or a result beyond the f32 range. */
export function normScaleOf(s: number, t: number): number {
  if (s === 0) return 0;
  const r = Math.fround(Math.sqrt(t / s));
  return r === Infinity ? 0 : r;
}
