import { ITEM_STATES, type StatusSnapshot } from "../core/status/snapshot.ts";

const short = (id: string | null | undefined) => (id ? (id.length > 22 ? `${id.slice(0, 22)}…` : id) : "-");
const value = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : v.toFixed(4));

/** A terminal-sized summary of the status snapshot. */
export function printStatus(s: StatusSnapshot, write: (line: string) => void): void {
  write(`items: ${s.itemsTotal}  (${ITEM_STATES.map((st) => `${st} ${s.itemsByState[st]}`).join(", ")})`);
  write(`funnel: ${ITEM_STATES.map((st) => `${st} ${s.funnel[st]}`).join(" → ")}`);
  write(`aliases: ${s.aliases.length ? s.aliases.map((a) => `${a.alias} → ${a.modelId}`).join(", ") : "none yet"}`);
  if (s.pendingReviews.length) {
    for (const r of s.pendingReviews) write(`review pending: ${r.modelId} for ${r.alias} — mlops command approve ${r.evaluationId}`);
  }
  write(`dataset versions: ${s.datasetVersions.length}`);
  for (const v of s.datasetVersions.slice(0, 5)) write(`  ${v.line} v${v.seq}  ${v.id.slice(0, 12)}  items ${v.itemCount} (train ${v.trainCount}, eval ${v.evalCount}, fresh ${v.freshCount})`);
  write(`training runs: ${s.trainingRuns.length}`);
  for (const r of s.trainingRuns.slice(0, 5)) write(`  ${r.id}  ${r.state}  attempt ${r.attempt}  dataset v${r.datasetSeq ?? "?"}  model ${short(r.modelId)}${r.error ? `  error: ${r.error}` : ""}`);
  write(`evaluations: ${s.evaluations.length}`);
  for (const e of s.evaluations.slice(0, 5)) write(`  ${e.id}  ${e.state}  ${e.primaryMetric ?? ""} ${value(e.candidateValue)} vs champion ${value(e.championValue)}  ${e.decision ?? ""}`);
  if (s.predictionRuns?.length) {
    write(`batch predictions: ${s.predictionRuns.length}`);
    for (const p of s.predictionRuns.slice(0, 5)) {
      const counts = p.ok === null ? "" : `  ${p.ok} ok, ${p.failed ?? 0} failed`;
      write(`  ${p.id}  ${p.state}  ${p.alias} (${short(p.modelId)})  ${p.sourcePrefix} → ${p.outputPrefix}${counts}${p.error ? `  error: ${p.error}` : ""}`);
    }
  }
  if (s.leaderboard.length) {
    write("leaderboard:");
    for (const [i, m] of s.leaderboard.slice(0, 5).entries()) write(`  ${i + 1}. ${m.modelId}  ${m.metric ?? ""} ${value(m.value)}  ${m.aliases.join(",")}`);
  }
  if (s.failures.length) {
    write(`failures: ${s.failures.length}`);
    for (const f of s.failures.slice(0, 10)) write(`  ${f.kind} ${f.id}: ${f.reason}`);
  }
  if (s.itemWarnings.length) {
    write(`warnings: ${s.itemWarnings.length}`);
    for (const w of s.itemWarnings.slice(0, 10)) write(`  ${w.id}${w.title ? ` (${w.title})` : ""}: ${w.warnings.join("; ")}`);
  }
  if (s.drift) {
    const d = s.drift;
    if (d.skippedReason) write(`drift: not judged (${d.skippedReason})`);
    else {
      const moved = d.features.filter((f) => f.drifted).map((f) => f.name);
      write(`drift: ${d.drifted ? "DRIFTED" : "none"} — ${d.window.images} recent images vs ${d.window.referenceImages} of dataset ${short(d.referenceDatasetVersion)} (${d.alias}); ${moved.length}/${d.features.length} features drifted${moved.length ? `: ${moved.slice(0, 6).join(", ")}` : ""}`);
    }
  }
  if (s.duplicates.length) {
    write(`duplicates: ${s.duplicates.length}`);
    for (const d of s.duplicates.slice(0, 10)) write(`  ${d.id} ${d.sourceName}: same bytes as ${d.duplicateOf}${d.originalTitle ? ` (${d.originalTitle})` : ""}`);
  }
}
