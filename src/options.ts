/**
 * Option schemas: one camelCase vocabulary across all optimizers, validated up front with errors that
 * name the option, the optimizer and what was expected.
 */
import { FisheroptError } from './errors.js';

/** Returns an error text (what was expected) or null when `v` is acceptable. */
export type Check = (v: unknown) => string | null;

export interface OptionSpec {
  readonly default: unknown;
  readonly check: Check;
  readonly doc: string;
}

export type OptionSchema = Readonly<Record<string, OptionSpec>>;

export type Options = Record<string, unknown>;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export const check = {
  number: (lo = -Infinity, hi = Infinity, loOpen = false, hiOpen = false): Check => (v) => {
    if (!isNum(v)) return `a finite number`;
    const okLo = loOpen ? v > lo : v >= lo;
    const okHi = hiOpen ? v < hi : v <= hi;
    if (okLo && okHi) return null;
    return `a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`;
  },
  nonNegative: (): Check => check.number(0),
  boolean: (): Check => (v) => (typeof v === 'boolean' ? null : 'true or false'),
  integer: (lo = 0): Check => (v) => (Number.isInteger(v) && (v as number) >= lo ? null : `an integer >= ${lo}`),
  /** A pair of numbers, each checked by the given check. */
  pair: (a: Check, b: Check): Check => (v) => {
    if (!Array.isArray(v) || v.length !== 2) return 'an array of two numbers';
    const ea = a(v[0]);
    if (ea) return `[${ea}, ...]`;
    const eb = b(v[1]);
    return eb ? `[..., ${eb}]` : null;
  },
  nullOr: (c: Check): Check => (v) => (v === null ? null : c(v) && `null or ${c(v)}`),
};

/**
 * Merge `given` over the schema defaults. Unknown names and bad values throw (naming `where`, e.g.
 * `adamw`), and nothing is returned partially.
 */
export function resolveOptions(schema: OptionSchema, given: Options | undefined, where: string): Options {
  const out: Options = {};
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new FisheroptError('BAD_OPTION', `${where} options must be an object`);
  }
  for (const key of Object.keys(given ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) {
      throw new FisheroptError(
        'UNKNOWN_OPTION',
        `unknown option ${JSON.stringify(key)} for ${where}; known options: ${Object.keys(schema).join(', ')}`,
      );
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    const v = given && key in given && given[key] !== undefined ? given[key] : spec.default;
    const err = spec.check(v);
    if (err) throw new FisheroptError('BAD_OPTION', `${where} option ${key} must be ${err}, got ${JSON.stringify(v)}`);
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Learning-rate schedule: a factor applied to each group's `lr`, evaluated once per step. */
export type Schedule =
  | { type: 'constant' }
  | {
      /** Linear warm-up from 0, then cosine decay to `minLrRatio`·lr at `totalSteps`, constant after. */
      type: 'cosine';
      warmupSteps: number;
      totalSteps: number;
      /** Floor as a fraction of the peak lr (default 0.1, as in the papers' configs). */
      minLrRatio?: number;
    };

export function validateSchedule(s: unknown): Schedule {
  if (s === undefined) return { type: 'constant' };
  const bad = (msg: string) => new FisheroptError('BAD_OPTION', `schedule ${msg}`);
  if (s === null || typeof s !== 'object') throw bad('must be an object like { type: "cosine", warmupSteps, totalSteps }');
  const o = s as Record<string, unknown>;
  const allowed = o.type === 'constant' ? ['type'] : ['type', 'warmupSteps', 'totalSteps', 'minLrRatio'];
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new FisheroptError('UNKNOWN_OPTION', `unknown schedule option ${JSON.stringify(k)}; known: ${allowed.join(', ')}`);
  }
  if (o.type === 'constant') return { type: 'constant' };
  if (o.type !== 'cosine') throw bad(`type must be "constant" or "cosine", got ${JSON.stringify(o.type)}`);
  const warmupSteps = o.warmupSteps ?? 0;
  const minLrRatio = o.minLrRatio ?? 0.1;
  if (!Number.isInteger(warmupSteps) || (warmupSteps as number) < 0) throw bad(`warmupSteps must be an integer >= 0, got ${JSON.stringify(o.warmupSteps)}`);
  if (!Number.isInteger(o.totalSteps) || (o.totalSteps as number) <= (warmupSteps as number)) {
    throw bad(`totalSteps must be an integer > warmupSteps (${warmupSteps}), got ${JSON.stringify(o.totalSteps)}`);
  }
  if (!isNum(minLrRatio) || minLrRatio < 0 || minLrRatio > 1) throw bad(`minLrRatio must be a number in [0, 1], got ${JSON.stringify(o.minLrRatio)}`);
  return { type: 'cosine', warmupSteps: warmupSteps as number, totalSteps: o.totalSteps as number, minLrRatio };
}

/**
 * The lr factor for the step that follows `done` completed steps (0-based, as Hugging Face's and the
 * papers' schedulers count): `done / warmupSteps` during warm-up (so the very first update has lr 0),
 * then `min + (1 − min)·½(1 + cos(π·progress))`.
 */
export function scheduleFactor(s: Schedule, done: number): number {
  if (s.type === 'constant') return 1;
  const min = s.minLrRatio ?? 0.1;
  if (done < s.warmupSteps) return done / s.warmupSteps;
  const progress = Math.min(1, (done - s.warmupSteps) / (s.totalSteps - s.warmupSteps));
  return min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
