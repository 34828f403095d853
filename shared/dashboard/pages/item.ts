/** `/items/<id>`: one item's pictures, its label drawn over the RGB rendering, its history and datasets. */
import { CLASS_PALETTE } from "../../core/evaluation/examples.ts";
import type { ItemPage } from "../../db/queries/pages.ts";
import { html, type SafeHtml } from "../html.ts";
import { coord } from "../svg.ts";
import { thumbnails } from "./gallery.ts";
import { imageSrc, pageShell, type PageOptions } from "./shell.ts";

/** Class colours by class id (cycled), the same palette as the evaluation's mask pictures. */
const CLASS_COLOURS = CLASS_PALETTE;

interface OverlayObject {
  id: string;
  classId: number | null;
  className?: string;
  kind: string;
  polygon?: number[][];
  box?: { x: number; y: number; w: number; h: number };
  mask?: { counts: number[] };
}

/** Most rectangles one mask may draw; a finer mask is listed in the legend but not drawn. */
const MAX_MASK_SEGMENTS = 20_000;

/**
 * A row-major RLE mask (runs alternate unset, set, unset, …) as one SVG path of horizontal
 * segments: one rectangle per run per row it spans. Null when it would take too many.
 */
export function maskPath(counts: readonly number[], width: number): string | null {
  const parts: string[] = [];
  let offset = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i]!;
    if (i % 2 === 1) {
      let start = offset;
      const end = offset + run;
      while (start < end) {
        const y = Math.floor(start / width);
        const x = start % width;
        const len = Math.min(end - start, width - x);
        parts.push(`M${x} ${y}h${len}v1h${-len}z`);
        if (parts.length > MAX_MASK_SEGMENTS) return null;
        start += len;
      }
    }
    offset += run;
  }
  return parts.join("");
}

/** The newest label's polygons, masks and boxes over the RGB image. */
export function labelOverlay(src: string | null, width: number, height: number, canonical: unknown, caption: string): SafeHtml {
  const objects = ((canonical as { objects?: OverlayObject[] } | null)?.objects ?? []).filter((o) => o && typeof o === "object");
  const shapes = objects.flatMap((o) => {
    const colour = CLASS_COLOURS[(o.classId ?? 0) % CLASS_COLOURS.length]!;
    const label = `${o.className ?? `class ${o.classId ?? "?"}`} (${o.kind})`;
    if (o.kind === "polygon" && Array.isArray(o.polygon)) {
      return o.polygon.map((ring) => {
        const points: string[] = [];
        for (let i = 0; i + 1 < ring.length; i += 2) points.push(`${coord(ring[i]!)},${coord(ring[i + 1]!)}`);
        return html`<polygon points="${points.join(" ")}" fill="${colour}" fill-opacity="0.35" stroke="${colour}" stroke-width="${coord(Math.max(width, height) / 200)}"><title>${label}</title></polygon>`;
      });
    }
    if (o.kind === "mask" && Array.isArray(o.mask?.counts)) {
      const d = maskPath(o.mask.counts, width);
      return d ? [html`<path d="${d}" fill="${colour}" fill-opacity="0.45"><title>${label}</title></path>`] : [];
    }
    if (o.kind === "box" && o.box) {
      return [html`<rect x="${coord(o.box.x)}" y="${coord(o.box.y)}" width="${coord(o.box.w)}" height="${coord(o.box.h)}" fill="none" stroke="${colour}" stroke-width="${coord(Math.max(width, height) / 150)}"><title>${label}</title></rect>`];
    }
    return [];
  });
  const legend = [...new Map(objects.map((o) => [o.classId, o.className ?? `class ${o.classId ?? "?"}`])).entries()];
  return html`<figure class="overlay"><svg viewBox="0 0 ${width} ${height}" class="overlay" role="img" aria-label="${caption}" preserveAspectRatio="xMidYMid meet">
${src ? html`<image href="${src}" x="0" y="0" width="${width}" height="${height}" preserveAspectRatio="none"></image>` : ""}
${shapes}
</svg><figcaption>${caption}${legend.length ? html` — ${legend.map(([id, name]) => html`<svg class="swatch" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${CLASS_COLOURS[(id ?? 0) % CLASS_COLOURS.length]!}"></rect></svg> ${name} `)}` : ""}</figcaption></figure>`;
}

export function renderItemPage(options: PageOptions, page: ItemPage): string {
  const { item } = page;
  const b = options.basePath;
  const name = item.title ?? item.id;
  const latest = page.annotations[0];
  const rgb = imageSrc(options, item.assets.rgb?.uri ?? item.assets.image?.uri);
  const overlay = latest && item.width && item.height
    ? labelOverlay(rgb, item.width, item.height, latest.canonical, `Label ${latest.id} by ${latest.annotator ?? "unknown"} (${latest.verdict}) over the RGB rendering`)
    : html`<p class="empty">No label yet.</p>`;
  const body = html`<section aria-labelledby="facts-title"><h2 id="facts-title">Item</h2>
<dl class="facts">
<dt>id</dt><dd><code>${item.id}</code></dd>
<dt>state</dt><dd><span class="badge state-${item.state}">${item.state}</span></dd>
<dt>source</dt><dd><code>${item.sourceName}</code></dd>
<dt>size</dt><dd>${item.width && item.height ? `${item.width} × ${item.height}` : "–"}</dd>
${item.duplicateOf ? html`<dt>duplicate of</dt><dd><a href="${b}/items/${encodeURIComponent(item.duplicateOf)}">${item.duplicateOf}</a></dd>` : ""}
${item.error ? html`<dt>error</dt><dd class="reason">${item.error}</dd>` : ""}
${item.warnings.length ? html`<dt>warnings</dt><dd>${item.warnings.join("; ")}</dd>` : ""}
</dl>
<div class="thumbs">${thumbnails(options, item, 192)}</div>
</section>
<section aria-labelledby="label-title"><h2 id="label-title">Label</h2>${overlay}</section>
<section aria-labelledby="history-title"><h2 id="history-title">State history</h2>
${page.transitions.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">at</th><th scope="col">from</th><th scope="col">to</th><th scope="col">reason</th></tr></thead><tbody>
${page.transitions.map((t) => html`<tr><td>${t.at.replace("T", " ").slice(0, 19)}</td><td>${t.from ?? "–"}</td><td>${t.to}</td><td class="${t.to === "failed" || t.to === "rejected" ? "reason" : ""}">${t.reason ?? ""}</td></tr>`)}
</tbody></table></div>` : html`<p class="empty">No recorded transitions (older history is summarised per day).</p>`}
</section>
<section aria-labelledby="labels-title"><h2 id="labels-title">Label revisions</h2>
${page.annotations.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">edited</th><th scope="col">annotator</th><th scope="col">verdict</th><th scope="col">reasons</th></tr></thead><tbody>
${page.annotations.map((a) => html`<tr><td>${a.editedAt.replace("T", " ").slice(0, 19)}</td><td>${a.annotator ?? "–"}</td><td><span class="badge ${a.verdict === "accepted" ? "ok" : "bad"}">${a.verdict}</span></td><td class="reason">${a.reasons.join("; ")}</td></tr>`)}
</tbody></table></div>` : html`<p class="empty">No label received.</p>`}
</section>
<section aria-labelledby="versions-title"><h2 id="versions-title">Dataset versions holding it</h2>
${page.datasetVersions.length ? html`<ul>${page.datasetVersions.map((v) => html`<li>${v.line} v${v.seq} <code title="${v.id}">${v.id.slice(0, 12)}</code> (${v.split})</li>`)}</ul>` : html`<p class="empty">In no dataset version.</p>`}
</section>`;
  return pageShell(options, name, body);
}
