/** Sections 8–10: alias history, recent failures, notifications. */
import { formatCount, idCell, timeCell } from "../format.ts";
import { html, type HtmlValue, type SafeHtml } from "../html.ts";
import { badge, clipped, emptyState, modelRef, objectRef, section, table, type RenderContext } from "./common.ts";

const FAILURE_KIND_LABELS: Record<string, string> = {
  item: "item",
  training: "training run",
  evaluation: "evaluation",
  dead_letter: "dead letter",
};

export function renderAliasHistory(context: RenderContext): SafeHtml {
  const moves = context.snapshot.aliasHistory;
  const body =
    moves.length === 0
      ? emptyState("No alias has moved yet.")
      : table(
          ["when", "alias", "from → to", "actor", "reason", "evaluation"],
          moves.map((m) => [
            timeCell(m.movedAt, context.reference),
            badge(m.alias),
            html`${m.previousModelId ? modelRef(context, m.previousModelId) : html`<span class="muted">none</span>`} → ${modelRef(context, m.modelId)}`,
            m.actor,
            clipped(m.reason),
            m.evaluationId ? html`${idCell(m.evaluationId, 14)}${m.reportUri ? html` ${objectRef(context, m.reportUri, "report")}` : ""}` : html`<span class="muted">–</span>`,
          ]),
          "alias-history",
        );
  return section("alias-history", "Alias history", body, "Append-only: a rollback is one more move.");
}

export function renderFailures(context: RenderContext): SafeHtml {
  const { failures, itemWarnings, duplicates } = context.snapshot;
  const rows: HtmlValue[][] = [
    ...failures.map((f) => [
      badge(FAILURE_KIND_LABELS[f.kind] ?? f.kind, "bad"),
      html`<code class="failure-id">${f.id}</code>`,
      // The full reason: it is what an operator acts on (describeError already bounds it).
      html`<span class="reason">${f.reason}</span>`,
      f.attempts === null ? html`<span class="muted">–</span>` : formatCount(f.attempts),
      timeCell(f.at, context.reference),
    ]),
    // Accepted, but worth a look: an image whose valid pixels all share one value shows annotators nothing.
    ...itemWarnings.map((w) => [
      badge("warning", "warn"),
      html`<code class="failure-id">${w.id}</code>${w.title ? html` <span class="muted">${w.title}</span>` : ""}`,
      html`<span class="reason">${w.warnings.join("; ")}</span>`,
      html`<span class="muted">–</span>`,
      timeCell(w.at, context.reference),
    ]),
    ...duplicates.map((d) => [
      badge("duplicate", "neutral"),
      html`<code class="failure-id">${d.id}</code> <span class="muted">${d.sourceName}</span>`,
      html`<span class="reason">same bytes as <code class="failure-id">${d.duplicateOf}</code>${d.originalTitle ? html` (${d.originalTitle})` : ""}; no second annotation task</span>`,
      html`<span class="muted">–</span>`,
      timeCell(d.at, context.reference),
    ]),
  ];
  const body = rows.length === 0 ? emptyState("No recent failures.") : table(["kind", "id", "reason", "attempts", "when"], rows, "failures");
  return section("failures", "Recent failures, warnings and duplicates", body);
}

export function renderNotifications(context: RenderContext): SafeHtml {
  const notifications = context.snapshot.notifications;
  const body =
    notifications.length === 0
      ? emptyState("No notifications yet.")
      : html`<ul class="notifications">${notifications.map(
          (n) => html`<li class="notification">${badge(n.severity)} <strong>${n.title}</strong> ${timeCell(n.at, context.reference)}<br>${clipped(n.text, 400)}</li>`,
        )}</ul>`;
  return section("notifications", "Notifications", body);
}
