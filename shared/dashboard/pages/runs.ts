/** `/runs/compare?a=<run>&b=<run>`: two training runs side by side (what `mlops runs compare` prints). */
import type { RunComparison } from "../../core/runs/compare.ts";
import { epochCurves } from "../../core/runs/curves.ts";
import type { RunDetail } from "../../db/queries/pages.ts";
import { epochCharts } from "../curves.ts";
import { html } from "../html.ts";
import { pageShell, type PageOptions } from "./shell.ts";

export function renderRunComparisonPage(options: PageOptions, c: RunComparison, a: RunDetail, b: RunDetail): string {
  const show = (v: string | number | null) => (v === null ? html`<span class="muted">–</span>` : String(v));
  const sections = [...new Set(c.rows.map((r) => r.section))];
  const body = sections.map((section) => html`<section aria-labelledby="${section}-title"><h2 id="${section}-title">${section}</h2>
<div class="table-wrap"><table class="numeric"><thead><tr><th scope="col">key</th><th scope="col"><code>${c.a}</code></th><th scope="col"><code>${c.b}</code></th></tr></thead><tbody>
${c.rows.filter((r) => r.section === section).map((r) => html`<tr${r.differs ? html` class="differs"` : ""}><td>${r.key}${r.differs ? html` <span class="badge warn">differs</span>` : ""}</td><td>${show(r.a)}</td><td>${show(r.b)}</td></tr>`)}
</tbody></table></div></section>`);
  const charts = epochCharts([{ label: "A", curves: epochCurves(a.selfReported) }, { label: "B", curves: epochCurves(b.selfReported) }], "compare");
  const runLink = (r: RunDetail, letter: string) => html`${letter} = <a href="${options.basePath}/runs/${encodeURIComponent(r.id)}"><code>${r.id}</code></a>`;
  const curves = html`<section aria-labelledby="curves-title"><h2 id="curves-title">Per-epoch curves</h2>
<p class="note">${runLink(a, "A")} (solid), ${runLink(b, "B")} (dashed).</p>
${charts.length ? html`<div class="curve-charts">${charts}</div>` : html`<p class="empty">Neither trainer reported a per-epoch history.</p>`}</section>`;
  return pageShell(options, "Two runs side by side", html`<p class="note">Parameters, what each trainer reported, and the evaluation of each run's model. Also <code>mlops runs compare ${c.a} ${c.b}</code>.</p>${curves}${body}`);
}
