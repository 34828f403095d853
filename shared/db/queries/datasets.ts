import type { Queryable } from "../../ports.ts";

export interface DatasetVersionRow {
  id: string;
  line: string;
  seq: number;
  parent_id: string | null;
  manifest_uri: string;
  item_count: number;
  train_count: number;
  eval_count: number;
  fresh_count: number;
  classes: string[];
  exports: Record<string, string>;
  trigger: string;
  created_at: Date;
}

export async function latestDatasetVersion(db: Queryable, line: string): Promise<DatasetVersionRow | null> {
  const { rows } = await db.query<DatasetVersionRow>(`SELECT * FROM dataset_versions WHERE line = $1 ORDER BY seq DESC LIMIT 1`, [line]);
  return rows[0] ?? null;
}

export async function getDatasetVersion(db: Queryable, id: string): Promise<DatasetVersionRow | null> {
  const { rows } = await db.query<DatasetVersionRow>(`SELECT * FROM dataset_versions WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export interface VersionMember {
  item_id: string;
  annotation_id: string;
  split: "train" | "eval";
}

export async function versionMembers(db: Queryable, versionId: string): Promise<VersionMember[]> {
  const { rows } = await db.query<VersionMember>(
    `SELECT item_id, annotation_id, split FROM dataset_version_items WHERE version_id = $1 ORDER BY item_id`,
    [versionId],
  );
  return rows;
}

export interface NewDatasetVersion {
  id: string;
  line: string;
  seq: number;
  parentId: string | null;
  manifestUri: string;
  itemCount: number;
  trainCount: number;
  evalCount: number;
  freshCount: number;
  classes: string[];
  exports: Record<string, string>;
  trigger: string;
  members: { itemId: string; annotationId: string; split: "train" | "eval" }[];
}

/** Inserts the version and its members; false when a version with this id exists already. */
export async function insertDatasetVersion(db: Queryable, v: NewDatasetVersion): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO dataset_versions (id, line, seq, parent_id, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, exports, trigger)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO NOTHING RETURNING 1 AS ok`,
    [v.id, v.line, v.seq, v.parentId, v.manifestUri, v.itemCount, v.trainCount, v.evalCount, v.freshCount,
      JSON.stringify(v.classes), JSON.stringify(v.exports), v.trigger],
  );
  if (rows.length === 0) return false;
  // One statement for all members keeps a 10k-item version to one round trip.
  await db.query(
    `INSERT INTO dataset_version_items (version_id, item_id, annotation_id, split)
     SELECT $1, m.item_id, m.annotation_id, m.split
     FROM jsonb_to_recordset($2::jsonb) AS m(item_id text, annotation_id text, split text)`,
    [v.id, JSON.stringify(v.members.map((m) => ({ item_id: m.itemId, annotation_id: m.annotationId, split: m.split })))],
  );
  return true;
}
