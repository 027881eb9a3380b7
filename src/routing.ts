/**
 * Routing: which optimizer (and which hyperparameters) updates each parameter, the way the seed papers
 * run: 2-D weight matrices to the chosen matrix optimizer; vectors, biases, norms, embeddings and output
 * heads to AdamW. Elementwise optimizers (SGD, Adam, AdamW, Adafactor) take every parameter.
 *
 * Order: the first user rule that matches wins; otherwise a matrix optimizer takes 2-D parameters whose
 * names do not match the fallback pattern, and the fallback optimizer takes the rest; an elementwise
 * optimizer takes everything.
 */
import { FisheroptError } from './errors.js';
import { getOptimizer, type OptimizerDef } from './optimizers/index.js';
import { resolveOptions, type Options } from './options.js';

export interface ParamDesc {
  readonly name: string;
  readonly shape: readonly number[];
}

/** A parameter name (exact), a pattern tested on the name, or a predicate. */
export type ParamMatcher = string | RegExp | ((p: ParamDesc) => boolean);

export interface RouteRule {
  match: ParamMatcher;
  /** Optimizer for matching parameters (default: the main optimizer). */
  optimizer?: string;
  /** Hyperparameters for them: merged over the main (or fallback) options when the optimizer is the same. */
  options?: Options;
}

export interface FallbackConfig {
  /** Default `adamw`. */
  optimizer?: string;
  options?: Options;
  /** Names sent to the fallback even when 2-D; `null` sends every 2-D parameter to the matrix optimizer. */
  pattern?: RegExp | null;
}

/** Biases, norms, embeddings and output heads, by the names common in PyTorch, TF.js and GPT/LLaMA code. */
export const DEFAULT_FALLBACK_PATTERN = /bias|norm|embed|wte|wpe|lm_head|(^|[._/])(head|output|ln\w*)([._/]|$)/i;

export interface Group {
  readonly optimizer: string;
  readonly def: OptimizerDef;
  readonly options: Options;
  readonly params: string[];
}

export function matches(m: ParamMatcher, p: ParamDesc): boolean {
  if (typeof m === 'string') return m === p.name;
  if (m instanceof RegExp) {
    m.lastIndex = 0;
    return m.test(p.name);
  }
  if (typeof m === 'function') return m(p);
  throw new FisheroptError('BAD_OPTION', `a routing rule's match must be a string, a RegExp or a function`);
}

/** Resolve every parameter's optimizer and options, grouped by (optimizer, options). */
export function route(
  params: readonly ParamDesc[],
  main: { optimizer: string; options?: Options },
  rules: readonly RouteRule[] = [],
  fallback: FallbackConfig = {},
): Group[] {
  const mainDef = getOptimizer(main.optimizer);
  const fbName = fallback.optimizer ?? 'adamw';
  const fbDef = getOptimizer(fbName);
  const pattern = fallback.pattern === undefined ? DEFAULT_FALLBACK_PATTERN : fallback.pattern;

  const baseOptions = (name: string): Options | undefined =>
    name === main.optimizer ? main.options : name === fbName ? fallback.options : undefined;
  const resolve = (def: OptimizerDef, given: Options | undefined, where: string): Options => {
    const o = resolveOptions(def.schema, given, where);
    const err = def.validate?.(o);
    if (err) throw new FisheroptError('BAD_OPTION', `${where}: ${err}`);
    return o;
  };
  // Validate every option set up front, even ones no parameter ends up using.
  resolve(mainDef, main.options, main.optimizer);
  if (mainDef.matrixOnly || fallback.options) resolve(fbDef, fallback.options, `${fbName} (fallback)`);
  rules.forEach((r, i) => {
    const name = r.optimizer ?? main.optimizer;
    resolve(getOptimizer(name), { ...baseOptions(name), ...r.options }, `${name} (rule ${i})`);
  });

  const groups: Group[] = [];
  const groupFor = (def: OptimizerDef, options: Options): Group => {
    const key = JSON.stringify(options);
    let g = groups.find((x) => x.def === def && JSON.stringify(x.options) === key);
    if (!g) {
      g = { optimizer: def.name, def, options, params: [] };
      groups.push(g);
    }
    return g;
  };

  for (const p of params) {
    const ruleIndex = rules.findIndex((r) => matches(r.match, p));
    let def: OptimizerDef;
    let given: Options | undefined;
    let where: string;
    if (ruleIndex >= 0) {
      const r = rules[ruleIndex];
      const name = r.optimizer ?? main.optimizer;
      def = getOptimizer(name);
      given = { ...baseOptions(name), ...r.options };
      where = `${name} (rule ${ruleIndex})`;
    } else if (!mainDef.matrixOnly || (p.shape.length === 2 && !(pattern && matches(pattern, p)))) {
      def = mainDef;
      given = main.options;
      where = main.optimizer;
    } else {
      def = fbDef;
      given = fallback.options;
      where = `${fbName} (fallback)`;
    }
    if (!def.handles(p.shape)) {
      throw new FisheroptError(
        'UNROUTED_PARAM',
        `parameter ${JSON.stringify(p.name)} with shape [${p.shape.join(', ')}] was routed to ${where}, which cannot update that shape; add a rule for it`,
      );
    }
    groupFor(def, resolve(def, given, where)).params.push(p.name);
  }
  return groups;
}
