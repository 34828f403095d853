import type { Queryable } from "../../ports.ts";

/** Input drift: image statistics (migration 0013) and drift check results (0014). */

export interface ImageStatsInput {
  source: "ingest" | "predict";
  itemId?: string | null;
  modelId?: string | null;
  alias?: string | null;
  features: Record<string, number>;
  classFractions?: Record<string, number> | null;
}

/** Records one image's features; an ingested item's first row wins (redeliveries add nothing). */
export async function recordImageStats(db: Queryable, s: ImageStatsInput): Promise<void> {
  await db.query(
    `INSERT INTO image_stats (source, item_id, model_id, alias, features, class_fractions) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (item_id) WHERE source = 'ingest' DO NOTHING`,
    [s.source, s.itemId ?? null, s.modelId ?? null, s.alias ?? null, JSON.stringify(s.features), s.classFractions ? JSON.stringify(s.classFractions) : null],
  );
}

/**
 * Records the drift features of a batch prediction's sampled images in one statement, in the
 * order given (the window reads the newest rows first, by id within one transaction's rows).
 */
export async function recordPredictedImageStats(
  db: Queryable, s: { modelId: string; alias: string; images: readonly { features: Record<string, number>; classFractions: Record<string, number> }[] },
): Promise<number> {
  if (s.images.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO image_stats (source, model_id, alias, features, class_fractions)
     SELECT 'predict', $1, $2, e->'features', e->'classFractions'
     FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`,
    [s.modelId, s.alias, JSON.stringify(s.images.map((i) => ({ features: i.features, classFractions: i.classFractions })))],
  );
  return rowCount ?? s.images.length;
}

/** Members of a dataset version: the rows of its line alive at its seq (see 0006_dataset_members). */
const MEMBER_OF_VERSION = `
  SELECT 1 FROM dataset_versions v JOIN dataset_members m
    ON m.line = v.line AND m.added_seq <= v.seq AND (m.removed_seq IS NULL OR m.removed_seq > v.seq)
  WHERE v.id = $1 AND m.item_id = s.item_id COLLATE "C"`;

/** Features of the version's items as ingest recorded them, at most `limit` (by item id). */
export async function referenceFeatures(db: Queryable, versionId: string, limit: number): Promise<Record<string, number>[]> {
  const { rows } = await db.query<{ features: Record<string, number> }>(
    `SELECT s.features FROM image_stats s
     WHERE s.source = 'ingest' AND EXISTS (${MEMBER_OF_VERSION})
     ORDER BY s.item_id COLLATE "C" LIMIT $2`,
    [versionId, limit],
  );
  return rows.map((r) => r.features);
}

/** The newest `limit` images (ingested or predicted) that are not in the reference version. */
export async function windowFeatures(db: Queryable, versionId: string, limit: number): Promise<Record<string, number>[]> {
  const { rows } = await db.query<{ features: Record<string, number> }>(
    `SELECT s.features FROM image_stats s
     WHERE s.item_id IS NULL OR NOT EXISTS (${MEMBER_OF_VERSION})
     ORDER BY s.recorded_at DESC, s.id DESC LIMIT $2`,
    [versionId, limit],
  );
  return rows.map((r) => r.features);
}

export interface DriftFeatureRow {
  name: string;
  psi: number | null;
  ks: number | null;
  ksPValue: number | null;
  drifted: boolean;
}

export interface DriftCheckRow {
  id: number;
  alias: string;
  model_id: string | null;
  reference_dataset_version: string | null;
  reference_images: number;
  window_images: number;
  features: DriftFeatureRow[];
  drifted: boolean;
  skipped_reason: string | null;
  checked_at: Date;
}

export async function insertDriftCheck(
  db: Queryable,
  c: { alias: string; modelId: string | null; referenceDatasetVersion: string | null; referenceImages: number; windowImages: number; features: DriftFeatureRow[]; drifted: boolean; skippedReason: string | null },
): Promise<DriftCheckRow> {
  const { rows } = await db.query<DriftCheckRow>(
    `INSERT INTO drift_checks (alias, model_id, reference_dataset_version, reference_images, window_images, features, drifted, skipped_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [c.alias, c.modelId, c.referenceDatasetVersion, c.referenceImages, c.windowImages, JSON.stringify(c.features), c.drifted, c.skippedReason],
  );
  return rows[0]!;
}

export async function latestDriftCheck(db: Queryable): Promise<DriftCheckRow | null> {
  const { rows } = await db.query<DriftCheckRow>(`SELECT * FROM drift_checks ORDER BY checked_at DESC, id DESC LIMIT 1`);
  return rows[0] ?? null;
}
