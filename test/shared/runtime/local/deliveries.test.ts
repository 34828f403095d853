import { afterEach, describe, expect, it } from "vitest";
import { LocalDeliveriesPublisher, LocalDispatcher } from "../../../../shared/runtime/local/deliveries.ts";
import { TransientError } from "../../../../shared/errors.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope, fakeNormaliser } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

async function until(check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`local deliveries (${testDbKind})`, () => {
  let t: TestDeps;
  let dispatcher: LocalDispatcher | null = null;
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = null;
    await t?.close();
  });

  it("fans a message out to every subscribed consumer, once per message id", async () => {
    t = await createTestDeps();
    const publisher = new LocalDeliveriesPublisher(t.db);
    const msg = envelope("poll.tick", { reason: "schedule" });
    await publisher.publish(msg);
    await publisher.publish(msg);
    const rows = await t.db.query<{ consumer: string }>(`SELECT consumer FROM local_deliveries WHERE message_id = $1`, [msg.id]);
    expect(rows.rows.map((r) => r.consumer)).toEqual(["poll"]);
    const accepted = envelope("annotations.accepted", { accepted: 1, rejected: 0, itemIds: [] });
    await publisher.publish(accepted);
    expect((await t.db.query(`SELECT consumer FROM local_deliveries WHERE message_id = $1`, [accepted.id])).rows).toEqual([{ consumer: "threshold" }]);
  });

  it("delivers, retries transient failures with backoff, and dead-letters after the last attempt", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    const publisher = new LocalDeliveriesPublisher(t.db);
    let calls = 0;
    // The normaliser fails twice (transient), then works: ingest is retried by the dispatcher.
    const real = await t.deps.normaliser();
    t.deps.normaliser = async () => ({
      normalise: async (...args) => {
        if (++calls <= 2) throw new TransientError("disk busy");
        return real.normalise(...args);
      },
    });
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 2, maxAttempts: 5, idleMs: 20 });
    await dispatcher.start();
    const info = await t.store.put("gs://archive/a.zip", new Uint8Array([5]));
    await publisher.publish(envelope("object.finalized", { bucket: "archive", name: "a.zip", generation: info.generation }));
    await until(async () => (await t.db.query(`SELECT 1 FROM items WHERE state = 'normalised'`)).rowCount === 1);
    expect(calls).toBe(3);
    expect(dispatcher.stats.retried).toBe(2);
    // Acknowledgements are written in small batches, a few milliseconds later.
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE consumer = 'ingest' AND state = 'done'`)).rowCount === 1);
    const row = (await t.db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM local_deliveries WHERE consumer = 'ingest'`)).rows[0];
    expect(row).toEqual({ state: "done", attempts: 3 });
  });

  it("dead-letters a message that keeps failing and keeps delivering the others", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    const publisher = new LocalDeliveriesPublisher(t.db);
    t.deps.store.head = async () => {
      throw new TransientError("always down");
    };
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 2, maxAttempts: 2, idleMs: 20 });
    await dispatcher.start();
    await publisher.publish(envelope("object.finalized", { bucket: "archive", name: "doomed.zip", generation: "1" }));
    await publisher.publish(envelope("reconcile.tick", { reason: "schedule" }));
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE state = 'dead'`)).rowCount === 1, 30_000);
    const dead = await t.db.query<{ consumer: string; reason: string }>(`SELECT consumer, reason FROM dead_letters`);
    expect(dead.rows).toEqual([{ consumer: "ingest", reason: expect.stringMatching(/gave up after 2 attempts: .*always down/) }]);
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE consumer = 'reconcile' AND state = 'done'`)).rowCount === 1);
  });

  it("is not idle while a retry waits out its back-off, and writes the dead letter with the dead state", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    const publisher = new LocalDeliveriesPublisher(t.db);
    t.deps.store.head = async () => {
      throw new TransientError("rate limited", { retryAfterMs: 60_000 });
    };
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 1, maxAttempts: 2, idleMs: 20 });
    await dispatcher.start();
    await publisher.publish(envelope("object.finalized", { bucket: "archive", name: "later.zip", generation: "1" }));
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE state = 'pending' AND attempts = 1`)).rowCount === 1);
    // Nothing is due for a minute, but the delivery is not finished: a caller settling on idle() waits.
    expect(await dispatcher.idle()).toBe(false);
    await t.db.query(`UPDATE local_deliveries SET next_attempt_at = now()`);
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE state = 'dead'`)).rowCount === 1);
    // The first read that sees the dead state also sees its dead letter (one transaction).
    expect((await t.db.query(`SELECT 1 FROM dead_letters WHERE consumer = 'ingest'`)).rowCount).toBe(1);
    expect(await dispatcher.idle()).toBe(true);
  });

  it("acknowledges a malformed message and records it (no retry storm)", async () => {
    t = await createTestDeps();
    const publisher = new LocalDeliveriesPublisher(t.db);
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 1, maxAttempts: 5, idleMs: 20 });
    await dispatcher.start();
    await publisher.publish({ ...envelope("poll.tick", { reason: "schedule" }), data: { reason: "not-a-reason" } });
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE state = 'done'`)).rowCount === 1);
    const row = (await t.db.query<{ attempts: number }>(`SELECT attempts FROM local_deliveries`)).rows[0];
    expect(row?.attempts).toBe(1);
    const dead = await t.db.query<{ reason: string }>(`SELECT reason FROM dead_letters`);
    expect(dead.rows[0]?.reason).toMatch(/malformed poll.tick data: reason/);
  });

  it("delivers again what a stopped process left in flight (at-least-once)", async () => {
    t = await createTestDeps();
    const publisher = new LocalDeliveriesPublisher(t.db);
    const msg = envelope("reconcile.tick", { reason: "schedule" });
    await publisher.publish(msg);
    await t.db.query(`UPDATE local_deliveries SET state = 'inflight', attempts = 1`);
    dispatcher = new LocalDispatcher(t.deps, publisher, { concurrency: 1, maxAttempts: 5, idleMs: 20 });
    await dispatcher.start();
    // One row per consumer of reconcile.tick (reconcile, prelabel), each delivered once more.
    await until(async () => (await t.db.query(`SELECT 1 FROM local_deliveries WHERE state <> 'done'`)).rowCount === 0);
    const rows = (await t.db.query<{ consumer: string; attempts: number }>(`SELECT consumer, attempts FROM local_deliveries ORDER BY consumer`)).rows;
    expect(rows.map((r) => r.consumer)).toContain("reconcile");
    expect(rows.every((r) => r.attempts === 2)).toBe(true);
  });
});
