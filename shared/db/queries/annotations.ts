import type { CanonicalAnnotation } from "../../core/annotation/canonical.ts";
import type { Queryable } from "../../ports.ts";

export interface AnnotationRow {
  id: string;
  item_id: string;
  backend: string;
  label_id: string;
  annotator: string | null;
  edited_at: Date;
  canonical: CanonicalAnnotation | null;
  canonical_sha256: string | null;
  verdict: "accepted" | "rejected";
  reasons: string[];
  received_at: Date;
}

export interface NewAnnotation {
  id: string;
  itemId: string;
  backend: string;
  labelId: string;
  annotator: string | null;
  editedAt: string;
  canonical: CanonicalAnnotation | null;
  canonicalSha256: string | null;
  verdict: "accepted" | "rejected";
  reasons: string[];
  /** Content-addressed exports written for an accepted label (shared/core/datasets/exports.ts). */
  exports?: object | null;
}

/** Inserts a label revision; false when this revision (backend, label, edited-at) was stored before. */
export async function insertAnnotation(db: Queryable, a: NewAnnotation): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO annotations (id, item_id, backend, label_id, annotator, edited_at, canonical, canonical_sha256, verdict, reasons, exports)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
    [a.id, a.itemId, a.backend, a.labelId, a.annotator, a.editedAt, a.canonical ? JSON.stringify(a.canonical) : null,
      a.canonicalSha256, a.verdict, JSON.stringify(a.reasons), a.exports ? JSON.stringify(a.exports) : null],
  );
  return rows.length > 0;
}

/**
 * Which of these label revisions a poll has processed before (migration 0005's `label_revisions`),
 * as `${labelId}@${editedAt ISO}` keys. One indexed lookup for a whole listing.
 */
export async function processedLabelRevisions(db: Queryable, backend: string, revisions: readonly { labelId: string; editedAt: string }[]): Promise<Set<string>> {
  if (revisions.length === 0) return new Set();
  const { rows } = await db.query<{ label_id: string; edited_at: Date }>(
    `SELECT r.label_id, r.edited_at FROM label_revisions r
     JOIN unnest($2::text[], $3::timestamptz[]) AS wanted (label_id, edited_at) ON r.label_id = wanted.label_id AND r.edited_at = wanted.edited_at
     WHERE r.backend = $1`,
    [backend, revisions.map((r) => r.labelId), revisions.map((r) => r.editedAt)],
  );
  return new Set(rows.map((r) => `${r.label_id}@${r.edited_at.toISOString()}`));
}

export interface LabelRevisionRecord {
  backend: string;
  labelId: string;
  editedAt: string;
  outcome: "accepted" | "rejected" | "unmatched";
  itemId: string | null;
  notes: readonly string[];
}

/** Records a processed revision; false when it was recorded before (a repeated poll). */
export async function recordLabelRevision(db: Queryable, r: LabelRevisionRecord): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO label_revisions (backend, label_id, edited_at, outcome, item_id, notes) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
    [r.backend, r.labelId, r.editedAt, r.outcome, r.itemId, JSON.stringify(r.notes)],
  );
  return rows.length > 0;
}

/** The newest label revision of an item (by edit time), whatever its verdict. */
export async function latestAnnotation(db: Queryable, itemId: string): Promise<AnnotationRow | null> {
  const { rows } = await db.query<AnnotationRow>(
    `SELECT * FROM annotations WHERE item_id = $1 ORDER BY edited_at DESC, received_at DESC LIMIT 1`,
    [itemId],
  );
  return rows[0] ?? null;
}
