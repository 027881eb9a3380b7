/**
 * A small LLaMA-style byte-level decoder written with TF.js core ops:
 *
 *   bytes → one-hot · embed → N × [x += Attn(RMSNorm(x)); x += SwiGLU(RMSNorm(x))] → RMSNorm → · lm_headᵀ → logits
 *
 * - RMSNorm with a learned gain (eps 1e-5).
 * - Causal multi-head self-attention: separate wq, wk, wv, wo (d×d, no biases), RoPE (base 10000,
 *   rotate-half) on q and k, softmax(q·kᵀ/√hd + mask) with −1e9 above the diagonal.
 * - SwiGLU MLP: (silu(x·w_gateᵀ) ⊙ x·w_upᵀ)·w_downᵀ.
 * - Untied embedding (256×d) and head (256×d); vocabulary: the 256 byte values.
 *
 * Weights are stored as PyTorch stores them ([out, in]), so a matrix optimizer sees the same m×n as in
 * the papers. Parameter names route by the library's default rules: the 2-D attention and MLP weights to
 * the chosen optimizer; `embed`, the `*_norm` gains and `lm_head` to the AdamW fallback.
 *
 * Two gradients are written by hand, because TF.js's wasm backend runs only 2-D untransposed matmuls
 * on its fast path and has no `gather` gradient kernel:
 * - `linear(x, W) = x·Wᵀ` with dx = dy·W and dW = (dyᵀ)·x, explicit transposes, untransposed matmuls;
 * - the embedding as one-hot·E, with dE = (one-hotᵀ)·dy and a zero gradient for the one-hot input.
 *
 * Initialization: N(0, 0.02) from a seeded generator, wo and w_down scaled by 1/√(2N); norm gains 1.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { FisheroptError } from '../errors.js';
import { mulberry32 } from '../util/rng.js';
import type { Tf } from './tf.js';

export const VOCAB = 256;

export interface ModelConfig {
  /** Model width d. */
  dim: number;
  /** Number of blocks N. */
  layers: number;
  /** Attention heads (d divisible by heads, head size even). */
  heads: number;
  /** SwiGLU hidden width. */
  ffn: number;
}

/** Named sizes. `large` (about 1M parameters) is the CLI's default, `small` the one-minute demo (`npm run train`); `ffn` ≈ 8d/3 rounded up to a multiple of 8, as LLaMA. */
export const MODEL_SIZES: Record<string, ModelConfig> = {
  tiny: { dim: 32, layers: 1, heads: 2, ffn: 88 },
  small: { dim: 64, layers: 2, heads: 4, ffn: 176 },
  medium: { dim: 128, layers: 2, heads: 4, ffn: 344 },
  large: { dim: 128, layers: 4, heads: 4, ffn: 344 },
  xl: { dim: 256, layers: 4, heads: 8, ffn: 688 },
};

export function checkModel(c: ModelConfig, where = 'model'): void {
  for (const k of ['dim', 'layers', 'heads', 'ffn'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new FisheroptError('BAD_OPTION', `${where}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.dim % c.heads !== 0 || (c.dim / c.heads) % 2 !== 0) {
    throw new FisheroptError('BAD_OPTION', `${where}: dim ${c.dim} must split into ${c.heads} heads of even size`);
  }
}

/** Parameter names and shapes, in a fixed order. */
export function paramShapes(c: ModelConfig): Record<string, number[]> {
  const d = c.dim;
  const s: Record<string, number[]> = { embed: [VOCAB, d] };
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}.`;
    s[`${p}attn_norm`] = [d];
    for (const w of ['wq', 'wk', 'wv', 'wo']) s[`${p}attn.${w}`] = [d, d];
    s[`${p}mlp_norm`] = [d];
    s[`${p}mlp.w_gate`] = [c.ffn, d];
    s[`${p}mlp.w_up`] = [c.ffn, d];
    s[`${p}mlp.w_down`] = [d, c.ffn];
  }
  s.final_norm = [d];
  s.lm_head = [VOCAB, d];
  return s;
}

export function paramCount(c: ModelConfig): number {
  return Object.values(paramShapes(c)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
}

/** Initial values: N(0, 0.02) (Box–Muller on a seeded generator), residual outputs ×1/√(2N), gains 1. */
export function initParams(c: ModelConfig, seed: number): Record<string, Float32Array> {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(paramShapes(c))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (shape.length === 1) a.fill(1);
    else {
      const std = 0.02 * (/\.(wo|w_down)$/.test(name) ? 1 / Math.sqrt(2 * c.layers) : 1);
      for (let i = 0; i < n; i++) a[i] = std * normal();
    }
    out[name] = a;
  }
  return out;
}

type Grad2 = (x: Tensor, w: Tensor) => Tensor2D;

/** The model's forward pass on one TF.js instance; `params` are tensors in `paramShapes` order by name. */
export class Decoder {
  readonly names: string[];
  readonly shapes: number[][];
  private linear: Grad2;
  private embedding: Grad2;
  private readonly tables = new Map<number, { cos: Tensor; sin: Tensor; mask: Tensor }>();

  /** `stockGradients`: TF.js's own matMul gradients instead of the hand-written ones (for checking them). */
  constructor(readonly tf: Tf, readonly config: ModelConfig, stockGradients = false) {
    checkModel(config);
    const s = paramShapes(config);
    this.names = Object.keys(s);
    this.shapes = Object.values(s);
    // x·Wᵀ; backward: dx = dy·W, dW = dyᵀ·x (2-D, untransposed matmuls after explicit transposes).
    this.linear = tf.customGrad(((x: Tensor2D, w: Tensor2D, save: (t: Tensor[]) => void) => {
      save([x, w]);
      return {
        value: tf.matMul(x, tf.transpose(w)),
        gradFunc: (dy: Tensor2D, [sx, sw]: Tensor[]) => [tf.matMul(dy, sw as Tensor2D), tf.matMul(tf.transpose(dy), sx as Tensor2D)],
      };
    }) as never) as unknown as Grad2;
    // one-hot·E; backward: dE = one-hotᵀ·dy, no gradient to the one-hot input.
    this.embedding = tf.customGrad(((oh: Tensor2D, e: Tensor2D, save: (t: Tensor[]) => void) => {
      save([oh]);
      return {
        value: tf.matMul(oh, e),
        gradFunc: (dy: Tensor2D, [soh]: Tensor[]) => [tf.zerosLike(soh), tf.matMul(tf.transpose(soh), dy)],
      };
    }) as never) as unknown as Grad2;
    if (stockGradients) {
      this.linear = (x, w) => tf.matMul(x as Tensor2D, w as Tensor2D, false, true);
      this.embedding = (oh, e) => tf.matMul(oh as Tensor2D, e as Tensor2D);
    }
  }

  /** RoPE cos/sin tables [T, hd] (rotate-half layout) and the causal mask [T, T], kept per length. */
  private table(T: number): { cos: Tensor; sin: Tensor; mask: Tensor } {
    let t = this.tables.get(T);
    if (!t) {
      const hd = this.config.dim / this.config.heads;
      const half = hd / 2;
      const cos = new Float32Array(T * hd), sin = new Float32Array(T * hd), mask = new Float32Array(T * T);
      for (let p = 0; p < T; p++) {
        for (let i = 0; i < half; i++) {
          const a = p * Math.pow(10000, (-2 * i) / hd);
          cos[p * hd + i] = cos[p * hd + i + half] = Math.cos(a);
          sin[p * hd + i] = sin[p * hd + i + half] = Math.sin(a);
        }
        for (let q = p + 1; q < T; q++) mask[p * T + q] = -1e9;
      }
      const tf = this.tf;
      t = { cos: tf.keep(tf.tensor2d(cos, [T, hd])), sin: tf.keep(tf.tensor2d(sin, [T, hd])), mask: tf.keep(tf.tensor2d(mask, [T, T])) };
      this.tables.set(T, t);
    }
    return t;
  }

  /** One-hot rows [n, 256] of `bytes`, f32 (made as int32 and cast: the wasm backend's OneHot writes int bits into an f32 output). */
  private oneHot(bytes: Int32Array): Tensor2D {
    const tf = this.tf;
    return tf.cast(tf.oneHot(tf.tensor1d(bytes, 'int32'), VOCAB), 'float32') as Tensor2D;
  }

  /** Logits [B·T, 256] for `tokens` (B×T bytes, row-major). */
  logits(params: readonly Tensor[], tokens: Int32Array, B: number, T: number): Tensor2D {
    const tf = this.tf;
    const { dim: d, heads: H, layers: L } = this.config;
    const hd = d / H;
    const P = (name: string) => params[this.names.indexOf(name)];
    const { cos, sin, mask } = this.table(T);
    const norm = (x: Tensor, g: Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), g);
    const heads = (x: Tensor) => tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]);
    const rope = (x: Tensor) => {
      const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, hd / 2]);
      const x2 = tf.slice(x, [0, 0, 0, hd / 2], [-1, -1, -1, hd / 2]);
      return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
    };
    let x: Tensor = this.embedding(this.oneHot(tokens), P('embed'));
    for (let i = 0; i < L; i++) {
      const p = `layers.${i}.`;
      const h = norm(x, P(`${p}attn_norm`));
      const q = rope(heads(this.linear(h, P(`${p}attn.wq`))));
      const k = rope(heads(this.linear(h, P(`${p}attn.wk`))));
      const v = heads(this.linear(h, P(`${p}attn.wv`)));
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), mask));
      const o = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, d]);
      x = tf.add(x, this.linear(o, P(`${p}attn.wo`)));
      const m = norm(x, P(`${p}mlp_norm`));
      const g = this.linear(m, P(`${p}mlp.w_gate`));
      const u = this.linear(m, P(`${p}mlp.w_up`));
      x = tf.add(x, this.linear(tf.mul(tf.mul(g, tf.sigmoid(g)), u), P(`${p}mlp.w_down`)));
    }
    return this.linear(norm(x, P('final_norm')), P('lm_head'));
  }

  /** Mean next-byte cross-entropy (nats) of `targets` given `tokens`, both B×T. */
  loss(params: readonly Tensor[], tokens: Int32Array, targets: Int32Array, B: number, T: number): Tensor {
    const tf = this.tf;
    return tf.losses.softmaxCrossEntropy(this.oneHot(targets), this.logits(params, tokens, B, T));
  }

  dispose(): void {
    for (const t of this.tables.values()) this.tf.dispose([t.cos, t.sin, t.mask]);
    this.tables.clear();
  }
}
