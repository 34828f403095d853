import type { EvaluationReport, ModelResult, SetResult } from "./report.ts";

/**
 * Human renderings of an evaluation report: Markdown (Slack, CLI, the bucket), HTML with inline
 * SVG bars (the dashboard links to it) and the bare SVG. Pure string building: no template engine,
 * every interpolated string escaped.
 */

interface ClassRow {
  className: string;
  support: number;
  candidate: number | null;
  champion: number | null;
  /** Known to only one of the models. */
  only: "candidate" | "champion" | null;
}

/** Per-class rows, candidate classes first, then classes only the champion knows. */
export function perClassRows(set: SetResult): ClassRow[] {
  const champion = new Map((set.champion?.perClass ?? []).map((c) => [c.className, c] as const));
  const rows: ClassRow[] = set.candidate.perClass.map((c) => {
    const champ = champion.get(c.className);
    return {
      className: c.className,
      support: Math.max(c.support, champ?.support ?? 0),
      candidate: c.value,
      champion: champ ? champ.value : null,
      only: set.champion && !champ ? "candidate" : null,
    };
  });
  const known = new Set(rows.map((r) => r.className));
  for (const c of set.champion?.perClass ?? []) {
    if (!known.has(c.className)) rows.push({ className: c.className, support: c.support, candidate: null, champion: c.value, only: "champion" });
  }
  return rows;
}

export function renderSummaryMarkdown(report: EvaluationReport): string {
  const lines: string[] = [];
  lines.push(`# Evaluation ${report.evaluationId}`, "");
  const { evaluation } = report;
  lines.push(`${capital(report.task)} · dataset \`${evaluation.line}\` version \`${short(evaluation.versionId)}\` · ${evaluation.split} split · ${evaluation.itemCount} items · ${report.createdAt}`, "");
  lines.push(...markdownSet(evaluation));
  if (report.newClasses.length) lines.push("", `New classes in the candidate: ${report.newClasses.map((c) => `\`${c}\``).join(", ")}.`);
  if (report.removedClasses.length) lines.push("", `Classes the candidate no longer predicts: ${report.removedClasses.map((c) => `\`${c}\``).join(", ")}.`);
  if (report.benchmark) {
    lines.push("", `## Benchmark set \`${short(report.benchmark.versionId)}\` (${report.benchmark.itemCount} items)`, "");
    lines.push(...markdownSet(report.benchmark, "###"));
  }
  if (report.discrepancies.length) lines.push("", "## Discrepancies", "", ...report.discrepancies.map((d) => `- ${d}`));
  if (report.warnings.length) lines.push("", "## Warnings", "", ...report.warnings.map((w) => `- ${w}`));
  return `${lines.join("\n")}\n`;
}

function markdownSet(set: SetResult, heading = "##"): string[] {
  const primary = set.candidate.primaryMetric.name;
  const { candidate, champion } = set;
  const lines: string[] = [];
  const header = champion
    ? [`| metric | candidate \`${mdCell(candidate.name)}\` | champion \`${mdCell(champion.name)}\` | Δ |`, "|---|---:|---:|---:|"]
    : [`| metric | candidate \`${mdCell(candidate.name)}\` |`, "|---|---:|"];
  lines.push(...header);
  for (const name of metricNames(primary, candidate, champion)) {
    const label = name === primary ? `**${name}** (primary)` : name;
    const c = candidate.metrics[name] ?? null;
    if (champion) {
      const h = champion.metrics[name] ?? null;
      lines.push(`| ${label} | ${num(c)} | ${num(h)} | ${delta(c, h)} |`);
    } else {
      lines.push(`| ${label} | ${num(c)} |`);
    }
  }
  lines.push("", `${heading} Per-class ${candidate.perClassMetric}`, "");
  lines.push(champion ? "| class | support | candidate | champion | Δ |" : "| class | support | candidate |");
  lines.push(champion ? "|---|---:|---:|---:|---:|" : "|---|---:|---:|");
  for (const row of perClassRows(set)) {
    const name = `\`${mdCell(row.className)}\`${row.only === "candidate" ? " (new)" : row.only === "champion" ? " (champion only)" : ""}`;
    lines.push(
      champion
        ? `| ${name} | ${count(row.support)} | ${num(row.candidate)} | ${num(row.champion)} | ${delta(row.candidate, row.champion)} |`
        : `| ${name} | ${count(row.support)} | ${num(row.candidate)} |`,
    );
  }
  lines.push("", `${heading} Timings`, "", "| model | items | inference ms | total ms | Mpixel/s |", "|---|---:|---:|---:|---:|");
  for (const m of [candidate, champion]) {
    if (!m) continue;
    const t = m.timings;
    lines.push(`| ${m.role}${m.executionProvider ? ` (${m.executionProvider})` : ""} | ${t.items} | ${t.inferenceMs.toFixed(0)} | ${t.totalMs.toFixed(0)} | ${t.pixelsPerSecond === null ? "—" : (t.pixelsPerSecond / 1e6).toFixed(2)} |`);
  }
  if (set.skippedItems.length) {
    lines.push("", `${set.skippedItems.length} item(s) skipped:`, ...set.skippedItems.slice(0, 20).map((s) => `- \`${s.itemId}\`: ${s.reason}`));
  }
  return lines;
}

/** Overall metrics in a stable order: the primary first, then the rest as the candidate lists them. */
function metricNames(primary: string, candidate: ModelResult, champion: ModelResult | null): string[] {
  const names = [primary, ...Object.keys(candidate.metrics), ...Object.keys(champion?.metrics ?? {})];
  return [...new Set(names)];
}

export function renderSummaryHtml(report: EvaluationReport): string {
  const parts: string[] = [];
  parts.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Evaluation ${esc(report.evaluationId)}</title>`);
  parts.push(`<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}` +
    `td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#1a7f37}.down{color:#cf222e}</style></head><body>`);
  parts.push(`<h1>Evaluation ${esc(report.evaluationId)}</h1>`);
  const { evaluation } = report;
  parts.push(`<p>${esc(capital(report.task))} · dataset <code>${esc(evaluation.line)}</code> version <code>${esc(short(evaluation.versionId))}</code> · ${esc(evaluation.split)} split · ${evaluation.itemCount} items · ${esc(report.createdAt)}</p>`);
  parts.push(htmlSet(evaluation));
  if (report.newClasses.length) parts.push(`<p>New classes in the candidate: ${report.newClasses.map((c) => `<code>${esc(c)}</code>`).join(", ")}.</p>`);
  if (report.benchmark) {
    parts.push(`<h2>Benchmark set <code>${esc(short(report.benchmark.versionId))}</code> (${report.benchmark.itemCount} items)</h2>`, htmlSet(report.benchmark));
  }
  if (report.discrepancies.length) parts.push(`<h2>Discrepancies</h2><ul>${report.discrepancies.map((d) => `<li>${esc(d)}</li>`).join("")}</ul>`);
  if (report.warnings.length) parts.push(`<h2>Warnings</h2><ul>${report.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>`);
  parts.push("</body></html>");
  return `${parts.join("\n")}\n`;
}

function htmlSet(set: SetResult): string {
  const primary = set.candidate.primaryMetric.name;
  const { candidate, champion } = set;
  const out: string[] = [];
  out.push("<table><tr><th>metric</th>", `<th>candidate <code>${esc(candidate.name)}</code></th>`);
  if (champion) out.push(`<th>champion <code>${esc(champion.name)}</code></th><th>Δ</th>`);
  out.push("</tr>");
  for (const name of metricNames(primary, candidate, champion)) {
    const c = candidate.metrics[name] ?? null;
    const label = name === primary ? `<b>${esc(name)}</b> (primary)` : esc(name);
    out.push(`<tr><td>${label}</td><td class="n">${num(c)}</td>`);
    if (champion) {
      const h = champion.metrics[name] ?? null;
      out.push(`<td class="n">${num(h)}</td><td class="n ${deltaClass(c, h)}">${delta(c, h)}</td>`);
    }
    out.push("</tr>");
  }
  out.push("</table>");
  out.push(`<h3>Per-class ${esc(candidate.perClassMetric)}</h3>`, perClassSvg(set));
  out.push(`<table><tr><th>class</th><th>support</th><th>candidate</th>${champion ? "<th>champion</th><th>Δ</th>" : ""}</tr>`);
  for (const row of perClassRows(set)) {
    out.push(`<tr><td><code>${esc(row.className)}</code>${row.only === "candidate" ? " (new)" : row.only === "champion" ? " (champion only)" : ""}</td>` +
      `<td class="n">${count(row.support)}</td><td class="n">${num(row.candidate)}</td>` +
      (champion ? `<td class="n">${num(row.champion)}</td><td class="n ${deltaClass(row.candidate, row.champion)}">${delta(row.candidate, row.champion)}</td>` : "") + "</tr>");
  }
  out.push("</table>");
  out.push(`<h3>Timings</h3><table><tr><th>model</th><th>items</th><th>inference ms</th><th>total ms</th><th>Mpixel/s</th></tr>`);
  for (const m of [candidate, champion]) {
    if (!m) continue;
    const t = m.timings;
    out.push(`<tr><td>${m.role}${m.executionProvider ? ` (${esc(m.executionProvider)})` : ""}</td><td class="n">${t.items}</td><td class="n">${t.inferenceMs.toFixed(0)}</td><td class="n">${t.totalMs.toFixed(0)}</td>` +
      `<td class="n">${t.pixelsPerSecond === null ? "—" : (t.pixelsPerSecond / 1e6).toFixed(2)}</td></tr>`);
  }
  out.push("</table>");
  if (set.skippedItems.length) {
    out.push(`<h3>${set.skippedItems.length} item(s) skipped</h3><ul>`);
    for (const item of set.skippedItems.slice(0, 20)) out.push(`<li><code>${esc(item.itemId)}</code>: ${esc(item.reason)}</li>`);
    out.push("</ul>");
  }
  return out.join("");
}

const CANDIDATE_COLOUR = "#2f6feb";
const CHAMPION_COLOUR = "#8c959f";

/** Per-class bars of the evaluation split, candidate and champion side by side. */
export function renderPerClassSvg(report: EvaluationReport): string {
  return perClassSvg(report.evaluation);
}

function perClassSvg(set: SetResult): string {
  const rows = perClassRows(set);
  const hasChampion = set.champion !== null;
  const labelWidth = 160;
  const barWidth = 360;
  const bar = 12;
  const rowHeight = hasChampion ? 2 * bar + 10 : bar + 10;
  const top = 28;
  const width = labelWidth + barWidth + 60;
  const height = top + rows.length * rowHeight + 8;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img" aria-label="per-class ${esc(set.candidate.perClassMetric)}">`);
  out.push(`<rect x="${labelWidth}" y="4" width="10" height="10" fill="${CANDIDATE_COLOUR}"/><text x="${labelWidth + 14}" y="13">candidate</text>`);
  if (hasChampion) out.push(`<rect x="${labelWidth + 90}" y="4" width="10" height="10" fill="${CHAMPION_COLOUR}"/><text x="${labelWidth + 104}" y="13">champion</text>`);
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    out.push(`<text x="${labelWidth - 6}" y="${y + bar}" text-anchor="end">${esc(row.className)}</text>`);
    const bars: [string, number | null, string][] = [["candidate", row.candidate, CANDIDATE_COLOUR]];
    if (hasChampion) bars.push(["champion", row.champion, CHAMPION_COLOUR]);
    bars.forEach(([role, value, colour], j) => {
      const by = y + j * bar;
      const w = value === null ? 0 : Math.max(0, Math.min(1, value)) * barWidth;
      out.push(`<rect class="bar ${role}" data-class="${esc(row.className)}" x="${labelWidth}" y="${by}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${colour}"/>`);
      out.push(`<text x="${labelWidth + w + 4}" y="${by + bar - 3}">${num(value)}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("");
}

function num(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : v.toFixed(3);
}

function delta(c: number | null, h: number | null): string {
  if (c === null || h === null) return "—";
  const d = c - h;
  return `${d < 0 ? "−" : "+"}${Math.abs(d).toFixed(3)}`;
}

function deltaClass(c: number | null, h: number | null): string {
  if (c === null || h === null || c === h) return "";
  return c > h ? "up" : "down";
}

function count(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(1);
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function mdCell(s: string): string {
  return s.replace(/[|`\n]/g, " ");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
