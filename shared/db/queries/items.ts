import { TransientError } from "../../errors.ts";
import type { Queryable } from "../../ports.ts";
import type { ItemState } from "../../core/status/snapshot.ts";

export interface AssetRef {
  uri: string;
  sha256: string;
}

export interface ItemAssets {
  rgb?: AssetRef;
  nir?: AssetRef;
  image?: AssetRef;
  nodata?: AssetRef;
}

export interface ItemRow {
  id: string;
  source_bucket: string;
  source_name: string;
  source_generation: string;
  source_size: number | null;
  content_sha256: string | null;
  kind: "product" | "image" | null;
  /** The uploaded object's name without folder and extension (`uploads/S2A_X.zip` → `S2A_X`). */
  product_name: string | null;
  /**
   * Unique (case-insensitively) name at the annotation backend, and the item's folder in the
   * annotation bucket. Null until `ingest` claims it.
   */
  title: string | null;
  /** What the train/eval split hashes; survives new generations of the same object. */
  split_key: string;
  /** For state `duplicate`: the live item holding the same bytes. */
  duplicate_of: string | null;
  /** What the normaliser accepted but flagged (e.g. `single_value: …`). */
  warnings: string[];
  state: ItemState;
  width: number | null;
  height: number | null;
  nodata_pixels: number | null;
  assets: ItemAssets;
  backend: string | null;
  backend_ref: string | null;
  register_claim_token: string | null;
  dataset_version_id: string | null;
  error: string | null;
  error_stage: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  state_changed_at: Date;
}

const COLUMNS = `id, source_bucket, source_name, source_generation, source_size, content_sha256, kind, product_name, title,
  split_key, duplicate_of, warnings, state, width, height, nodata_pixels, assets, backend, backend_ref, register_claim_token, dataset_version_id, error, error_stage,
  attempts, created_at, updated_at, state_changed_at`;

export interface NewItem {
  id: string;
  bucket: string;
  name: string;
  generation: string;
  size: number | null;
  productName: string;
}

/**
 * Inserts the item in state `seen` unless it exists; returns the row either way. Its split key is
 * the key of the earliest live generation of the same object (so a re-upload with new bytes stays
 * in the split the earlier one was in), or its product name for a first upload.
 */
export async function insertItemIfAbsent(db: Queryable, item: NewItem): Promise<{ row: ItemRow; created: boolean }> {
  // One round trip for the common case: insert the item and its first transition together.
  const inserted = await db.query<ItemRow>(
    `WITH ins AS (
       INSERT INTO items (id, source_bucket, source_name, source_generation, source_size, product_name, split_key)
       VALUES ($1, $2, $3, $4, $5, $6, coalesce(
         (SELECT split_key FROM items WHERE source_bucket = $2 AND source_name = $3 AND state NOT IN ('failed', 'duplicate')
          ORDER BY created_at, id LIMIT 1),
         $6))
       ON CONFLICT (source_bucket, source_name, source_generation) DO NOTHING
       RETURNING ${COLUMNS}),
     rec AS (INSERT INTO item_transitions (item_id, from_state, to_state, reason) SELECT id, NULL, 'seen', 'uploaded' FROM ins)
     SELECT * FROM ins`,
    [item.id, item.bucket, item.name, item.generation, item.size, item.productName],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const existing = await getItemBySource(db, item.bucket, item.name, item.generation);
  if (!existing) throw new Error(`item ${item.id} vanished after a conflicting insert`);
  return { row: existing, created: false };
}

export async function getItem(db: Queryable, id: string): Promise<ItemRow | null> {
  const { rows } = await db.query<ItemRow>(`SELECT ${COLUMNS} FROM items WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Locks the item row for the rest of the transaction and returns its state (null: no such item). */
export async function lockItemState(tx: Queryable, id: string): Promise<ItemState | null> {
  const { rows } = await tx.query<{ state: ItemState }>(`SELECT state FROM items WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0]?.state ?? null;
}

export async function getItemBySource(db: Queryable, bucket: string, name: string, generation: string): Promise<ItemRow | null> {
  const { rows } = await db.query<ItemRow>(
    `SELECT ${COLUMNS} FROM items WHERE source_bucket = $1 AND source_name = $2 AND source_generation = $3`,
    [bucket, name, generation],
  );
  return rows[0] ?? null;
}

/** Finds the item a label refers to when the backend did not carry our item id. */
export async function findItemForLabel(db: Queryable, ref: { backendRef: string | null; title: string | null }): Promise<ItemRow | null> {
  if (ref.backendRef) {
    const { rows } = await db.query<ItemRow>(`SELECT ${COLUMNS} FROM items WHERE backend_ref = $1 ORDER BY created_at DESC LIMIT 1`, [ref.backendRef]);
    if (rows[0]) return rows[0];
  }
  if (ref.title) {
    // Titles are unique without regard to case (items_title_key), so this finds at most one item.
    const { rows } = await db.query<ItemRow>(`SELECT ${COLUMNS} FROM items WHERE lower(title) = lower($1)`, [ref.title]);
    if (rows[0]) return rows[0];
  }
  return null;
}

export interface ItemPatch {
  content_sha256?: string;
  kind?: "product" | "image";
  product_name?: string;
  duplicate_of?: string | null;
  warnings?: string[];
  width?: number;
  height?: number;
  nodata_pixels?: number;
  assets?: ItemAssets;
  backend?: string;
  backend_ref?: string;
  dataset_version_id?: string | null;
  error?: string | null;
  error_stage?: string | null;
  attempts?: number;
}

/**
 * Moves an item from one of `from` to `to`, applying `patch`, and records the transition.
 * Returns null when the item was not in an allowed state: the caller lost a race or the message
 * is a duplicate, and does nothing else.
 */
export async function transitionItem(
  db: Queryable,
  itemId: string,
  from: readonly ItemState[],
  to: ItemState,
  patch: ItemPatch = {},
  reason: string | null = null,
): Promise<ItemRow | null> {
  // A new state restarts the stuck-item back-off (retry_at).
  const sets = ["state = $3", "updated_at = now()", "state_changed_at = now()", "register_claim_until = NULL", "register_claim_token = NULL", "retry_at = NULL"];
  const values: unknown[] = [itemId, from, to, reason];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    values.push(key === "assets" || key === "warnings" ? JSON.stringify(value) : value);
    sets.push(`${key} = $${values.length}`);
  }
  // A failed item gives up its content claim, so the same bytes uploaded again can become live.
  const release = to === "failed" ? `, rel AS (DELETE FROM content_claims c USING upd WHERE c.item_id = upd.id)` : "";
  // One round trip: lock and read the old state, update if allowed, and record the transition.
  // Every part of a data-modifying WITH sees the same snapshot, so `prev` is the state before.
  const { rows } = await db.query<ItemRow>(
    `WITH prev AS (SELECT state FROM items WHERE id = $1 FOR UPDATE),
          upd AS (UPDATE items SET ${sets.join(", ")} WHERE id = $1 AND state = ANY($2::text[]) RETURNING ${COLUMNS}),
          rec AS (INSERT INTO item_transitions (item_id, from_state, to_state, reason)
                  SELECT upd.id, (SELECT state FROM prev), $3, $4 FROM upd)${release}
     SELECT * FROM upd`,
    values,
  );
  return rows[0] ?? null;
}

export async function bumpAttempts(db: Queryable, itemId: string, error: string, stage: string): Promise<number> {
  const { rows } = await db.query<{ attempts: number }>(
    `UPDATE items SET attempts = attempts + 1, error = $2, error_stage = $3, updated_at = now() WHERE id = $1 RETURNING attempts`,
    [itemId, error, stage],
  );
  return rows[0]?.attempts ?? 0;
}

/** Another item (not this one) that already holds the same content and was accepted. */
export async function findAcceptedDuplicate(db: Queryable, itemId: string, contentSha256: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM items WHERE content_sha256 = $1 AND id <> $2 AND state IN ('accepted', 'in_dataset')
     ORDER BY created_at LIMIT 1`,
    [contentSha256, itemId],
  );
  return rows[0]?.id ?? null;
}

/**
 * Claims `sha256` for `itemId` unless another item holds it; returns the holder (this item when
 * the claim is, or already was, its own). Run it in the transaction that acts on the answer: a
 * concurrent claim of the same bytes waits for this one to commit and then sees its row.
 */
export async function claimContent(tx: Queryable, sha256: string, itemId: string): Promise<string> {
  // The holder may release its claim (it failed) between our conflict and our read: try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await tx.query<{ item_id: string }>(
      `INSERT INTO content_claims (sha256, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING item_id`,
      [sha256, itemId],
    );
    if (inserted.rows[0]) return itemId;
    const { rows } = await tx.query<{ item_id: string }>(`SELECT item_id FROM content_claims WHERE sha256 = $1`, [sha256]);
    if (rows[0]) return rows[0].item_id;
  }
  throw new TransientError(`the content claim on ${sha256.slice(0, 12)}… kept changing hands; retrying later`);
}

/**
 * Gives the item the first free title of `candidates` (see items_title_key) and returns it, or
 * returns the title it already holds. Must run inside a transaction: a taken title is a unique
 * violation, undone to a savepoint before the next candidate is tried.
 */
export async function claimTitle(tx: Queryable, itemId: string, candidates: readonly string[]): Promise<string | null> {
  const own = await tx.query<{ title: string | null }>(`SELECT title FROM items WHERE id = $1 FOR UPDATE`, [itemId]);
  const held = own.rows[0]?.title;
  if (held) return held;
  for (const candidate of candidates) {
    await tx.query("SAVEPOINT claim_title");
    try {
      await tx.query(`UPDATE items SET title = $2, updated_at = now() WHERE id = $1`, [itemId, candidate]);
      await tx.query("RELEASE SAVEPOINT claim_title");
      return candidate;
    } catch (err) {
      if (!isTitleTaken(err)) throw err;
      await tx.query("ROLLBACK TO SAVEPOINT claim_title");
    }
  }
  return null;
}

function isTitleTaken(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === "23505" && e.constraint === "items_title_key";
}

/**
 * Claims up to `limit` items waiting for registration, with a lease, so concurrent `register`
 * invocations split the work instead of registering the same items twice.
 */
export async function claimItemsForRegistration(db: Queryable, token: string, limit: number, leaseSeconds: number): Promise<ItemRow[]> {
  const { rows } = await db.query<ItemRow>(
    `UPDATE items SET register_claim_until = now() + make_interval(secs => $3), register_claim_token = $1, updated_at = now()
     WHERE id IN (
       SELECT id FROM items
       WHERE state = 'normalised' AND (register_claim_until IS NULL OR register_claim_until < now())
       ORDER BY created_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED)
     RETURNING ${COLUMNS}`,
    [token, limit, leaseSeconds],
  );
  return rows;
}

export async function releaseRegistrationClaim(db: Queryable, token: string, itemIds: readonly string[]): Promise<void> {
  await db.query(
    `UPDATE items SET register_claim_until = NULL, register_claim_token = NULL WHERE register_claim_token = $1 AND id = ANY($2::text[])`,
    [token, itemIds],
  );
}

/** Items accepted and not yet frozen into a dataset version (the "fresh" samples). */
export async function freshAcceptedStats(db: Queryable): Promise<{ count: number; oldest: Date | null }> {
  const { rows } = await db.query<{ count: number; oldest: Date | null }>(
    `SELECT count(*)::int AS count, min(state_changed_at) AS oldest FROM items WHERE state = 'accepted'`,
  );
  return rows[0] ?? { count: 0, oldest: null };
}
