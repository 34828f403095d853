import type { ItemState } from "../../core/status/snapshot.ts";
import type { Queryable } from "../../ports.ts";

/**
 * What the dashboard's detail pages and `mlops runs compare` read: a page of items for the gallery,
 * one item with its history, one run with its model and evaluation, one evaluation with its
 * decisions. Each reads a bounded number of rows through an index.
 */
const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

export interface ItemAssetRef {
  uri: string;
  sha256?: string;
}

export interface GalleryItem {
  id: string;
  title: string | null;
  state: ItemState;
  kind: string | null;
  width: number | null;
  height: number | null;
  assets: Partial<Record<"rgb" | "nir" | "image" | "nodata", ItemAssetRef>>;
  error: string | null;
  stateChangedAt: string;
}

const ITEM_COLUMNS = `id, title, state, kind, width, height, assets, error, state_changed_at`;

function galleryItem(r: Record<string, unknown>): GalleryItem {
  return {
    id: String(r.id), title: (r.title as string | null) ?? null, state: r.state as ItemState, kind: (r.kind as string | null) ?? null,
    width: (r.width as number | null) ?? null, height: (r.height as number | null) ?? null,
    assets: (r.assets as GalleryItem["assets"] | null) ?? {}, error: (r.error as string | null) ?? null, stateChangedAt: iso(r.state_changed_at as Date)!,
  };
}

/** The most recently changed items, of one state or of all (newest first). */
export async function listGalleryItems(db: Queryable, options: { state?: ItemState; limit: number }): Promise<GalleryItem[]> {
  const { rows } = options.state
    ? await db.query<Record<string, unknown>>(`SELECT ${ITEM_COLUMNS} FROM items WHERE state = $1 ORDER BY state_changed_at DESC LIMIT $2`, [options.state, options.limit])
    : await db.query<Record<string, unknown>>(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY state_changed_at DESC, id DESC LIMIT $1`, [options.limit]);
  return rows.map(galleryItem);
}

export interface ItemPage {
  item: GalleryItem & { sourceName: string; productName: string | null; duplicateOf: string | null; warnings: string[] };
  /** Newest first (the transitions retention keeps). */
  transitions: { from: string | null; to: string; reason: string | null; at: string }[];
  /** Label revisions, newest first, with the verdict and its reasons. */
  annotations: { id: string; annotator: string | null; verdict: string; reasons: string[]; editedAt: string; canonical: unknown }[];
  /** Dataset versions that hold the item (line, seq, id), newest first. */
  datasetVersions: { id: string; line: string; seq: number; split: string }[];
}

export async function readItemPage(db: Queryable, itemId: string): Promise<ItemPage | null> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT ${ITEM_COLUMNS}, source_name, product_name, duplicate_of, warnings FROM items WHERE id = $1`, [itemId]);
  const r = rows[0];
  if (!r) return null;
  const transitions = await db.query<{ from_state: string | null; to_state: string; reason: string | null; at: Date }>(
    `SELECT from_state, to_state, reason, at FROM item_transitions WHERE item_id = $1 ORDER BY at DESC, id DESC LIMIT 100`, [itemId]);
  const annotations = await db.query<{ id: string; annotator: string | null; verdict: string; reasons: unknown; edited_at: Date; canonical: unknown }>(
    `SELECT id, annotator, verdict, reasons, edited_at, canonical FROM annotations WHERE item_id = $1 ORDER BY edited_at DESC LIMIT 20`, [itemId]);
  const versions = await db.query<{ id: string; line: string; seq: number; split: string }>(
    `SELECT v.id, v.line, v.seq, m.split FROM dataset_members m
     JOIN dataset_versions v ON v.line = m.line AND v.seq >= m.added_seq AND (m.removed_seq IS NULL OR v.seq < m.removed_seq)
     WHERE m.item_id = $1 ORDER BY v.seq DESC LIMIT 20`, [itemId]);
  return {
    item: {
      ...galleryItem(r), sourceName: String(r.source_name), productName: (r.product_name as string | null) ?? null,
      duplicateOf: (r.duplicate_of as string | null) ?? null, warnings: Array.isArray(r.warnings) ? (r.warnings as string[]) : [],
    },
    transitions: transitions.rows.map((t) => ({ from: t.from_state, to: t.to_state, reason: t.reason, at: iso(t.at)! })),
    annotations: annotations.rows.map((a) => ({
      id: a.id, annotator: a.annotator, verdict: a.verdict, reasons: Array.isArray(a.reasons) ? (a.reasons as unknown[]).map(String) : [], editedAt: iso(a.edited_at)!, canonical: a.canonical,
    })),
    datasetVersions: versions.rows,
  };
}

export interface RunDetail {
  id: string;
  line: string;
  state: string;
  attempt: number;
  datasetVersionId: string;
  datasetSeq: number | null;
  params: Record<string, unknown>;
  /** What the trainer reported (its own metrics, epochs). */
  selfReported: Record<string, unknown> | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  model: { id: string; name: string; uri: string } | null;
  /** The evaluation of this run's model as the candidate (latest). */
  evaluation: { id: string; state: string; reportUri: string | null; metrics: Record<string, unknown> | null } | null;
}

export async function readRunDetail(db: Queryable, runId: string): Promise<RunDetail | null> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT r.id, r.line, r.state, r.attempt, r.dataset_version_id, v.seq AS dataset_seq, r.params, r.self_reported, r.error, r.created_at, r.finished_at,
            m.id AS model_id, m.name AS model_name, m.uri AS model_uri
     FROM training_runs r LEFT JOIN dataset_versions v ON v.id = r.dataset_version_id LEFT JOIN models m ON m.training_run_id = r.id
     WHERE r.id = $1`, [runId]);
  const r = rows[0];
  if (!r) return null;
  let evaluation: RunDetail["evaluation"] = null;
  if (r.model_id) {
    const e = await db.query<{ id: string; state: string; report_uri: string | null; metrics: Record<string, unknown> | null }>(
      `SELECT id, state, report_uri, metrics FROM evaluations WHERE candidate_model_id = $1 ORDER BY created_at DESC LIMIT 1`, [r.model_id]);
    const row = e.rows[0];
    if (row) evaluation = { id: row.id, state: row.state, reportUri: row.report_uri, metrics: row.metrics };
  }
  return {
    id: String(r.id), line: String(r.line), state: String(r.state), attempt: Number(r.attempt), datasetVersionId: String(r.dataset_version_id),
    datasetSeq: (r.dataset_seq as number | null) ?? null, params: (r.params as Record<string, unknown> | null) ?? {},
    selfReported: (r.self_reported as Record<string, unknown> | null) ?? null, error: (r.error as string | null) ?? null,
    createdAt: iso(r.created_at as Date)!, finishedAt: iso(r.finished_at as Date | null),
    model: r.model_id ? { id: String(r.model_id), name: String(r.model_name), uri: String(r.model_uri) } : null,
    evaluation,
  };
}

export interface EvaluationDetail {
  id: string;
  state: string;
  candidateModelId: string;
  championModelId: string | null;
  datasetVersionId: string;
  reportUri: string | null;
  summaryUri: string | null;
  metrics: Record<string, unknown> | null;
  error: string | null;
  createdAt: string;
  decisions: { alias: string; outcome: string; actor: string; reasons: string[]; at: string }[];
}

export async function readEvaluationDetail(db: Queryable, evaluationId: string): Promise<EvaluationDetail | null> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, state, candidate_model_id, champion_model_id, dataset_version_id, report_uri, summary_uri, metrics, error, created_at FROM evaluations WHERE id = $1`, [evaluationId]);
  const r = rows[0];
  if (!r) return null;
  const decisions = await db.query<{ alias: string; outcome: string; actor: string; reasons: unknown; created_at: Date }>(
    `SELECT alias, outcome, actor, reasons, created_at FROM promotion_decisions WHERE evaluation_id = $1 ORDER BY created_at, id`, [evaluationId]);
  return {
    id: String(r.id), state: String(r.state), candidateModelId: String(r.candidate_model_id), championModelId: (r.champion_model_id as string | null) ?? null,
    datasetVersionId: String(r.dataset_version_id), reportUri: (r.report_uri as string | null) ?? null, summaryUri: (r.summary_uri as string | null) ?? null,
    metrics: (r.metrics as Record<string, unknown> | null) ?? null, error: (r.error as string | null) ?? null, createdAt: iso(r.created_at as Date)!,
    decisions: decisions.rows.map((d) => ({ alias: d.alias, outcome: d.outcome, actor: d.actor, reasons: Array.isArray(d.reasons) ? (d.reasons as unknown[]).map(String) : [], at: iso(d.created_at)! })),
  };
}

/** The annotation queue (pre-labelled items waiting for a label, highest priority first). */
export { annotationQueuePage, type QueueCursor, type QueueEntry } from "./prelabels.ts";
