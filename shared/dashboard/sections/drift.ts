/** The input drift section: the latest check, feature by feature, PSI drawn as a bar. */
import { formatCount, formatMetric, idCell, timeCell } from "../format.ts";
import { html, type SafeHtml } from "../html.ts";
import { badge, emptyState, modelRef, section, table, type RenderContext } from "./common.ts";

/** PSI bars are scaled to this value (a PSI of 1 is far past any threshold). */
const PSI_SCALE = 1;

export function renderDrift(context: RenderContext): SafeHtml {
  const drift = context.snapshot.drift;
  if (!drift) return section("drift", "Input drift", emptyState("No drift check yet (reconcile runs it once images and a served model exist)."));
  if (drift.skippedReason) {
    return section("drift", "Input drift", html`<p class="note">Not judged at ${timeCell(drift.checkedAt, context.reference)}: ${drift.skippedReason}.</p>`);
  }
  const moved = drift.features.filter((f) => f.drifted).length;
  const summary = html`<p>${badge(drift.drifted ? "drifted" : "no drift", drift.drifted ? "bad" : "good")}
 ${formatCount(drift.window.images)} recent images vs ${formatCount(drift.window.referenceImages)} of dataset ${drift.referenceDatasetVersion ? idCell(drift.referenceDatasetVersion, 12, "prefix") : "–"}
 (model ${modelRef(context, drift.modelId)} behind ${drift.alias}); ${moved} of ${drift.features.length} features drifted; checked ${timeCell(drift.checkedAt, context.reference)}.</p>`;
  const rows = [...drift.features]
    .sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1))
    .map((f) => {
      const width = Math.round(Math.min(1, (f.psi ?? 0) / PSI_SCALE) * 120);
      return [
        f.name,
        html`<svg width="124" height="10" role="img" aria-label="PSI ${formatMetric(f.psi)}"><rect x="0" y="1" width="${width}" height="8" fill="${f.drifted ? "#c0392b" : "#7f8c8d"}"></rect></svg> ${formatMetric(f.psi)}`,
        formatMetric(f.ks),
        f.ksPValue === null ? "–" : f.ksPValue.toExponential(1),
        f.drifted ? badge("drifted", "bad") : "",
      ];
    });
  return section("drift", "Input drift", html`${summary}${table(["feature", "PSI", "KS D", "KS p", ""], rows, "drift")}`,
    "PSI (Evidently's binning) and the two-sample KS test per feature; a feature drifts when both pass their thresholds, the input when half the features do.");
}
