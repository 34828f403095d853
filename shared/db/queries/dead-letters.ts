import type { Queryable } from "../../ports.ts";

export interface DeadLetterInput {
  consumer: string;
  messageId: string | null;
  reason: string;
  payload: unknown;
}

export async function recordDeadLetter(db: Queryable, input: DeadLetterInput): Promise<void> {
  await db.query(
    `INSERT INTO dead_letters (consumer, message_id, reason, payload) VALUES ($1, $2, $3, $4)`,
    [input.consumer, input.messageId, input.reason.slice(0, 2000), JSON.stringify(input.payload ?? null)],
  );
}

export interface DeadLetterRow {
  id: string;
  consumer: string;
  message_id: string | null;
  reason: string;
  payload: unknown;
  created_at: Date;
  replayed_at: Date | null;
  replayed_by: string | null;
  replay_message_id: string | null;
}

/**
 * A dead letter by its own id (`42`) or by the id of the message it holds (the newest such row):
 * operators see message ids in `mlops status`, and row ids in the table.
 */
export async function findDeadLetter(db: Queryable, ref: string): Promise<DeadLetterRow | null> {
  const byRowId = /^\d{1,18}$/.test(ref);
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT id::text AS id, consumer, message_id, reason, payload, created_at, replayed_at, replayed_by, replay_message_id
     FROM dead_letters WHERE ${byRowId ? "id = $1::bigint" : "message_id = $1"} ORDER BY id DESC LIMIT 1`,
    [ref],
  );
  return rows[0] ?? null;
}

/** Claims the replay of a dead letter; false when it was replayed before (by this or another command). */
export async function markDeadLetterReplayed(db: Queryable, id: string, actor: string, replayMessageId: string): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE dead_letters SET replayed_at = now(), replayed_by = $2, replay_message_id = $3
     WHERE id = $1::bigint AND replayed_at IS NULL RETURNING 1 AS ok`,
    [id, actor, replayMessageId],
  );
  return rows.length > 0;
}
