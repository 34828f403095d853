import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDelivery } from "../../shared/runtime/function-handler.ts";
import { LocalDeliveriesPublisher, LocalDispatcher } from "../../shared/runtime/local/deliveries.ts";
import type { ConsumerName } from "../../shared/messages/topics.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { testDbKind } from "../helpers/db.ts";

/**
 * The malformed-input corpus, messages and commands: each case is pushed to its consumer through
 * the real local dispatcher (the same retry and dead-letter rules as Pub/Sub push), after the
 * decoding every function does. Each ends as its table says, with its reason recorded, and a
 * permanent failure is attempted exactly once — no retry storm.
 */
interface DeliveryCase {
  id: string;
  category: "message" | "command";
  consumer: ConsumerName;
  delivery: unknown;
  expect: { outcome: "dead_lettered" | "failed_permanently" | "skipped"; reason: string; payloadAtMostChars?: number };
  why: string;
}

const CASES = JSON.parse(readFileSync(new URL("../fixtures/corpus/deliveries.json", import.meta.url), "utf8")) as DeliveryCase[];

/** `$NOW` and `$NOW-2d` in the fixtures become timestamps relative to the test's clock. */
function withTimes(value: unknown, now: Date): unknown {
  const text = JSON.stringify(value)
    .replaceAll('"$NOW-2d"', JSON.stringify(new Date(now.getTime() - 2 * 86_400_000).toISOString()))
    .replaceAll('"$NOW"', JSON.stringify(now.toISOString()));
  return JSON.parse(text) as unknown;
}

/** The ids a dead letter of this case may carry: its envelope id, its Pub/Sub or CloudEvent id. */
function messageIdsOf(c: DeliveryCase): string[] {
  const d = c.delivery as { id?: unknown; message?: { messageId?: unknown } } | null;
  const ids = [typeof d?.id === "string" ? d.id : null, typeof d?.message?.messageId === "string" ? `pubsub:${d.message.messageId}` : null];
  return ids.filter((x): x is string => x !== null);
}

describe(`malformed-input corpus: messages and commands (${testDbKind})`, () => {
  let t: TestDeps;
  let dispatcher: LocalDispatcher;

  beforeAll(async () => {
    t = await createTestDeps();
    const publisher = new LocalDeliveriesPublisher(t.db);
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 4, maxAttempts: 5, idleMs: 20 });
    for (const c of CASES) {
      const decoded = decodeDelivery(withTimes(c.delivery, new Date()));
      await t.db.query(`INSERT INTO local_deliveries (message_id, consumer, envelope) VALUES ($1, $2, $3)`, [c.id, c.consumer, JSON.stringify(decoded.message)]);
    }
    await dispatcher.start();
    while (!(await dispatcher.idle())) await new Promise((r) => setTimeout(r, 50));
    await dispatcher.stop();
  });

  afterAll(async () => t?.close());

  it("has a case for every kind of message problem", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.id, c] as const))("%s ends as the table says, attempted once", async (_id, c) => {
    const delivery = await t.db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM local_deliveries WHERE message_id = $1`, [c.id]);
    expect(delivery.rows[0], c.why).toEqual({ state: "done", attempts: 1 });
    const dead = await t.db.query<{ reason: string; payload: unknown }>(
      `SELECT reason, payload FROM dead_letters WHERE consumer = $1 AND (message_id IS NULL OR message_id = ANY($2::text[]))`,
      [c.consumer, messageIdsOf(c)],
    );
    const matching = dead.rows.filter((r) => r.reason.includes(c.expect.reason));
    if (c.expect.outcome === "skipped") {
      expect(matching, c.why).toEqual([]);
      return;
    }
    expect(matching.length, `${c.why}: no dead letter with "${c.expect.reason}" among ${JSON.stringify(dead.rows.map((r) => r.reason))}`).toBeGreaterThanOrEqual(1);
    if (c.expect.payloadAtMostChars) expect(JSON.stringify(matching[0]!.payload).length).toBeLessThanOrEqual(c.expect.payloadAtMostChars);
  });

  it("records one dead letter per case that is not skipped, and nothing else", async () => {
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dead_letters`);
    expect(rows[0]?.n).toBe(CASES.filter((c) => c.expect.outcome !== "skipped").length);
  });
});
