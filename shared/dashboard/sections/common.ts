/** Building blocks shared by the dashboard sections: section frame, tables, badges, links. */
import type { StatusSnapshot } from "../../core/status/snapshot.ts";
import { idCell } from "../format.ts";
import { html, link, safeHref, type HtmlValue, type SafeHtml } from "../html.ts";

/** Everything a section needs besides the snapshot's own fields, computed once per render. */
export interface RenderContext {
  snapshot: StatusSnapshot;
  /** Browser link for a `gs://` URI, or null to show the URI as text. */
  objectLink: (uri: string) => string | null;
  /** modelId → human name, from the leaderboard. */
  modelNames: ReadonlyMap<string, string>;
  /** Models that have ever held an alias. */
  promotedModels: ReadonlySet<string>;
  /** Relative times are computed against the snapshot's time, so rendering is deterministic. */
  reference: string;
  /** Link of a detail page (`/items`, `/evaluations/<id>`), or null when the server has none. */
  pageLink: (path: string) => string | null;
}

export function buildContext(snapshot: StatusSnapshot, objectLink: (uri: string) => string | null, pageLink: (path: string) => string | null = () => null): RenderContext {
  return {
    snapshot,
    objectLink,
    pageLink,
    modelNames: new Map(snapshot.leaderboard.map((m) => [m.modelId, m.name])),
    promotedModels: new Set(snapshot.aliasHistory.map((h) => h.modelId)),
    reference: snapshot.generatedAt,
  };
}

export function section(id: string, title: string, body: HtmlValue, note?: HtmlValue): SafeHtml {
  return html`<section id="${id}" aria-labelledby="${id}-title">
<h2 id="${id}-title">${title}</h2>${note ? html`<p class="note">${note}</p>` : ""}
${body}
</section>`;
}

export function emptyState(text: string): SafeHtml {
  return html`<p class="empty">${text}</p>`;
}

/** A table that scrolls sideways on narrow screens instead of squeezing its columns. */
export function table(headers: readonly string[], rows: readonly HtmlValue[][], className = ""): SafeHtml {
  return html`<div class="table-wrap"><table class="${className}">
<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((cells) => html`<tr>${cells.map((c) => html`<td>${c}</td>`)}</tr>\n`)}</tbody>
</table></div>`;
}

/** Class names come from a fixed list; anything unexpected falls back to a neutral badge. */
const BADGE_TONES: Record<string, string> = {
  launching: "info",
  running: "info",
  succeeded: "ok",
  failed: "bad",
  cancelled: "muted",
  staging: "info",
  prod: "ok",
  info: "info",
  warning: "warn",
  warn: "warn",
  error: "bad",
  critical: "bad",
};

export function badge(text: string, tone?: string): SafeHtml {
  const resolved = tone ?? BADGE_TONES[text.toLowerCase()] ?? "neutral";
  return html`<span class="badge ${resolved}">${text}</span>`;
}

/** `name` with the short id beneath, or just the short id when the model is not on the board. */
export function modelRef(context: RenderContext, modelId: string | null | undefined): SafeHtml {
  if (!modelId) return html`<span class="muted">–</span>`;
  const name = context.modelNames.get(modelId);
  return name ? html`<span class="model">${name}</span> ${idCell(modelId, 14)}` : idCell(modelId, 14);
}

/** A link to an object when the runtime can serve one; otherwise the object's base name as text. */
export function objectRef(context: RenderContext, uri: string | null | undefined, label?: string): SafeHtml {
  if (!uri) return html`<span class="muted">–</span>`;
  const text = label ?? uri.slice(uri.lastIndexOf("/") + 1);
  let href: string | null = null;
  try {
    href = context.objectLink(uri);
  } catch {
    // A URI the link builder refuses (not gs://) is shown as text rather than failing the page.
    href = null;
  }
  // Without a link the full URI stays on hover, so an operator can still copy it for gsutil.
  return safeHref(href) ? link(href, text, uri) : html`<span class="uri" title="${uri}">${text}</span>`;
}

/** Long free text (error messages) is clipped on screen; the full text stays in the title. */
export function clipped(text: string | null | undefined, max = 160): SafeHtml {
  if (!text) return html`<span class="muted">–</span>`;
  const short = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return html`<span class="clip" title="${text}">${short}</span>`;
}
