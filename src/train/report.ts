/**
 * Reports of training runs: a summary (held-out loss, steps to reach a baseline's final held-out loss,
 * optimizer state, time per step) as a text or markdown table, and the held-out loss curves as an SVG
 * (hand-written: one polyline per run, axes, ticks and a legend).
 */
import { stepsToReach, type RunResult } from './job.js';

export interface SummaryRow {
  optimizer: string;
  finalLoss: number;
  bitsPerByte: number;
  bestLoss: number;
  /** Mean training loss over the last 10% of steps. */
  trainLoss: number;
  /** Steps to reach the baseline's final held-out loss, and the ratio to the baseline's own steps. */
  stepsToTarget: number | null;
  ratio: number | null;
  stateBytes: number;
  matrixStateBytes: number;
  /** Matrix state as a fraction of the baseline's matrix state. */
  matrixStateRatio: number | null;
  msPerStep: number;
  optMsPerStep: number;
  seconds: number;
  divergedAt?: number;
}

/** Rows for `results`; targets and ratios are against the run named `baseline`, when present. */
export function summarize(results: readonly RunResult[], baseline = 'adamw'): { target: number | null; baselineSteps: number | null; rows: SummaryRow[] } {
  const base = results.find((r) => r.optimizer === baseline);
  const target = base ? base.finalLoss : null;
  const baselineSteps = base && target !== null ? stepsToReach(base.evals, target) : null;
  const rows = results.map((r) => {
    const tail = r.trainLoss.slice(-Math.max(1, Math.round(r.trainLoss.length / 10)));
    const steps = target === null ? null : stepsToReach(r.evals, target);
    return {
      optimizer: r.optimizer,
      finalLoss: r.finalLoss,
      bitsPerByte: r.finalLoss / Math.LN2,
      bestLoss: Math.min(...r.evals.map((e) => e.loss)),
      trainLoss: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN,
      stepsToTarget: steps,
      ratio: steps !== null && baselineSteps ? steps / baselineSteps : null,
      stateBytes: r.stateBytes,
      matrixStateBytes: r.matrixStateBytes,
      matrixStateRatio: base && base.matrixStateBytes ? r.matrixStateBytes / base.matrixStateBytes : null,
      msPerStep: r.msPerStep,
      optMsPerStep: r.optMsPerStep,
      seconds: r.seconds,
      divergedAt: r.divergedAt,
    };
  });
  return { target, baselineSteps, rows };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function cells(r: SummaryRow, withTarget: boolean): string[] {
  const c = [
    r.optimizer + (r.divergedAt ? ` (diverged at ${r.divergedAt})` : ''),
    r.finalLoss.toFixed(4),
    r.bitsPerByte.toFixed(3),
    r.trainLoss.toFixed(4),
  ];
  if (withTarget) c.push(r.stepsToTarget === null ? 'not reached' : int(r.stepsToTarget), r.ratio === null ? '–' : `${r.ratio.toFixed(2)}×`);
  c.push(
    int(r.matrixStateBytes) + (r.matrixStateRatio === null ? '' : ` (${(100 * r.matrixStateRatio).toFixed(1)}%)`),
    int(r.stateBytes),
    r.msPerStep.toFixed(1),
    r.optMsPerStep.toFixed(2),
  );
  return c;
}

function header(withTarget: boolean, baseline: string): string[] {
  return [
    'optimizer', 'held-out loss (nats/byte)', 'bits/byte', 'train loss (last 10%)',
    ...(withTarget ? [`steps to ${baseline}'s final held-out loss`, `× ${baseline}'s steps`] : []),
    `matrix state bytes (% of ${baseline}'s)`, 'all state bytes', 'ms/step', 'optimizer ms/step',
  ];
}

export function markdownTable(rows: readonly SummaryRow[], baseline = 'adamw', withTarget = true): string {
  const h = header(withTarget, baseline);
  const lines = [`| ${h.join(' | ')} |`, `| --- | ${h.slice(1).map(() => '---:').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${cells(r, withTarget).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

export function textTable(rows: readonly SummaryRow[], baseline = 'adamw', withTarget = true): string {
  const h = header(withTarget, baseline).map((s) => s.replace(`${baseline}'s final held-out loss`, `${baseline} final`).replace(' (nats/byte)', '').replace(' (last 10%)', ''));
  const body = rows.map((r) => cells(r, withTarget));
  const w = h.map((s, i) => Math.max(s.length, ...body.map((b) => b[i].length)));
  const fmt = (c: string[]) => c.map((s, i) => (i === 0 ? s.padEnd(w[i]) : s.padStart(w[i]))).join('  ');
  return [fmt(h), ...body.map(fmt)].join('\n') + '\n';
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export interface CurveSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

/**
 * A line chart of `series` (x: step, y: loss). The y range covers every point except the ones above
 * `yCap` (default: the highest second point of any series, so the random-initialization loss at step 0
 * does not flatten the curves); lines are clipped to the plot area.
 */
export function lossCurveSvg(series: readonly CurveSeries[], title: string, opts: { yLabel?: string; xLabel?: string; width?: number; height?: number; yCap?: number } = {}): string {
  const W = opts.width ?? 760, H = opts.height ?? 460;
  const m = { l: 64, r: 170, t: 40, b: 52 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  const cap = opts.yCap ?? Math.max(...series.map((s) => (s.points[1] ?? s.points[0] ?? [0, 1])[1]));
  const ys = all.map((p) => p[1]).filter((y) => Number.isFinite(y) && y <= cap);
  let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
  if (y1 - y0 < 1e-6) { y0 -= 0.5; y1 += 0.5; }
  const pad = 0.04 * (y1 - y0);
  y0 -= pad; y1 += pad;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.t + (1 - (v - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<defs><clipPath id="plot"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  out.push(`<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (const v of ticks(y0, y1)) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(Y(v))}" y2="${f(Y(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${f(Y(v) + 4)}" text-anchor="end">${esc(String(v))}</text>`);
  }
  for (const v of ticks(x0, x1)) {
    out.push(`<line x1="${f(X(v))}" x2="${f(X(v))}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${f(X(v))}" y="${m.t + ph + 18}" text-anchor="middle">${esc(String(v))}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel ?? 'step')}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel ?? 'held-out loss (nats/byte)')}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1])).map((p) => `${f(X(p[0]))},${f(Y(p[1]))}`).join(' ');
    if (pts) out.push(`<polyline clip-path="url(#plot)" fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`);
    const ly = m.t + 10 + i * 20;
    out.push(`<line x1="${m.l + pw + 14}" x2="${m.l + pw + 38}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${m.l + pw + 44}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The held-out curves of `results`, one series per run. */
export function runsSvg(results: readonly RunResult[], title: string): string {
  return lossCurveSvg(results.map((r) => ({ name: r.optimizer, points: r.evals.map((e) => [e.step, e.loss] as const) })), title);
}
