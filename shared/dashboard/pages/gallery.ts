/** `/items?state=<state>`: thumbnails (RGB, NIR, no-data) of the most recently changed items. */
import { ITEM_STATES, type ItemState } from "../../core/status/snapshot.ts";
import type { GalleryItem } from "../../db/queries/pages.ts";
import { html, type SafeHtml } from "../html.ts";
import { imageSrc, pageShell, type PageOptions } from "./shell.ts";

export const GALLERY_LIMIT = 48;

const ROLES = [["rgb", "RGB"], ["image", "image"], ["nir", "NIR"], ["nodata", "no-data"]] as const;

export function thumbnails(options: PageOptions, item: GalleryItem, size: number): SafeHtml[] {
  const name = item.title ?? item.id;
  return ROLES.flatMap(([role, label]) => {
    const src = imageSrc(options, item.assets[role]?.uri);
    if (!src) return [];
    return [html`<figure class="thumb"><img src="${src}" alt="${name} ${label}" width="${size}" height="${size}" loading="lazy" decoding="async"><figcaption>${label}</figcaption></figure>`];
  });
}

export function renderGalleryPage(options: PageOptions, items: readonly GalleryItem[], state: ItemState | null, counts: Partial<Record<ItemState, number>>): string {
  const b = options.basePath;
  const filters = html`<nav class="filters" aria-label="Filter by state"><ul>
<li><a href="${b}/items"${state === null ? html` aria-current="page"` : ""}>all</a></li>
${ITEM_STATES.map((s) => html`<li><a href="${b}/items?state=${s}"${state === s ? html` aria-current="page"` : ""}>${s.replace("_", " ")} <span class="muted">${counts[s] ?? 0}</span></a></li>`)}
</ul></nav>`;
  const cards = items.map((item) => html`<li class="card">
<a class="card-title" href="${b}/items/${encodeURIComponent(item.id)}">${item.title ?? item.id}</a> <span class="badge state-${item.state}">${item.state}</span>
<div class="thumbs">${thumbnails(options, item, 96)}</div>
${item.error ? html`<p class="reason clip" title="${item.error}">${item.error.length > 120 ? `${item.error.slice(0, 119)}…` : item.error}</p>` : ""}
</li>`);
  const body = html`${filters}
<p class="note">${items.length === 0 ? "No items here yet." : `The ${items.length} most recently changed ${state ? `${state.replace("_", " ")} ` : ""}items, newest first.`}</p>
<ul class="gallery">${cards}</ul>`;
  return pageShell(options, state ? `Items: ${state.replace("_", " ")}` : "Items", body);
}
