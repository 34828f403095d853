/** `/runs/<id>`: one training run: what it trained on, its per-epoch curves, its parameters and what its trainer reported. */
import { flatten, type Cell } from "../../core/runs/compare.ts";
import { epochCurves } from "../../core/runs/curves.ts";
import type { RunDetail } from "../../db/queries/pages.ts";
import { epochCharts } from "../curves.ts";
import { html, type SafeHtml } from "../html.ts";
import { pageShell, type PageOptions } from "./shell.ts";

function keyValueTable(record: Record<string, unknown> | null, empty: string): SafeHtml {
  const rows = new Map<string, Cell>();
  flatten(record ?? {}, "", rows);
  if (rows.size === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap"><table class="numeric"><thead><tr><th scope="col">key</th><th scope="col">value</th></tr></thead><tbody>
${[...rows].map(([k, v]) => html`<tr><td>${k}</td><td>${v === null ? html`<span class="muted">–</span>` : String(v)}</td></tr>`)}
</tbody></table></div>`;
}

export function renderRunPage(options: PageOptions, run: RunDetail): string {
  const b = options.basePath;
  const charts = epochCharts([{ label: run.id, curves: epochCurves(run.selfReported) }], "run");
  const facts = html`<dl class="facts">
<dt>state</dt><dd><span class="badge">${run.state}</span>${run.error ? html` <span class="error-text">${run.error}</span>` : ""}</dd>
<dt>dataset</dt><dd>${run.datasetSeq !== null ? `v${run.datasetSeq} ` : ""}<code>${run.datasetVersionId.slice(0, 12)}</code> (${run.line})</dd>
<dt>attempt</dt><dd>${run.attempt}</dd>
<dt>model</dt><dd>${run.model ? html`${run.model.name} <code>${run.model.id}</code>` : html`<span class="muted">–</span>`}</dd>
<dt>evaluation</dt><dd>${run.evaluation ? html`<a href="${b}/evaluations/${encodeURIComponent(run.evaluation.id)}"><code>${run.evaluation.id}</code></a> <span class="badge">${run.evaluation.state}</span>` : html`<span class="muted">–</span>`}</dd>
<dt>started</dt><dd>${run.createdAt.replace("T", " ").slice(0, 19)}</dd>
<dt>finished</dt><dd>${run.finishedAt ? run.finishedAt.replace("T", " ").slice(0, 19) : html`<span class="muted">–</span>`}</dd>
</dl>`;
  const body = html`<section aria-labelledby="run-title"><h2 id="run-title">Run</h2>${facts}</section>
<section aria-labelledby="curves-title"><h2 id="curves-title">Per-epoch curves</h2>
${charts.length ? html`<div class="curve-charts">${charts}</div>` : html`<p class="empty">The trainer reported no per-epoch history (metrics.json has no <code>history</code>).</p>`}</section>
<section aria-labelledby="params-title"><h2 id="params-title">Parameters</h2>${keyValueTable(run.params, "No parameters.")}</section>
<section aria-labelledby="trainer-title"><h2 id="trainer-title">What the trainer reported</h2>${keyValueTable(run.selfReported, "Nothing yet.")}</section>`;
  return pageShell(options, `Run ${run.id}`, body);
}
