/**
 * Byte-level data for the training job: a UTF-8 text split into a training part (the first 95% of its
 * bytes) and a held-out part (the last 5%); random training windows from a seeded generator; fixed
 * held-out windows spread evenly over the held-out part.
 */
import { readFileSync } from 'node:fs';
import { FisheroptError } from '../errors.js';
import { mulberry32 } from '../util/rng.js';

/** The built-in corpus shipped with the package: chapters 1–50 of Moby-Dick (see data/README.md). */
export const DEFAULT_CORPUS_URL = new URL('../../data/moby-dick.txt', import.meta.url);
export const DEFAULT_PROMPT = 'Call me Ishmael.';

export interface Corpus {
  name: string;
  train: Uint8Array;
  heldOut: Uint8Array;
}

/** Reads `file` (default: the built-in corpus) and splits it; the held-out fraction is 5% by default. */
export function loadCorpus(file?: string, heldOutFraction = 0.05): Corpus {
  let bytes: Uint8Array;
  try {
    bytes = file === undefined ? readFileSync(DEFAULT_CORPUS_URL) : readFileSync(file);
  } catch (e) {
    throw new FisheroptError('BAD_OPTION', `cannot read the training text ${file ?? DEFAULT_CORPUS_URL.pathname}: ${(e as Error).message}`);
  }
  const name = file ?? 'moby-dick.txt (built-in)';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FisheroptError('BAD_OPTION', `${name} is not valid UTF-8 text`);
  }
  return splitCorpus(bytes, name, heldOutFraction);
}

export function splitCorpus(bytes: Uint8Array, name: string, heldOutFraction = 0.05): Corpus {
  const cut = Math.floor(bytes.length * (1 - heldOutFraction));
  return { name, train: bytes.subarray(0, cut), heldOut: bytes.subarray(cut) };
}

/** Checks that both parts hold at least one window of `seq + 1` bytes. */
export function checkCorpus(c: Corpus, seq: number): void {
  if (c.heldOut.length < seq + 1 || c.train.length < seq + 1) {
    throw new FisheroptError(
      'BAD_OPTION',
      `${c.name}: ${c.train.length + c.heldOut.length} bytes are too few for --seq ${seq}: the held-out 5% (${c.heldOut.length} bytes) needs at least ${seq + 1}`,
    );
  }
}

export interface Batch {
  tokens: Int32Array;
  targets: Int32Array;
}

function window(src: Uint8Array, starts: readonly number[], seq: number): Batch {
  const tokens = new Int32Array(starts.length * seq), targets = new Int32Array(starts.length * seq);
  starts.forEach((s, b) => {
    for (let t = 0; t < seq; t++) {
      tokens[b * seq + t] = src[s + t];
      targets[b * seq + t] = src[s + t + 1];
    }
  });
  return { tokens, targets };
}

/** Random training batches: `batch` windows of `seq` bytes (and their next bytes), from a seeded generator. */
export function trainBatches(c: Corpus, batch: number, seq: number, seed: number): () => Batch {
  const rand = mulberry32(seed);
  const span = c.train.length - seq;
  return () => window(c.train, Array.from({ length: batch }, () => Math.floor(rand() * span)), seq);
}

/** `count` fixed held-out batches whose windows are spread evenly over the held-out part. */
export function heldOutBatches(c: Corpus, count: number, batch: number, seq: number): Batch[] {
  const n = count * batch;
  const span = c.heldOut.length - seq - 1;
  const starts = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.round((i * span) / (n - 1))));
  return Array.from({ length: count }, (_, k) => window(c.heldOut, starts.slice(k * batch, (k + 1) * batch), seq));
}
