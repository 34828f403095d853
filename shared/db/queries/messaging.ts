import type { Envelope } from "../../messages/envelope.ts";
import type { Queryable } from "../../ports.ts";

/**
 * Records that `consumer` processed `messageId`. Returns false when it already had: the caller
 * is handling a duplicate delivery and must not repeat the effect. Call it inside the effect's
 * transaction so the two commit together.
 */
export async function claimInbox(db: Queryable, consumer: string, messageId: string): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
    [consumer, messageId],
  );
  return rows.length > 0;
}

export async function enqueueOutbox(db: Queryable, envelope: Envelope, topic: string, options: { sent?: boolean } = {}): Promise<void> {
  await db.query(
    `INSERT INTO outbox (id, type, topic, envelope, sent_at, attempts) VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, CASE WHEN $5 THEN 1 ELSE 0 END)
     ON CONFLICT (id) DO NOTHING`,
    [envelope.id, envelope.type, topic, JSON.stringify(envelope), options.sent === true],
  );
}

export interface OutboxRow {
  id: string;
  type: string;
  envelope: Envelope;
  attempts: number;
}

export async function unsentOutbox(db: Queryable, options: { ids?: readonly string[]; olderThanSeconds?: number; limit: number }): Promise<OutboxRow[]> {
  if (options.ids) {
    const { rows } = await db.query<OutboxRow>(
      `SELECT id, type, envelope, attempts FROM outbox WHERE sent_at IS NULL AND id = ANY($1::text[]) ORDER BY created_at`,
      [options.ids],
    );
    return rows;
  }
  const { rows } = await db.query<OutboxRow>(
    `SELECT id, type, envelope, attempts FROM outbox
     WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => $1)
     ORDER BY created_at LIMIT $2`,
    [options.olderThanSeconds ?? 0, options.limit],
  );
  return rows;
}

export async function markOutboxSent(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::text[])`, [ids]);
}

export async function markOutboxFailed(db: Queryable, ids: readonly string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::text[])`, [ids, error.slice(0, 1000)]);
}

export async function recordNotification(
  db: Queryable,
  n: { severity: string; threadKey: string | null; title: string; text: string },
): Promise<void> {
  await db.query(`INSERT INTO notifications (severity, thread_key, title, text) VALUES ($1, $2, $3, $4)`, [
    n.severity,
    n.threadKey,
    n.title.slice(0, 300),
    n.text.slice(0, 4000),
  ]);
}

/** Whether a notification with this dedupe key was recorded in the last `windowSeconds`. */
export async function notifiedRecently(db: Queryable, key: string, windowSeconds: number): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM notifications WHERE thread_key = $1 AND created_at > now() - make_interval(secs => $2) LIMIT 1`,
    [key, windowSeconds],
  );
  return rows.length > 0;
}
