import type { Queryable } from "../../ports.ts";
import type { ItemAssets } from "./items.ts";

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

/** Membership at a version: rows added at or before its seq and not removed by then. */
const MEMBER_AT = `m.line = $1 AND m.added_seq <= $2 AND (m.removed_seq IS NULL OR m.removed_seq > $2)`;

/** One page of a version's members in item-id byte order (keyset: pass the last id seen). */
export async function versionMembersPage(db: Queryable, line: string, seq: number, afterItemId: string, limit: number): Promise<VersionMember[]> {
  const { rows } = await db.query<VersionMember>(
    `SELECT m.item_id, m.annotation_id, m.split FROM dataset_members m
     WHERE ${MEMBER_AT} AND m.item_id COLLATE "C" > $3
     ORDER BY m.item_id COLLATE "C" LIMIT $4`,
    [line, seq, afterItemId, limit],
  );
  return rows;
}

/** Every member of a version (tests and tools; the freeze pages instead). */
export async function versionMembers(db: Queryable, versionId: string): Promise<VersionMember[]> {
  const version = await getDatasetVersion(db, versionId);
  if (!version) return [];
  const out: VersionMember[] = [];
  for (let after = ""; ;) {
    const page = await versionMembersPage(db, version.line, version.seq, after, 5000);
    out.push(...page);
    if (page.length < 5000) return out;
    after = page[page.length - 1]!.item_id;
  }
}

/** What a manifest entry is made of: the item, its label's provenance and stored exports. */
export interface EntrySourceRow {
  id: string;
  product_name: string | null;
  /** The item's split key (survives re-uploads of the object; see migration 0004). */
  split_key: string;
  width: number | null;
  height: number | null;
  assets: ItemAssets;
  annotation_id: string;
  /** `canonical.provenance` and `canonical.image` of the label. */
  provenance: unknown;
  image: { width: number; height: number } | null;
  /** The exports recorded for the label (null: not written yet). */
  exports: Record<string, unknown> | null;
  /** The whole canonical label, only when its exports are missing (they must be written). */
  canonical: unknown;
}

const ENTRY_COLUMNS = `i.id, i.product_name, i.split_key, i.width, i.height, i.assets, a.id AS annotation_id,
  a.canonical -> 'provenance' AS provenance, a.canonical -> 'image' AS image, a.exports,
  CASE WHEN a.exports IS NULL OR NOT (a.exports ? 'label') OR NOT (a.exports ? 'yolo') OR ($TASK = 'segmentation' AND NOT (a.exports ? 'mask'))
       THEN a.canonical END AS canonical`;

function entryColumns(taskParam: number): string {
  return ENTRY_COLUMNS.replace("$TASK", `$${taskParam}`);
}

export interface FreezeCandidateRow extends EntrySourceRow {
  /** The item's current membership of the line, if any. */
  member_annotation_id: string | null;
  member_split: "train" | "eval" | null;
  /** The seq of the version that wrote the member's current manifest entry. */
  member_added_seq: number | null;
  /** When the item became `accepted` (full precision, as text): the freeze moves it only if unchanged. */
  changed_at: string;
}

/**
 * One page of the items waiting for the next version of `line` (state `accepted`), in item-id byte
 * order, each with its newest accepted label and its current membership of the line.
 */
export async function freezeCandidatesPage(db: Queryable, line: string, task: string, afterItemId: string, limit: number): Promise<FreezeCandidateRow[]> {
  const { rows } = await db.query<FreezeCandidateRow>(
    // The page of ids first (items_accepted_idx gives them in order), then one index probe per id.
    // Member keys are compared under "C", the collation of their indexes.
    `WITH page AS MATERIALIZED (
       SELECT id FROM items WHERE state = 'accepted' AND id COLLATE "C" > $2 ORDER BY id COLLATE "C" LIMIT $3)
     SELECT ${entryColumns(4)}, m.annotation_id AS member_annotation_id, m.split AS member_split, m.added_seq AS member_added_seq, i.state_changed_at::text AS changed_at
     FROM page p JOIN items i ON i.id = p.id
     JOIN LATERAL (SELECT a.id, a.canonical, a.exports FROM annotations a WHERE a.item_id = p.id AND a.verdict = 'accepted'
                   ORDER BY a.edited_at DESC, a.received_at DESC LIMIT 1) a ON true
     LEFT JOIN dataset_members m ON m.line = $1 AND m.item_id = p.id COLLATE "C" AND m.removed_seq IS NULL
     ORDER BY p.id COLLATE "C"`,
    [line, afterItemId, limit, task],
  );
  return rows;
}

export interface MemberEntryRow extends EntrySourceRow {
  split: "train" | "eval";
}

/** One page of a version's members with what their manifest entries are made of. */
export async function memberEntriesPage(db: Queryable, line: string, seq: number, task: string, afterItemId: string, limit: number): Promise<MemberEntryRow[]> {
  const { rows } = await db.query<MemberEntryRow>(
    `SELECT ${entryColumns(5)}, m.split
     FROM dataset_members m JOIN items i ON i.id = m.item_id JOIN annotations a ON a.id = m.annotation_id
     WHERE ${MEMBER_AT} AND m.item_id COLLATE "C" > $3
     ORDER BY m.item_id COLLATE "C" LIMIT $4`,
    [line, seq, afterItemId, limit, task],
  );
  return rows;
}

/** Records the content-addressed exports written for a label. */
export async function saveAnnotationExports(db: Queryable, annotationId: string, exports: object): Promise<void> {
  await db.query(`UPDATE annotations SET exports = $2 WHERE id = $1`, [annotationId, JSON.stringify(exports)]);
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
}

/** Inserts the version row; false when a version with this id exists already. */
export async function insertDatasetVersion(db: Queryable, v: NewDatasetVersion): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO dataset_versions (id, line, seq, parent_id, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, exports, trigger)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO NOTHING RETURNING 1 AS ok`,
    [v.id, v.line, v.seq, v.parentId, v.manifestUri, v.itemCount, v.trainCount, v.evalCount, v.freshCount,
      JSON.stringify(v.classes), JSON.stringify(v.exports), v.trigger],
  );
  return rows.length > 0;
}

export interface MemberChange {
  itemId: string;
  annotationId: string;
  split: "train" | "eval";
  /** `insert`: new to the line; `replace`: its label changed; `same`: already a member with this label. */
  kind: "insert" | "replace" | "same";
  /** The item's state_changed_at when it was read (text, full precision). */
  changedAt: string;
}

/**
 * Applies one batch of a freeze's changes at version `seq`: closes the memberships whose label
 * changed, adds the new ones, and moves the items from `accepted` to `in_dataset` — only items
 * still in the state the freeze read them in (an item relabelled meanwhile went through
 * `annotated` again: it stays `accepted` with its new label for the next version). Set-based: a
 * few statements per batch, whatever its size.
 */
export async function applyMemberChanges(
  tx: Queryable,
  v: { line: string; seq: number; versionId: string; reason: string },
  changes: readonly MemberChange[],
): Promise<number> {
  const batch = JSON.stringify(changes.map((c) => ({ item_id: c.itemId, annotation_id: c.annotationId, split: c.split, kind: c.kind, changed_at: c.changedAt })));
  const rows = `jsonb_to_recordset($1::jsonb) AS b(item_id text, annotation_id text, split text, kind text, changed_at timestamptz)`;
  await tx.query(
    `UPDATE dataset_members m SET removed_seq = $3 FROM ${rows}
     WHERE b.kind = 'replace' AND m.line = $2 AND m.item_id = b.item_id COLLATE "C" AND m.removed_seq IS NULL AND m.annotation_id <> b.annotation_id`,
    [batch, v.line, v.seq],
  );
  await tx.query(
    `INSERT INTO dataset_members (line, item_id, added_seq, annotation_id, split)
     SELECT $2, b.item_id, $3, b.annotation_id, b.split FROM ${rows} WHERE b.kind <> 'same'`,
    [batch, v.line, v.seq],
  );
  const moved = await tx.query<{ n: number }>(
    `WITH upd AS (
       UPDATE items i SET state = 'in_dataset', dataset_version_id = $2, updated_at = now(), state_changed_at = now(),
              register_claim_until = NULL, register_claim_token = NULL
       FROM ${rows}
       -- IS NOT DISTINCT FROM keeps the planner on the primary key: items accepted by one statement
       -- share a state_changed_at, and an index probe on (state, state_changed_at) would visit them all.
       WHERE i.id = b.item_id AND i.state = 'accepted' AND i.state_changed_at IS NOT DISTINCT FROM b.changed_at
       RETURNING i.id),
     rec AS (INSERT INTO item_transitions (item_id, from_state, to_state, reason) SELECT id, 'accepted', 'in_dataset', $3 FROM upd)
     SELECT count(*)::int AS n FROM upd`,
    [batch, v.versionId, v.reason],
  );
  return moved.rows[0]?.n ?? 0;
}
