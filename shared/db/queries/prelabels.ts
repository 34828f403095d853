import type { Queryable } from "../../ports.ts";

/**
 * Pre-label rows (migration 0018): claimed before an item is predicted and sent to the backend,
 * finished in one statement with what was done. A claim is a lease: a process that dies holding
 * it leaves it to expire, and the next delivery or backfill takes the item over.
 */

export interface PrelabelClaimOptions {
  alias: string;
  token: string;
  leaseSeconds: number;
  /** Take over failed rows with fewer attempts than this (backfill); 0: never. */
  retryFailedBelow: number;
}

/** Claims the items that have no live claim and no pre-label yet; returns the ids claimed. */
export async function claimPrelabels(tx: Queryable, itemIds: readonly string[], o: PrelabelClaimOptions): Promise<string[]> {
  if (itemIds.length === 0) return [];
  const { rows } = await tx.query<{ item_id: string }>(
    `INSERT INTO prelabels AS p (item_id, state, alias, claim_token, claim_until, attempts)
     SELECT i.id, 'claimed', $2, $3, now() + make_interval(secs => $4), 1 FROM items i WHERE i.id = ANY($1::text[])
     ON CONFLICT (item_id) DO UPDATE SET state = 'claimed', alias = EXCLUDED.alias, claim_token = EXCLUDED.claim_token,
       claim_until = EXCLUDED.claim_until, attempts = p.attempts + 1, error = NULL, updated_at = now()
     WHERE (p.state = 'claimed' AND p.claim_until < now()) OR (p.state = 'failed' AND p.attempts < $5)
     RETURNING p.item_id`,
    [itemIds, o.alias, o.token, o.leaseSeconds, o.retryFailedBelow],
  );
  return rows.map((r) => r.item_id);
}

export interface PrelabelDone {
  modelId: string;
  maskUri: string;
  priority: number;
  components: Record<string, unknown>;
  reason: string;
}

/** Records a finished pre-label; false when the claim was lost (taken over after its lease). */
export async function finishPrelabel(tx: Queryable, itemId: string, token: string, d: PrelabelDone): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE prelabels SET state = 'done', model_id = $3, mask_uri = $4, priority = $5, components = $6, reason = $7, error = NULL,
       claim_token = NULL, claim_until = NULL, updated_at = now(),
       queued = EXISTS (SELECT 1 FROM items WHERE id = $1 AND state = 'registered')
     WHERE item_id = $1 AND claim_token = $2 AND state = 'claimed'`,
    [itemId, token, d.modelId, d.maskUri, d.priority, JSON.stringify(d.components), d.reason],
  );
  return rowCount > 0;
}

/** Records why an item got no pre-label (its registration stands; backfill retries a few times). */
export async function failPrelabel(tx: Queryable, itemId: string, token: string, error: string, modelId: string | null): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE prelabels SET state = 'failed', error = $3, model_id = coalesce($4, model_id), claim_token = NULL, claim_until = NULL, updated_at = now()
     WHERE item_id = $1 AND claim_token = $2 AND state = 'claimed'`,
    [itemId, token, error.slice(0, 2000), modelId],
  );
  return rowCount > 0;
}

/** Gives a claim back at once (a transient failure): the redelivery takes the item again. */
export async function releasePrelabel(db: Queryable, itemId: string, token: string): Promise<void> {
  await db.query(`UPDATE prelabels SET claim_until = now() - interval '1 second', attempts = greatest(attempts - 1, 0) WHERE item_id = $1 AND claim_token = $2 AND state = 'claimed'`, [itemId, token]);
}

/**
 * Registered items that still need a pre-label (none yet, a stale claim, or a failure with attempts
 * left), oldest registration first, at most `limit`: the backfill's batch.
 */
export async function itemsWithoutPrelabel(db: Queryable, limit: number, maxAttempts: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT i.id FROM items i
     WHERE i.state = 'registered' AND NOT EXISTS (
       SELECT 1 FROM prelabels p WHERE p.item_id = i.id
         AND (p.state = 'done' OR (p.state = 'claimed' AND p.claim_until >= now()) OR (p.state = 'failed' AND p.attempts >= $2)))
     ORDER BY i.state_changed_at, i.id LIMIT $1`,
    [limit, maxAttempts],
  );
  return rows.map((r) => r.id);
}

export interface PrelabelRow {
  item_id: string;
  state: "claimed" | "done" | "failed";
  alias: string;
  model_id: string | null;
  mask_uri: string | null;
  priority: number | null;
  components: Record<string, unknown> | null;
  reason: string | null;
  error: string | null;
  attempts: number;
  queued: boolean;
}

export async function getPrelabel(db: Queryable, itemId: string): Promise<PrelabelRow | null> {
  const { rows } = await db.query<PrelabelRow>(
    `SELECT item_id, state, alias, model_id, mask_uri, priority, components, reason, error, attempts, queued FROM prelabels WHERE item_id = $1`, [itemId]);
  return rows[0] ?? null;
}

/** The item's drift features as ingest recorded them (null when none). */
export async function itemFeatures(db: Queryable, itemId: string): Promise<Record<string, number> | null> {
  const { rows } = await db.query<{ features: Record<string, number> }>(
    `SELECT features FROM image_stats WHERE source = 'ingest' AND item_id = $1`, [itemId]);
  return rows[0]?.features ?? null;
}

export interface QueueEntry {
  itemId: string;
  title: string | null;
  priority: number;
  components: Record<string, unknown>;
  reason: string;
  modelId: string | null;
  maskUri: string | null;
  rgbUri: string | null;
}

export interface QueueCursor {
  priority: number;
  itemId: string;
}

/**
 * A page of the annotation queue, highest priority first (ties by item id, descending), after
 * `after` when given: a keyset page through prelabels_queue_idx, however long the queue.
 */
export async function annotationQueuePage(db: Queryable, options: { limit: number; after?: QueueCursor | null }): Promise<{ entries: QueueEntry[]; next: QueueCursor | null; total: number; acceptance: PrelabelAcceptanceRow[] }> {
  const after = options.after ?? null;
  const { rows } = await db.query<{ item_id: string; title: string | null; priority: number; components: Record<string, unknown>; reason: string; model_id: string | null; mask_uri: string | null; assets: Record<string, { uri?: string }> | null }>(
    `SELECT p.item_id, i.title, p.priority, p.components, p.reason, p.model_id, p.mask_uri, i.assets
     FROM prelabels p JOIN items i ON i.id = p.item_id
     WHERE p.queued AND ($2::double precision IS NULL OR (p.priority, p.item_id) < ($2::double precision, $3::text))
     ORDER BY p.priority DESC, p.item_id DESC LIMIT $1`,
    [options.limit + 1, after?.priority ?? null, after?.itemId ?? null],
  );
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  const { rows: count } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM prelabels WHERE queued`);
  return {
    entries: page.map((r) => ({
      itemId: r.item_id, title: r.title, priority: Number(r.priority), components: r.components ?? {}, reason: r.reason ?? "",
      modelId: r.model_id, maskUri: r.mask_uri, rgbUri: r.assets?.rgb?.uri ?? r.assets?.image?.uri ?? null,
    })),
    next: rows.length > options.limit && last ? { priority: Number(last.priority), itemId: last.item_id } : null,
    total: count[0]?.n ?? 0,
    acceptance: await prelabelAcceptanceByModel(db),
  };
}

/** A done pre-label not yet compared with a label: what poll compares an accepted label with. */
export async function prelabelToCompare(db: Queryable, itemId: string): Promise<{ modelId: string; maskUri: string } | null> {
  const { rows } = await db.query<{ model_id: string; mask_uri: string }>(
    `SELECT model_id, mask_uri FROM prelabels WHERE item_id = $1 AND state = 'done' AND compared_annotation_id IS NULL AND mask_uri IS NOT NULL AND model_id IS NOT NULL`,
    [itemId]);
  return rows[0] ? { modelId: rows[0].model_id, maskUri: rows[0].mask_uri } : null;
}

/**
 * Records how much of the item's pre-label its first accepted label kept and adds it to the
 * model's totals, once per item (a redelivered or later label changes nothing). False when the
 * pre-label was compared already or is not the model's any more.
 */
export async function recordPrelabelAcceptance(
  tx: Queryable,
  a: { itemId: string; annotationId: string; modelId: string; keptPixels: number; comparedPixels: number },
): Promise<boolean> {
  const { rows } = await tx.query(
    `WITH compared AS (
       UPDATE prelabels SET kept_pixels = $4, compared_pixels = $5, compared_annotation_id = $2, updated_at = now()
       WHERE item_id = $1 AND model_id = $3 AND state = 'done' AND compared_annotation_id IS NULL
       RETURNING model_id)
     INSERT INTO prelabel_acceptance AS t (model_id, labels, kept_pixels, compared_pixels)
     SELECT model_id, 1, $4, $5 FROM compared
     ON CONFLICT (model_id) DO UPDATE SET labels = t.labels + 1, kept_pixels = t.kept_pixels + EXCLUDED.kept_pixels,
       compared_pixels = t.compared_pixels + EXCLUDED.compared_pixels, updated_at = now()
     RETURNING 1`,
    [a.itemId, a.annotationId, a.modelId, a.keptPixels, a.comparedPixels],
  );
  return rows.length > 0;
}

export interface PrelabelAcceptanceRow {
  modelId: string;
  labels: number;
  keptPixels: number;
  comparedPixels: number;
}

/** Pre-label acceptance per model, the most recently updated first (one row per model). */
export async function prelabelAcceptanceByModel(db: Queryable, limit = 20): Promise<PrelabelAcceptanceRow[]> {
  const { rows } = await db.query<{ model_id: string; labels: string; kept_pixels: string; compared_pixels: string }>(
    `SELECT model_id, labels, kept_pixels, compared_pixels FROM prelabel_acceptance ORDER BY updated_at DESC, model_id LIMIT $1`, [limit]);
  return rows.map((r) => ({ modelId: r.model_id, labels: Number(r.labels), keptPixels: Number(r.kept_pixels), comparedPixels: Number(r.compared_pixels) }));
}
