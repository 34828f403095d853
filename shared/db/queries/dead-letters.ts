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
  id: number;
  consumer: string;
  message_id: string | null;
  reason: string;
  created_at: Date;
}

export async function listDeadLetters(db: Queryable, limit = 50): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT id, consumer, message_id, reason, created_at FROM dead_letters ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows;
}
