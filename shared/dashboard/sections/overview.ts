/** Sections 1–3: the header (counts, aliases, pending reviews), the funnel, annotation throughput. */
import { ITEM_STATES, type ItemState } from "../../core/status/snapshot.ts";
import { funnelChart, throughputChart } from "../charts.ts";
import { formatCount, timeCell } from "../format.ts";
import { html, type SafeHtml } from "../html.ts";
import { badge, emptyState, modelRef, section, table, type RenderContext } from "./common.ts";

export const STATE_LABELS: Record<ItemState, string> = {
  seen: "seen",
  normalised: "normalised",
  registered: "registered",
  annotated: "annotated",
  accepted: "accepted",
  rejected: "rejected",
  in_dataset: "in dataset",
  failed: "failed",
  duplicate: "duplicate",
};

/** The aliases every deployment has; shown even before anything was promoted. */
const STANDARD_ALIASES = ["staging", "prod"];

export function renderHeader(context: RenderContext, title: string): SafeHtml {
  const { snapshot } = context;
  // "accepted" and "in datasets" count items that ever got there (an accepted item moves on into a
  // dataset); "failed" counts items failed now (a reprocessed item leaves that state).
  const counts: [string, number, string][] = [
    ["items", snapshot.itemsTotal, "total"],
    ["accepted", snapshot.funnel.accepted, "accepted"],
    ["in datasets", snapshot.funnel.in_dataset, "in_dataset"],
    ["failed", snapshot.itemsByState.failed, "failed"],
  ];
  const aliasNames = [...STANDARD_ALIASES, ...snapshot.aliases.map((a) => a.alias).filter((a) => !STANDARD_ALIASES.includes(a))];
  const aliases = aliasNames.map((name) => {
    const holder = snapshot.aliases.find((a) => a.alias === name);
    return html`<li class="alias" data-alias="${name}">${badge(name)} ${
      holder ? html`→ ${modelRef(context, holder.modelId)} <span class="muted">since</span> ${timeCell(holder.movedAt, context.reference)}` : html`<span class="muted">no model yet</span>`
    }</li>`;
  });
  return html`<header id="overview" class="overview" aria-labelledby="overview-title">
<div class="title-row"><h1 id="overview-title">${title}</h1><p class="generated">generated ${timeCell(snapshot.generatedAt, context.reference)}</p></div>
<dl class="counts">${counts.map(([label, value, key]) => html`<div class="count" data-count="${key}"><dt>${label}</dt><dd>${formatCount(value)}</dd></div>`)}</dl>
<div class="header-grid">
<div><h2 class="small">Aliases</h2><ul class="aliases">${aliases}</ul></div>
<div>${renderPendingReviews(context)}</div>
</div>
</header>`;
}

function renderPendingReviews(context: RenderContext): SafeHtml {
  const reviews = context.snapshot.pendingReviews;
  if (reviews.length === 0) return html`<h2 class="small">Pending reviews</h2>${emptyState("No promotion is waiting for review.")}`;
  const items = reviews.map(
    (r) => html`<li class="review" data-evaluation="${r.evaluationId}">
<p>${modelRef(context, r.modelId)} → ${badge(r.alias)} <span class="muted">waiting since</span> ${timeCell(r.createdAt, context.reference)}</p>
${r.reasons.length > 0 ? html`<ul class="reasons">${r.reasons.map((reason) => html`<li>${reason}</li>`)}</ul>` : ""}
<p class="commands"><code class="command">mlops command approve ${r.evaluationId}</code> <span class="muted">or</span> <code class="command">mlops command reject ${r.evaluationId}</code></p>
</li>`,
  );
  return html`<h2 class="small">Pending reviews <span class="badge warn">${reviews.length}</span></h2><ul class="reviews">${items}</ul>`;
}

export function renderFunnel(context: RenderContext): SafeHtml {
  const { snapshot } = context;
  const rows = ITEM_STATES.map((state) => ({
    state,
    label: STATE_LABELS[state],
    reached: snapshot.funnel[state],
    now: snapshot.itemsByState[state],
  }));
  const body =
    snapshot.itemsTotal === 0 && rows.every((r) => r.reached === 0 && r.now === 0)
      ? emptyState("No items yet: upload a file to the archive bucket to start the loop.")
      : html`${funnelChart(rows)}
${table(
  ["state", "reached (ever)", "now"],
  rows.map((r) => [html`<span class="state-name" data-state="${r.state}">${r.label}</span>`, formatCount(r.reached), formatCount(r.now)]),
  "numeric funnel-table",
)}`;
  return section("funnel", "Funnel: upload to dataset", body, "seen → normalised → registered → annotated → accepted | rejected → in dataset; failed at any step; duplicate when the bytes equal a live item's.");
}

export function renderThroughput(context: RenderContext): SafeHtml {
  const { throughput, throughputBucketMinutes } = context.snapshot;
  const total = throughput.reduce((sum, b) => ({ accepted: sum.accepted + b.accepted, rejected: sum.rejected + b.rejected }), { accepted: 0, rejected: 0 });
  const body =
    throughput.length === 0 || total.accepted + total.rejected === 0
      ? emptyState("No labels received in this window yet.")
      : html`${throughputChart(throughput, { bucketMinutes: throughputBucketMinutes })}
<p class="note">${formatCount(total.accepted)} accepted, ${formatCount(total.rejected)} rejected in the last ${throughput.length} buckets of ${throughputBucketMinutes} min.</p>`;
  return section("throughput", "Annotation throughput", body);
}
