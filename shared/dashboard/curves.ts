/**
 * Per-epoch line charts for the run page and the run comparison: one chart for the losses, one for
 * the held-out scores, each series a polyline with a point per epoch. Points carry `data-series`,
 * `data-epoch` and `data-value` (like the other charts' bars) and a `<title>` with the number.
 */
import { LOSS_METRICS, SCORE_METRICS, type Curve } from "../core/runs/curves.ts";
import { html, type SafeHtml } from "./html.ts";
import { coord, linearScale, niceCeiling, tickLabel } from "./svg.ts";

export interface Series {
  /** Legend text, e.g. `loss` or `run_a loss`. */
  name: string;
  /** 0–5: which of the chart's stroke classes draws it. */
  style: number;
  /** Dashed (the second run in a comparison). */
  dashed?: boolean;
  curve: Curve;
}

const CHART = { width: 560, height: 240, left: 48, right: 14, top: 30, bottom: 34 };

export function lineChart(series: readonly Series[], options: { title: string; id: string; unitRange?: boolean }): SafeHtml {
  const { width, height, left, right, top, bottom } = CHART;
  const points = series.flatMap((s) => s.curve.points);
  const maxEpoch = Math.max(1, ...points.map((p) => p.epoch));
  const maxValue = Math.max(0, ...points.map((p) => p.value));
  const yMax = options.unitRange && maxValue <= 1 ? 1 : niceCeiling(maxValue);
  const x = linearScale([1, Math.max(2, maxEpoch)], [left, width - right]);
  const y = linearScale([0, yMax], [height - bottom, top]);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const xStep = Math.max(1, Math.ceil(maxEpoch / 10));
  const xTicks = Array.from({ length: Math.floor(maxEpoch / xStep) }, (_, i) => (i + 1) * xStep);
  const grid = yTicks.map((v) => html`<line class="grid" x1="${left}" x2="${width - right}" y1="${coord(y(v))}" y2="${coord(y(v))}"/><text class="tick" x="${left - 6}" y="${coord(y(v) + 4)}" text-anchor="end">${tickLabel(Number(v.toPrecision(4)))}</text>`);
  const axis = xTicks.map((e) => html`<text class="tick" x="${coord(x(e))}" y="${height - bottom + 16}" text-anchor="middle">${e}</text>`);
  const lines = series.map((s) => {
    const d = s.curve.points.map((p, i) => `${i === 0 ? "M" : "L"}${coord(x(p.epoch))},${coord(y(p.value))}`).join(" ");
    const cls = `series s${s.style % 6}${s.dashed ? " dashed" : ""}`;
    return html`<g class="${cls}" data-series="${s.name}">${s.curve.points.length > 1 ? html`<path class="curve" d="${d}"/>` : ""}${s.curve.points.map((p) => html`<circle class="dot" data-epoch="${p.epoch}" data-value="${p.value}" cx="${coord(x(p.epoch))}" cy="${coord(y(p.value))}" r="2.5"><title>${s.name}, epoch ${p.epoch}: ${p.value.toFixed(4)}</title></circle>`)}</g>`;
  });
  const legend = series.map((s, i) => html`<g class="series s${s.style % 6}${s.dashed ? " dashed" : ""}"><line class="curve" x1="${left + i * 140}" x2="${left + i * 140 + 18}" y1="12" y2="12"/><text x="${left + i * 140 + 22}" y="16">${s.name}</text></g>`);
  return html`<svg class="chart curves" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${options.id}">
<title id="${options.id}">${options.title}</title>
<g class="legend">${legend}</g>
${grid}
<line class="axis" x1="${left}" x2="${width - right}" y1="${coord(y(0))}" y2="${coord(y(0))}"/>
${axis}<text class="axis-title" x="${width - right}" y="${height - 4}" text-anchor="end">epoch</text>
${lines}
</svg>`;
}

/** The loss chart and the score chart of one or two runs (the second dashed); empty when no run reported a history. */
export function epochCharts(runs: readonly { label: string; curves: readonly Curve[] }[], idPrefix: string): SafeHtml[] {
  const group = (metrics: readonly string[]) =>
    runs.flatMap((run, r) => run.curves.filter((c) => metrics.includes(c.metric)).map((curve) => ({
      name: runs.length > 1 ? `${run.label} ${curve.metric}` : curve.metric,
      style: metrics.indexOf(curve.metric),
      dashed: r > 0,
      curve,
    })));
  const charts: SafeHtml[] = [];
  const losses = group(LOSS_METRICS);
  if (losses.length) charts.push(lineChart(losses, { title: `Training loss per epoch${runs.length > 1 ? " (second run dashed)" : ""}`, id: `${idPrefix}-loss` }));
  const scores = group(SCORE_METRICS);
  if (scores.length) charts.push(lineChart(scores, { title: `Held-out scores per epoch (trainer-reported)${runs.length > 1 ? " (second run dashed)" : ""}`, id: `${idPrefix}-scores`, unitRange: true }));
  return charts;
}
