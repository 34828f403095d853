import type { Queryable } from "../../ports.ts";

/**
 * Batched deletes of operational rows past their retention (see README "What is kept, and for how
 * long"). Each statement deletes at most `limit` rows, oldest first, through an index on the age
 * column, so it holds its locks briefly and never scans a whole table. Returns the rows deleted.
 */
export type RetentionTable =
  | "inbox" | "sent_outbox" | "finished_deliveries" | "dead_letters" | "notifications" | "slack_threads" | "drift_checks" | "predicted_image_stats";

const DELETES: Record<RetentionTable, string> = {
  inbox: `DELETE FROM inbox WHERE (consumer, message_id) IN (
      SELECT consumer, message_id FROM inbox WHERE processed_at < now() - make_interval(secs => $1) ORDER BY processed_at LIMIT $2)`,
  sent_outbox: `DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1) ORDER BY sent_at LIMIT $2)`,
  finished_deliveries: `DELETE FROM local_deliveries WHERE (message_id, consumer) IN (
      SELECT message_id, consumer FROM local_deliveries
      WHERE state IN ('done', 'dead') AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2)`,
  dead_letters: `DELETE FROM dead_letters WHERE id IN (
      SELECT id FROM dead_letters WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2)`,
  notifications: `DELETE FROM notifications WHERE id IN (
      SELECT id FROM notifications WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2)`,
  slack_threads: `DELETE FROM slack_threads WHERE thread_key IN (
      SELECT thread_key FROM slack_threads WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2)`,
  drift_checks: `DELETE FROM drift_checks WHERE id IN (
      SELECT id FROM drift_checks WHERE checked_at < now() - make_interval(secs => $1) ORDER BY checked_at LIMIT $2)`,
  // Ingest rows stay as long as their item: they are the reference of every dataset version.
  predicted_image_stats: `DELETE FROM image_stats WHERE id IN (
      SELECT id FROM image_stats WHERE source = 'predict' AND recorded_at < now() - make_interval(secs => $1) ORDER BY recorded_at LIMIT $2)`,
};

export async function deleteExpired(db: Queryable, table: RetentionTable, olderThanSeconds: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(DELETES[table], [olderThanSeconds, limit]);
  return rowCount;
}

/**
 * Rolls up to `limit` transitions older than the window into per-day counts and deletes them, in
 * one statement (the counts and the deletion commit together).
 */
export async function rollUpTransitions(db: Queryable, olderThanSeconds: number, limit: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM item_transitions WHERE id IN (
         SELECT id FROM item_transitions WHERE at < now() - make_interval(secs => $1) ORDER BY at LIMIT $2)
       RETURNING at, from_state, to_state),
     days AS (
       INSERT INTO item_transition_days AS d (day, from_state, to_state, n)
       SELECT (at AT TIME ZONE 'UTC')::date, coalesce(from_state, ''), to_state, count(*) FROM gone GROUP BY 1, 2, 3
       ON CONFLICT (day, from_state, to_state) DO UPDATE SET n = d.n + excluded.n)
     SELECT count(*)::int AS n FROM gone`,
    [olderThanSeconds, limit],
  );
  return rows[0]?.n ?? 0;
}
