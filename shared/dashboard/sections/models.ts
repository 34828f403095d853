/** Sections 4–7: dataset versions, training runs, the model leaderboard, evaluations. */
import { metricChart, type MetricPoint } from "../charts.ts";
import { formatCount, formatDelta, formatMetric, idCell, timeCell } from "../format.ts";
import { link, html, type SafeHtml } from "../html.ts";
import { badge, clipped, emptyState, modelRef, objectRef, section, table, type RenderContext } from "./common.ts";

export function renderDatasets(context: RenderContext): SafeHtml {
  const versions = context.snapshot.datasetVersions;
  const body =
    versions.length === 0
      ? emptyState("No dataset versions yet.")
      : table(
          ["version", "id", "line", "items", "train / eval", "fresh", "trigger", "created", "manifest"],
          versions.map((v) => [
            html`<strong>v${v.seq}</strong>`,
            idCell(v.id, 12, "prefix"),
            v.line,
            formatCount(v.itemCount),
            `${formatCount(v.trainCount)} / ${formatCount(v.evalCount)}`,
            formatCount(v.freshCount),
            v.trigger,
            timeCell(v.createdAt, context.reference),
            objectRef(context, v.manifestUri, "manifest"),
          ]),
          "datasets",
        );
  return section("datasets", "Dataset versions", body);
}

export function renderTrainingRuns(context: RenderContext): SafeHtml {
  const runs = context.snapshot.trainingRuns;
  const body =
    runs.length === 0
      ? emptyState("No training runs yet.")
      : table(
          ["run", "dataset", "state", "attempt", "execution", "model", "started", "finished", "error"],
          runs.map((r, i) => {
            // Runs are newest first: the next row is the run before this one on the same line.
            const previous = runs.slice(i + 1).find((p) => p.line === r.line);
            const compare = previous ? context.pageLink(`/runs/compare?a=${encodeURIComponent(previous.id)}&b=${encodeURIComponent(r.id)}`) : null;
            return [
            html`${link(context.pageLink(`/runs/${encodeURIComponent(r.id)}`), idCell(r.id, 14), `run ${r.id}`)}${compare ? html`<br>${link(compare, "vs previous", `compare with ${previous!.id}`)}` : ""}`,
            r.datasetSeq === null ? idCell(r.datasetVersionId, 12, "prefix") : html`v${r.datasetSeq}`,
            badge(r.state),
            formatCount(r.attempt),
            clipped(r.executionName, 48),
            modelRef(context, r.modelId),
            timeCell(r.createdAt, context.reference),
            timeCell(r.finishedAt, context.reference),
            r.error ? html`<span class="error-text">${clipped(r.error)}</span>` : html`<span class="muted">–</span>`,
            ];
          }),
          "runs",
        );
  return section("runs", "Training runs", body);
}

/** One chart per metric name: models of different tasks are not comparable on one axis. */
function leaderboardCharts(context: RenderContext): SafeHtml[] {
  const byMetric = new Map<string, MetricPoint[]>();
  for (const model of context.snapshot.leaderboard) {
    if (model.metric === null || model.value === null) continue;
    const points = byMetric.get(model.metric) ?? [];
    points.push({
      modelId: model.modelId,
      label: model.name,
      at: model.createdAt,
      value: model.value,
      promoted: context.promotedModels.has(model.modelId) || model.aliases.length > 0,
      aliases: model.aliases,
    });
    byMetric.set(model.metric, points);
  }
  return [...byMetric].map(([metric, points]) => html`<figure class="metric-figure" data-metric="${metric}">${metricChart(points, { metric })}<figcaption>${metric} of each evaluated model, by model creation time</figcaption></figure>`);
}

export function renderLeaderboard(context: RenderContext): SafeHtml {
  const models = context.snapshot.leaderboard;
  const body =
    models.length === 0
      ? emptyState("No models yet: the first training run will put one here.")
      : html`${table(
          ["rank", "model", "task", "metric", "value", "aliases", "dataset", "created"],
          models.map((m, i) => [
            String(i + 1),
            modelRef(context, m.modelId),
            m.task,
            m.metric ?? html`<span class="muted">–</span>`,
            html`<span class="metric-value">${formatMetric(m.value)}</span>`,
            m.aliases.length > 0 ? m.aliases.map((a) => html`${badge(a)} `) : html`<span class="muted">–</span>`,
            m.datasetSeq === null ? html`<span class="muted">–</span>` : `v${m.datasetSeq}`,
            timeCell(m.createdAt, context.reference),
          ]),
          "leaderboard",
        )}
${leaderboardCharts(context)}`;
  return section("leaderboard", "Model leaderboard", body, "Ranked by the primary metric on each model's own evaluation.");
}

export function renderEvaluations(context: RenderContext): SafeHtml {
  const evaluations = context.snapshot.evaluations;
  const body =
    evaluations.length === 0
      ? emptyState("No evaluations yet.")
      : table(
          ["evaluation", "state", "metric", "candidate", "champion", "Δ", "decision", "created", "report"],
          evaluations.map((e) => [
            link(context.pageLink(`/evaluations/${encodeURIComponent(e.id)}`), idCell(e.id, 14), `evaluation ${e.id}`),
            badge(e.state),
            e.primaryMetric ?? html`<span class="muted">–</span>`,
            html`${modelRef(context, e.candidateModelId)}<br><span class="metric-value">${formatMetric(e.candidateValue)}</span>`,
            e.championModelId
              ? html`${modelRef(context, e.championModelId)}<br><span class="metric-value">${formatMetric(e.championValue)}</span>`
              : html`<span class="muted">no champion</span>`,
            formatDelta(e.candidateValue, e.championValue),
            e.error ? html`<span class="error-text">${clipped(e.error)}</span>` : clipped(e.decision),
            timeCell(e.createdAt, context.reference),
            html`${objectRef(context, e.reportUri, "report")}${e.summaryUri ? html` · ${objectRef(context, e.summaryUri, "summary")}` : ""}`,
          ]),
          "evaluations",
        );
  return section("evaluations", "Evaluations", body, "Candidate and champion are scored by the same code on the same pinned evaluation split.");
}
