/**
 * `/queue`: the annotation queue — items with a pre-label still waiting for their label, in the
 * order annotators should take them (highest priority first), each with what its score is made of.
 * Keyset pages (`?after=<priority>~<item id>`), so a long queue costs one index range per page.
 */
import type { QueueCursor, QueueEntry } from "../../db/queries/pages.ts";
import type { PrelabelAcceptanceRow } from "../../db/queries/prelabels.ts";
import { html, type SafeHtml } from "../html.ts";
import { imageSrc, pageShell, type PageOptions } from "./shell.ts";

export const QUEUE_PAGE_SIZE = 50;

export interface QueuePage {
  entries: QueueEntry[];
  next: QueueCursor | null;
  total: number;
  /** Pre-label acceptance per model (share of pixels annotators kept), most recent model first. */
  acceptance: PrelabelAcceptanceRow[];
}

/** `?after=` value of a cursor, and back (null when malformed). */
export function formatQueueCursor(c: QueueCursor): string {
  return `${c.priority}~${c.itemId}`;
}

export function parseQueueCursor(value: string | null): QueueCursor | null | "invalid" {
  if (value === null || value === "") return null;
  const cut = value.indexOf("~");
  const priority = Number(value.slice(0, cut));
  const itemId = value.slice(cut + 1);
  return cut > 0 && Number.isFinite(priority) && itemId.length > 0 && itemId.length <= 200 ? { priority, itemId } : "invalid";
}

function component(entry: QueueEntry, name: string): string {
  const v = entry.components[name];
  return typeof v === "number" ? v.toFixed(3) : "n/a";
}

function acceptanceTable(rows: readonly PrelabelAcceptanceRow[]): SafeHtml {
  if (rows.length === 0) return html`<p class="note">No pre-labelled item has an accepted label yet: acceptance per model shows here once one has.</p>`;
  const body = rows.map((r) => html`<tr><td>${r.modelId}</td><td class="num">${r.labels}</td>
<td class="num"><strong>${r.comparedPixels > 0 ? `${((100 * r.keptPixels) / r.comparedPixels).toFixed(1)} %` : "n/a"}</strong></td>
<td class="num">${r.keptPixels.toLocaleString("en")} / ${r.comparedPixels.toLocaleString("en")}</td></tr>`);
  return html`<h2>Pre-label acceptance by model</h2>
<p class="note">Of the pixels of each pre-labelled item's first accepted label (nodata left out), the share where the annotator kept the class the model's pre-label gave.</p>
<table aria-label="Pre-label acceptance by model">
<thead><tr><th scope="col">model</th><th scope="col">labels</th><th scope="col">pixels kept</th><th scope="col">kept / compared</th></tr></thead>
<tbody>${body}</tbody>
</table>`;
}

export function renderQueuePage(options: PageOptions, page: QueuePage, rankFrom: number): string {
  const b = options.basePath;
  const rows = page.entries.map((e, i) => {
    const src = imageSrc(options, e.rgbUri ?? undefined);
    const mask = imageSrc(options, e.maskUri ?? undefined);
    return html`<tr>
<td class="num">${rankFrom + i}</td>
<td>${src ? html`<img src="${src}" alt="${e.title ?? e.itemId}" width="48" height="48" loading="lazy" decoding="async"> ` : ""}<a href="${b}/items/${encodeURIComponent(e.itemId)}">${e.title ?? e.itemId}</a></td>
<td class="num"><strong>${e.priority.toFixed(3)}</strong></td>
<td class="num">${component(e, "uncertainty")}</td><td class="num">${component(e, "boundary")}</td><td class="num">${component(e, "novelty")}</td>
<td class="reason">${e.reason}</td>
<td>${e.modelId ?? ""}${mask ? html` · <a href="${mask}">mask</a>` : ""}</td>
</tr>`;
  });
  const next = page.next ? html`<p><a href="${b}/queue?after=${encodeURIComponent(formatQueueCursor(page.next))}&amp;from=${rankFrom + page.entries.length}">Next ${QUEUE_PAGE_SIZE} →</a></p>` : "";
  const body = html`<p class="note">${page.total} pre-labelled item(s) waiting for a label, highest priority first: the weighted mean of the model's uncertainty (mean softmax entropy), the boundary density of its mask and the image's novelty against the model's training data (PRIORITY_WEIGHTS).</p>
${page.entries.length === 0 ? html`<p class="note">Nothing queued${rankFrom > 1 ? " past this point" : ""}.</p>` : html`<table>
<thead><tr><th scope="col">#</th><th scope="col">item</th><th scope="col">priority</th><th scope="col">uncertainty</th><th scope="col">boundary</th><th scope="col">novelty</th><th scope="col">reason</th><th scope="col">pre-label</th></tr></thead>
<tbody>${rows}</tbody>
</table>`}
${next}
${acceptanceTable(page.acceptance)}`;
  return pageShell(options, "Annotation queue", body);
}
