/** `/evaluations/<id>`: the decision, candidate vs champion metrics, per-class values, confusion heatmaps, worst and best items. */
import type { EvaluationReport } from "../../core/evaluation/report.ts";
import type { EvaluationDetail } from "../../db/queries/pages.ts";
import { html, link, type SafeHtml } from "../html.ts";
import { examplesSection } from "./examples.ts";
import { confusionHeatmap } from "./heatmap.ts";
import { imageSrc, pageShell, type PageOptions } from "./shell.ts";

type ModelResult = EvaluationReport["evaluation"]["candidate"];

const fmt = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(4));

function perClassTable(candidate: ModelResult, champion: ModelResult | null): SafeHtml {
  const championBy = new Map((champion?.perClass ?? []).map((c) => [c.className, c]));
  return html`<div class="table-wrap"><table class="numeric"><thead><tr><th scope="col">class</th><th scope="col">support</th><th scope="col">candidate ${candidate.perClassMetric}</th><th scope="col">champion</th></tr></thead><tbody>
${candidate.perClass.map((c) => html`<tr><td>${c.className}</td><td>${c.support}</td><td>${fmt(c.value)}</td><td>${fmt(championBy.get(c.className)?.value)}</td></tr>`)}
</tbody></table></div>`;
}

export function renderEvaluationPage(options: PageOptions, detail: EvaluationDetail, report: EvaluationReport | null): string {
  const summaryHref = imageSrc(options, detail.summaryUri ?? undefined);
  const decisions = detail.decisions.length
    ? html`<ul class="reviews">${detail.decisions.map((d) => html`<li><span class="badge">${d.outcome}</span> ${d.alias} by ${d.actor} <span class="muted">${d.at.replace("T", " ").slice(0, 19)}</span>${d.reasons.length ? html`<ul class="reasons">${d.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : ""}</li>`)}</ul>`
    : html`<p class="empty">No decision yet.</p>`;
  let results: SafeHtml = html`<p class="empty">${detail.state === "failed" ? `Failed: ${detail.error ?? "no reason recorded"}` : "No report yet."}</p>`;
  if (report) {
    const { candidate, champion, itemCount } = report.evaluation;
    const heatmaps = [candidate, champion].flatMap((m) =>
      m?.confusion ? [confusionHeatmap(m.confusion.labels, m.confusion.matrix, `Confusion matrix of the ${m.role} (${m.modelId}), rows = true class`)] : []);
    results = html`<p>${itemCount} evaluation items. ${candidate.primaryMetric.name}: candidate <strong>${fmt(candidate.primaryMetric.value)}</strong>${champion ? html`, champion ${fmt(champion.primaryMetric.value)}` : ""}.</p>
${perClassTable(candidate, champion)}
${heatmaps.length ? html`<div class="heatmaps">${heatmaps}</div>` : html`<p class="empty">The report has no confusion matrix (detection and classification reports carry none).</p>`}`;
  }
  const body = html`<section aria-labelledby="decision-title"><h2 id="decision-title">Decision</h2>
<p>Candidate <code>${detail.candidateModelId}</code>${detail.championModelId ? html` against champion <code>${detail.championModelId}</code>` : " (no champion)"} · <span class="badge">${detail.state}</span>
${summaryHref ? html` · ${link(summaryHref, "full report")}` : ""}</p>
${decisions}
</section>
<section aria-labelledby="results-title"><h2 id="results-title">Results</h2>${results}</section>
${report ? examplesSection(options, report) : ""}`;
  return pageShell(options, `Evaluation ${detail.id}`, body);
}
