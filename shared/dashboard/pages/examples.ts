/**
 * The evaluation page's worst and best items: per model, each item's input, label and prediction
 * pictures (written by the evaluate job beside its report, served through `/objects/…`) with the
 * item's own score. Colours come from the palette the report records, so an old report's legend
 * still matches its pictures.
 */
import type { EvaluationReport, ExampleItemResult, Examples } from "../../core/evaluation/report.ts";
import { html, type SafeHtml } from "../html.ts";
import { imageSrc, type PageOptions } from "./shell.ts";

type ModelResult = EvaluationReport["evaluation"]["candidate"];

/** Longest side the pictures are shown at (they are at most 128 px; small ones are enlarged, pixelated). */
const SHOWN_EDGE = 128;

const fmt = (v: number | null) => (v === null || !Number.isFinite(v) ? "–" : v.toFixed(4));

function swatch(colour: string): SafeHtml {
  return html`<svg class="swatch" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${colour}"></rect></svg>`;
}

function legend(examples: Examples, classes: readonly string[]): SafeHtml {
  const entries = classes.map((name, id) => [examples.palette.classes[id], name] as const).filter(([colour]) => colour);
  return html`<p class="note">${entries.map(([colour, name]) => html`${swatch(colour!)} ${name} `)}${swatch(examples.palette.nodata)} no data ${swatch(examples.palette.outOfRange)} class the dataset lacks</p>`;
}

function triplet(options: PageOptions, model: ModelResult, metric: string, item: ExampleItemResult): SafeHtml {
  const scale = SHOWN_EDGE / Math.max(item.width, item.height);
  const w = Math.max(1, Math.round(item.width * scale));
  const h = Math.max(1, Math.round(item.height * scale));
  const pictures = ([["input", item.input, `${item.itemId} input (RGB)`], ["label", item.label, `${item.itemId} label`], [`${model.role} prediction`, item.prediction, `${item.itemId} ${model.role} prediction`]] as const)
    .map(([caption, uri, alt]) => {
      const src = imageSrc(options, uri);
      return src
        ? html`<figure class="thumb"><img src="${src}" alt="${alt}" width="${w}" height="${h}" loading="lazy" decoding="async"><figcaption>${caption}</figcaption></figure>`
        : html`<figure class="thumb"><figcaption>${caption}: no link</figcaption></figure>`;
    });
  return html`<li class="card triplet"><a class="card-title" href="${options.basePath}/items/${encodeURIComponent(item.itemId)}">${item.itemId}</a>
<span class="muted">${metric} <strong>${fmt(item.score)}</strong> · pixel accuracy ${fmt(item.pixelAccuracy)}${item.sourceWidth !== item.width ? ` · ${item.sourceWidth}×${item.sourceHeight} shown at ${item.width}×${item.height}` : ""}</span>
<div class="thumbs">${pictures}</div></li>`;
}

function modelExamples(options: PageOptions, model: ModelResult, examples: Examples): SafeHtml {
  const list = (items: ExampleItemResult[], what: string) =>
    items.length ? html`<h4>${what}</h4><ul class="gallery triplets">${items.map((item) => triplet(options, model, examples.metric, item))}</ul>` : "";
  return html`<div class="examples-model" data-role="${model.role}"><h3>${model.role === "candidate" ? "Candidate" : "Champion"} <code>${model.modelId}</code></h3>
${list(examples.worst, `Worst by ${examples.metric}`)}${list(examples.best, `Best by ${examples.metric}`)}</div>`;
}

/** The section, or nothing when neither model has examples (detection, classification, older reports). */
export function examplesSection(options: PageOptions, report: EvaluationReport): SafeHtml | "" {
  const { candidate, champion, classes } = report.evaluation;
  const withExamples = [candidate, champion].flatMap((m) => (m?.examples ? [[m, m.examples] as const] : []));
  if (withExamples.length === 0) return "";
  return html`<section aria-labelledby="examples-title"><h2 id="examples-title">Worst and best items</h2>
<p class="note">Each model's own worst and best items of the eval split by their per-item ${withExamples[0]![1].metric}, ties by item id: input, accepted label, prediction.</p>
${legend(withExamples[0]![1], classes)}
${withExamples.map(([m, e]) => modelExamples(options, m, e))}
</section>`;
}
