/**
 * Inline SVG charts, pure string builders. Every bar carries `data-series` and `data-value` so the
 * numbers behind a shape are readable by tests and by anyone inspecting the page, and every chart
 * has a `<title>` for screen readers (the tables next to the charts hold the exact figures).
 * Sizes are in viewBox units; CSS scales the SVG to the column width.
 */
import { formatUtc } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { coord, linearScale, niceCeiling, nonNegative, tickLabel } from "./svg.ts";

export interface FunnelRow {
  state: string;
  label: string;
  /** Items that ever reached the state. */
  reached: number;
  /** Items in the state now. */
  now: number;
}

const FUNNEL = { width: 760, labelWidth: 120, valueWidth: 150, rowHeight: 30, top: 22 };

/** Horizontal bars, one row per state: "reached" (tall, light) with "now" (thin, dark) beneath it. */
export function funnelChart(rows: readonly FunnelRow[]): SafeHtml {
  const { width, labelWidth, valueWidth, rowHeight, top } = FUNNEL;
  const height = top + rows.length * rowHeight + 4;
  const plotWidth = width - labelWidth - valueWidth;
  const max = Math.max(1, ...rows.flatMap((r) => [nonNegative(r.reached), nonNegative(r.now)]));
  const x = linearScale([0, max], [0, plotWidth]);
  const body = rows.map((row, i) => {
    const y = top + i * rowHeight;
    const reached = nonNegative(row.reached);
    const now = nonNegative(row.now);
    return html`<g class="funnel-row" data-state="${row.state}">
<text class="label" x="${coord(labelWidth - 8)}" y="${coord(y + 14)}" text-anchor="end">${row.label}</text>
<rect class="bar reached state-${row.state}" data-series="reached" data-value="${reached}" x="${labelWidth}" y="${coord(y + 2)}" width="${coord(x(reached))}" height="14"><title>${row.label}: ${reached} reached</title></rect>
<rect class="bar now state-${row.state}" data-series="now" data-value="${now}" x="${labelWidth}" y="${coord(y + 18)}" width="${coord(x(now))}" height="7"><title>${row.label}: ${now} now</title></rect>
<text class="value" x="${coord(labelWidth + plotWidth + 8)}" y="${coord(y + 14)}">${reached} reached · ${now} now</text>
</g>`;
  });
  return html`<svg class="chart funnel" viewBox="0 0 ${width} ${coord(height)}" width="${width}" height="${coord(height)}" role="img" aria-labelledby="funnel-title">
<title id="funnel-title">Items per state: reached (ever) and now</title>
<g class="legend"><rect class="bar reached" x="${labelWidth}" y="4" width="12" height="10"/><text x="${labelWidth + 16}" y="13">reached (ever)</text><rect class="bar now" x="${labelWidth + 130}" y="6" width="12" height="6"/><text x="${labelWidth + 146}" y="13">in this state now</text></g>
${body}
</svg>`;
}

export interface ThroughputBucket {
  bucketStart: string;
  accepted: number;
  rejected: number;
}

const THROUGHPUT = { width: 760, height: 230, left: 46, right: 12, top: 24, bottom: 42, maxLabels: 8 };

/** Time-axis label: the clock time, plus the date when the buckets span more than a day. */
function bucketLabel(bucketStart: string, withDate: boolean): string {
  const full = formatUtc(bucketStart); // "YYYY-MM-DD HH:MM UTC" or the raw value
  const m = /^\d{4}-(\d{2}-\d{2}) (\d{2}:\d{2}) UTC$/.exec(full);
  if (!m) return bucketStart;
  return withDate ? `${m[1]} ${m[2]}` : m[2]!;
}

/** Stacked vertical bars per time bucket: accepted at the bottom, rejected on top. */
export function throughputChart(buckets: readonly ThroughputBucket[], options: { bucketMinutes: number }): SafeHtml {
  const { width, height, left, right, top, bottom, maxLabels } = THROUGHPUT;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const baseline = top + plotHeight;
  const maxTotal = Math.max(0, ...buckets.map((b) => nonNegative(b.accepted) + nonNegative(b.rejected)));
  const yMax = niceCeiling(maxTotal);
  const h = linearScale([0, yMax], [0, plotHeight]);
  const band = buckets.length > 0 ? plotWidth / buckets.length : plotWidth;
  const barWidth = Math.max(1, band * 0.72);
  const labelEvery = Math.max(1, Math.ceil(buckets.length / maxLabels));
  const first = buckets[0]?.bucketStart;
  const last = buckets[buckets.length - 1]?.bucketStart;
  const spansDays =
    options.bucketMinutes >= 1440 ||
    (first !== undefined && last !== undefined && formatUtc(first).slice(0, 10) !== formatUtc(last).slice(0, 10));

  // Counts: skip a fractional middle tick (yMax 3 → no "1.5").
  const tickValues = Number.isInteger(yMax / 2) || yMax < 1 ? [0, yMax / 2, yMax] : [0, yMax];
  const ticks = tickValues.map((value) => {
    const y = baseline - h(value);
    return html`<line class="grid" x1="${left}" x2="${left + plotWidth}" y1="${coord(y)}" y2="${coord(y)}"/><text class="tick" x="${left - 6}" y="${coord(y + 4)}" text-anchor="end">${tickLabel(value)}</text>`;
  });
  const bars = buckets.map((bucket, i) => {
    const accepted = nonNegative(bucket.accepted);
    const rejected = nonNegative(bucket.rejected);
    const x = left + i * band + (band - barWidth) / 2;
    const acceptedHeight = h(accepted);
    const rejectedHeight = h(rejected);
    const label =
      i % labelEvery === 0
        ? html`<text class="tick" x="${coord(x + barWidth / 2)}" y="${baseline + 16}" text-anchor="middle">${bucketLabel(bucket.bucketStart, spansDays)}</text>`
        : "";
    return html`<g class="bucket" data-bucket="${bucket.bucketStart}"><title>${formatUtc(bucket.bucketStart)}: ${accepted} accepted, ${rejected} rejected</title>
<rect class="bar accepted" data-series="accepted" data-value="${accepted}" x="${coord(x)}" y="${coord(baseline - acceptedHeight)}" width="${coord(barWidth)}" height="${coord(acceptedHeight)}"/>
<rect class="bar rejected" data-series="rejected" data-value="${rejected}" x="${coord(x)}" y="${coord(baseline - acceptedHeight - rejectedHeight)}" width="${coord(barWidth)}" height="${coord(rejectedHeight)}"/>
${label}</g>`;
  });
  return html`<svg class="chart throughput" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="throughput-title">
<title id="throughput-title">Labels received per ${options.bucketMinutes}-minute bucket, accepted and rejected</title>
<g class="legend"><rect class="bar accepted" x="${left}" y="4" width="12" height="10"/><text x="${left + 16}" y="13">accepted</text><rect class="bar rejected" x="${left + 90}" y="4" width="12" height="10"/><text x="${left + 106}" y="13">rejected</text></g>
${ticks}
<line class="axis" x1="${left}" x2="${left + plotWidth}" y1="${baseline}" y2="${baseline}"/>
${bars}
<text class="axis-title" x="${left + plotWidth}" y="${height - 4}" text-anchor="end">bucket start (UTC), ${options.bucketMinutes} min each</text>
</svg>`;
}

export interface MetricPoint {
  modelId: string;
  label: string;
  at: string;
  value: number;
  /** The model has held an alias at some point (from the alias history). */
  promoted: boolean;
  /** Aliases it holds now, written next to the point. */
  aliases: readonly string[];
}

const METRIC = { width: 760, height: 240, left: 56, right: 24, top: 30, bottom: 36 };

/**
 * The primary metric of each evaluated model over time (by model creation), joined by a line, with
 * promoted models drawn as filled, larger points. The y-axis spans the data (padded), not zero to
 * one: the interesting differences between models are a few hundredths.
 */
export function metricChart(points: readonly MetricPoint[], options: { metric: string }): SafeHtml {
  const { width, height, left, right, top, bottom } = METRIC;
  const valid = points
    .filter((p) => Number.isFinite(p.value) && Number.isFinite(Date.parse(p.at)))
    .slice()
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (valid.length === 0) return html`<p class="empty">No evaluated model has a ${options.metric} value yet.</p>`;
  const values = valid.map((p) => p.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.15 : Math.max(Math.abs(hi) * 0.05, 0.01);
  const yDomain: [number, number] = [lo - pad, hi + pad];
  const times = valid.map((p) => Date.parse(p.at));
  const x = linearScale([Math.min(...times), Math.max(...times)], [left + 10, width - right - 10]);
  const y = linearScale(yDomain, [height - bottom, top]);

  const ticks = [yDomain[0], (yDomain[0] + yDomain[1]) / 2, yDomain[1]].map(
    (value) =>
      html`<line class="grid" x1="${left}" x2="${width - right}" y1="${coord(y(value))}" y2="${coord(y(value))}"/><text class="tick" x="${left - 6}" y="${coord(y(value) + 4)}" text-anchor="end">${value.toFixed(3)}</text>`,
  );
  const path = valid.map((p, i) => `${i === 0 ? "M" : "L"}${coord(x(Date.parse(p.at)))} ${coord(y(p.value))}`).join(" ");
  const dots = valid.map((p) => {
    const cx = coord(x(Date.parse(p.at)));
    const cy = coord(y(p.value));
    const aliasText = p.aliases.length > 0 ? html`<text class="point-label" x="${cx}" y="${coord(y(p.value) - 10)}" text-anchor="middle">${p.aliases.join(", ")}</text>` : "";
    return html`<circle class="point ${p.promoted ? "promoted" : "evaluated"}" data-model="${p.modelId}" data-value="${p.value}" data-promoted="${p.promoted ? "true" : "false"}" cx="${cx}" cy="${cy}" r="${p.promoted ? 6 : 4}"><title>${p.label}: ${options.metric} ${p.value.toFixed(4)} (${formatUtc(p.at)})${p.promoted ? ", promoted" : ""}</title></circle>${aliasText}`;
  });
  const firstAt = valid[0]?.at;
  const lastAt = valid[valid.length - 1]?.at;
  return html`<svg class="chart metric" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${options.metric} of each evaluated model over time">
<title>${options.metric} of each evaluated model over time; filled points were promoted</title>
<g class="legend"><circle class="point promoted" cx="${left + 6}" cy="10" r="5"/><text x="${left + 16}" y="14">promoted</text><circle class="point evaluated" cx="${left + 96}" cy="10" r="4"/><text x="${left + 106}" y="14">evaluated only</text><text x="${width - right}" y="14" text-anchor="end">${options.metric}</text></g>
${ticks}
${valid.length > 1 ? html`<path class="line" d="${path}"/>` : ""}
${dots}
${firstAt ? html`<text class="tick" x="${left + 10}" y="${height - 12}">${formatUtc(firstAt)}</text>` : ""}
${lastAt && valid.length > 1 ? html`<text class="tick" x="${width - right - 10}" y="${height - 12}" text-anchor="end">${formatUtc(lastAt)}</text>` : ""}
</svg>`;
}

export interface ClassComparison {
  name: string;
  candidate: number | null;
  champion: number | null;
}

const PER_CLASS = { width: 760, labelWidth: 130, valueWidth: 130, rowHeight: 26, top: 22 };

/**
 * Per-class metric of the candidate against the champion, one pair of horizontal bars per class.
 * The scale is [0, 1] for fractions (every per-class metric we compute) and a rounded maximum
 * otherwise, so bar lengths compare across classes.
 */
export function perClassBars(rows: readonly ClassComparison[], options: { metric: string }): SafeHtml {
  const { width, labelWidth, valueWidth, rowHeight, top } = PER_CLASS;
  const height = top + rows.length * rowHeight + 4;
  const plotWidth = width - labelWidth - valueWidth;
  const max = Math.max(0, ...rows.flatMap((r) => [nonNegative(r.candidate ?? 0), nonNegative(r.champion ?? 0)]));
  const x = linearScale([0, max <= 1 ? 1 : niceCeiling(max)], [0, plotWidth]);
  const bar = (series: "candidate" | "champion", value: number | null, y: number, name: string): SafeHtml => {
    if (value === null) return html``;
    const v = nonNegative(value);
    return html`<rect class="bar ${series}" data-series="${series}" data-value="${v}" x="${labelWidth}" y="${coord(y)}" width="${coord(x(v))}" height="10"><title>${name}: ${series} ${v.toFixed(4)}</title></rect>`;
  };
  const body = rows.map((row, i) => {
    const y = top + i * rowHeight;
    const values = `${row.candidate === null ? "–" : row.candidate.toFixed(3)} vs ${row.champion === null ? "–" : row.champion.toFixed(3)}`;
    return html`<g class="class-row" data-class="${row.name}">
<text class="label" x="${labelWidth - 8}" y="${coord(y + 14)}" text-anchor="end">${row.name}</text>
${bar("candidate", row.candidate, y + 1, row.name)}${bar("champion", row.champion, y + 12, row.name)}
<text class="value" x="${labelWidth + plotWidth + 8}" y="${coord(y + 14)}">${values}</text>
</g>`;
  });
  return html`<svg class="chart per-class" viewBox="0 0 ${width} ${coord(height)}" width="${width}" height="${coord(height)}" role="img" aria-label="Per-class ${options.metric}, candidate against champion">
<title>Per-class ${options.metric}: candidate against champion</title>
<g class="legend"><rect class="bar candidate" x="${labelWidth}" y="4" width="12" height="10"/><text x="${labelWidth + 16}" y="13">candidate</text><rect class="bar champion" x="${labelWidth + 100}" y="4" width="12" height="10"/><text x="${labelWidth + 116}" y="13">champion</text></g>
${body}
</svg>`;
}
