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
