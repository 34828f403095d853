import type { Queryable } from "../../ports.ts";

/**
 * Items stuck in a state: reconcile retries them with a doubling back-off and fails them after a
 * number of attempts (`items.attempts`, which ingest also counts transient failures in).
 */
export interface StuckItemRow {
  id: string;
  source_bucket: string;
  source_name: string;
  source_generation: string;
  attempts: number;
  error: string | null;
}

/**
 * Items in `state` whose next retry is due: `retry_at` passed, or, before the first retry,
 * `firstDelaySeconds` since they entered the state. Oldest first.
 */
export async function dueStuckItems(db: Queryable, state: string, firstDelaySeconds: number, limit: number): Promise<StuckItemRow[]> {
  const { rows } = await db.query<StuckItemRow>(
    `SELECT id, source_bucket, source_name, source_generation, attempts, error FROM items
     WHERE state = $1 AND coalesce(retry_at, state_changed_at + make_interval(secs => $2)) <= now()
       AND (register_claim_until IS NULL OR register_claim_until < now())
     ORDER BY state_changed_at LIMIT $3`,
    [state, firstDelaySeconds, limit],
  );
  return rows;
}

/**
 * Counts one more attempt for each item still in `state` and schedules the next retry after
 * `baseSeconds × 2^attempts` (capped). Returns the ids it scheduled.
 */
export async function scheduleRetries(db: Queryable, ids: readonly string[], state: string, baseSeconds: number, maxDelaySeconds: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `UPDATE items SET attempts = attempts + 1, updated_at = now(),
       retry_at = now() + make_interval(secs => least($4::float8, $3::float8 * power(2, attempts)))
     WHERE id = ANY($1::text[]) AND state = $2 RETURNING id`,
    [ids, state, baseSeconds, maxDelaySeconds],
  );
  return rows.map((r) => r.id);
}
