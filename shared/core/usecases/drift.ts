import { describeError } from "../../errors.ts";
import { insertDriftCheck, latestDriftCheck, referenceFeatures, windowFeatures, type DriftCheckRow } from "../../db/queries/drift.ts";
import { aliasHolder, getModel } from "../../db/queries/models.ts";
import type { Deps } from "../../ports.ts";
import { compareFeatures } from "../drift/stats.ts";
import { notify } from "../effects.ts";

/** Most reference images compared (the version's items by id; a sample, not the whole line). */
const MAX_REFERENCE_IMAGES = 5000;

/** What `mlops status --json` shows as `drift`. */
export interface DriftStatus {
  alias: string;
  modelId: string | null;
  referenceDatasetVersion: string | null;
  window: { images: number; referenceImages: number };
  features: { name: string; psi: number | null; ks: number | null; ksPValue: number | null; drifted: boolean }[];
  drifted: boolean;
  skippedReason: string | null;
  checkedAt: string;
}

export function driftStatusOf(row: DriftCheckRow): DriftStatus {
  return {
    alias: row.alias,
    modelId: row.model_id,
    referenceDatasetVersion: row.reference_dataset_version,
    window: { images: row.window_images, referenceImages: row.reference_images },
    features: row.features,
    drifted: row.drifted,
    skippedReason: row.skipped_reason,
    checkedAt: new Date(row.checked_at).toISOString(),
  };
}

/**
 * The input drift check (reconcile runs it; at most once per DRIFT_CHECK_SECONDS). The reference
 * is the training dataset version of the model behind DRIFT_ALIAS (staging when that alias holds
 * no model); the window is the newest DRIFT_WINDOW_IMAGES images, ingested or predicted, outside
 * that version. Every feature is compared with PSI and KS (shared/core/drift/stats.ts); the
 * verdict is recorded, and turning drifted posts an alert (turning back, an info line).
 */
export async function checkDrift(deps: Pick<Deps, "db" | "config" | "log" | "notifier">, now: Date = new Date()): Promise<DriftCheckRow | null> {
  const d = deps.config.serving.drift;
  const previous = await latestDriftCheck(deps.db);
  if (previous && now.getTime() - new Date(previous.checked_at).getTime() < d.checkSeconds * 1000) return null;

  let alias = d.alias;
  let holder = await aliasHolder(deps.db, alias);
  if (!holder && alias !== "staging") {
    alias = "staging";
    holder = await aliasHolder(deps.db, alias);
  }
  const skip = (reason: string, fields: { modelId?: string | null; version?: string | null; referenceImages?: number; windowImages?: number } = {}) =>
    insertDriftCheck(deps.db, {
      alias, modelId: fields.modelId ?? null, referenceDatasetVersion: fields.version ?? null, referenceImages: fields.referenceImages ?? 0,
      windowImages: fields.windowImages ?? 0, features: [], drifted: false, skippedReason: reason,
    });
  if (!holder) return skip(`no model holds ${d.alias}${d.alias === "staging" ? "" : " or staging"}`);
  const model = await getModel(deps.db, holder.model_id);
  const version = model?.dataset_version_id ?? null;
  if (!version) return skip(`model ${holder.model_id} names no training dataset version`, { modelId: holder.model_id });
  const reference = await referenceFeatures(deps.db, version, MAX_REFERENCE_IMAGES);
  const window = await windowFeatures(deps.db, version, d.windowImages);
  const sizes = { modelId: holder.model_id, version, referenceImages: reference.length, windowImages: window.length };
  if (reference.length < 2) return skip(`the reference version has ${reference.length} images with statistics`, sizes);
  if (window.length < d.minImages) return skip(`${window.length} recent images, fewer than DRIFT_MIN_IMAGES=${d.minImages}`, sizes);

  const result = compareFeatures(reference, window, { psiThreshold: d.psiThreshold, ksPValue: d.ksPValue, driftShare: d.driftShare });
  const row = await insertDriftCheck(deps.db, {
    alias, modelId: holder.model_id, referenceDatasetVersion: version, referenceImages: reference.length, windowImages: window.length,
    features: result.features, drifted: result.drifted, skippedReason: null,
  });
  const wasDrifted = previous?.drifted === true;
  if (result.drifted) {
    // Every drifted verdict, for the log-based metric behind the drift alert policy (infra/monitoring.tf).
    deps.log.warn("input drift detected", { alert: "input_drift", alias, modelId: holder.model_id, referenceDatasetVersion: version, windowImages: window.length });
  }
  if (result.drifted && !wasDrifted) {
    const moved = result.features.filter((f) => f.drifted).sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0));
    const top = moved.slice(0, 5).map((f) => `${f.name} (PSI ${f.psi?.toFixed(2)}, KS ${f.ks?.toFixed(2)}, p ${f.ksPValue?.toExponential(1)})`).join("; ");
    await notify(deps, {
      severity: "alert",
      title: `Input drift: the last ${window.length} images differ from the training data of ${alias}`,
      text: `${moved.length} of ${result.features.length} features drifted against dataset version ${version.slice(0, 12)} (model ${holder.model_id}): ${top}. Check the uploads, or send them to annotation so the next model learns them.`,
    }, { dedupeKey: `drift:${alias}:${version}`, windowSeconds: 3600 });
  } else if (!result.drifted && wasDrifted) {
    await notify(deps, { severity: "info", title: `Input drift cleared on ${alias}`, text: `the last ${window.length} images match the training data again` });
  }
  return row;
}

/** Reconcile's step: never fails the run. */
export async function checkDriftQuietly(deps: Pick<Deps, "db" | "config" | "log" | "notifier">): Promise<string | null> {
  try {
    const row = await checkDrift(deps);
    if (!row) return null;
    return row.skipped_reason ? null : `drift check: ${row.drifted ? "drifted" : "no drift"} (${row.window_images} recent images)`;
  } catch (err) {
    deps.log.warn("drift check failed; the next run retries", { error: describeError(err) });
    return null;
  }
}
