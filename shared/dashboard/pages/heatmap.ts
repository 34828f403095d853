/** A confusion matrix as an inline SVG heatmap: rows ground truth, columns prediction, row-normalised shade. */
import { html, type SafeHtml } from "../html.ts";
import { coord } from "../svg.ts";

export function confusionHeatmap(labels: readonly string[], matrix: readonly (readonly number[])[], caption: string): SafeHtml {
  const n = labels.length;
  const cell = n > 8 ? 34 : 48;
  const left = 12 + Math.max(...labels.map((l) => l.length), 4) * 7;
  const top = 28;
  // Wide enough for the axis title under a small matrix too.
  const width = Math.max(left + n * cell + 8, 400);
  const height = top + n * cell + 40;
  const cells: SafeHtml[] = [];
  matrix.forEach((row, i) => {
    const total = row.reduce((s, v) => s + v, 0);
    row.forEach((value, j) => {
      const share = total > 0 ? value / total : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      // Lightness from the row share: the diagonal of a good model is dark, the rest pale.
      const light = Math.round(96 - share * 60);
      cells.push(html`<g><title>${labels[i] ?? i} → ${labels[j] ?? j}: ${value} (${(share * 100).toFixed(1)} % of the row)</title>
<rect x="${coord(x)}" y="${coord(y)}" width="${cell - 1}" height="${cell - 1}" fill="hsl(${i === j ? 140 : 5} 55% ${light}%)"></rect>
<text x="${coord(x + cell / 2)}" y="${coord(y + cell / 2 + 4)}" text-anchor="middle" class="${share > 0.55 ? "cell-dark" : "cell"}">${(share * 100).toFixed(0)}</text></g>`);
    });
  });
  return html`<figure><svg class="chart heatmap" viewBox="0 0 ${width} ${height}" width="${width}" role="img" aria-label="${caption}">
${labels.map((l, j) => html`<text x="${coord(left + j * cell + cell / 2)}" y="${top - 8}" text-anchor="middle" class="tick">${l.length > 7 ? `${l.slice(0, 6)}…` : l}<title>${l}</title></text>`)}
${labels.map((l, i) => html`<text x="${left - 6}" y="${coord(top + i * cell + cell / 2 + 4)}" text-anchor="end" class="tick">${l}</text>`)}
${cells}
<text x="${coord(width / 2)}" y="${height - 10}" text-anchor="middle" class="axis-title">predicted class (cell: % of the true class)</text>
</svg><figcaption>${caption}</figcaption></figure>`;
}
