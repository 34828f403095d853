import { afterEach, describe, expect, it } from "vitest";
import { reconcile } from "../../../../shared/core/usecases/reconcile.ts";
import { runCommand } from "../../../../shared/core/usecases/commands.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

describe(`stuck items and backfill (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  /** Pretends the item's back-off has passed, as the clock would after waiting. */
  const makeDue = (id: string) => t.db.query(`UPDATE items SET retry_at = now() - interval '1 second' WHERE id = $1 AND retry_at IS NOT NULL`, [id]);
  const item = async (id: string) =>
    (await t.db.query<{ state: string; attempts: number; error: string | null; wait: number | null }>(
      `SELECT state, attempts, error, extract(epoch FROM retry_at - updated_at)::float8 AS wait FROM items WHERE id = $1`, [id])).rows[0]!;

  it("retries a stuck upload with a doubling back-off and fails it with its reason after the last attempt", async () => {
    t = await createTestDeps({ env: { STUCK_AFTER_SECONDS: "60", STUCK_MAX_ATTEMPTS: "3" } });
    await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, state_changed_at, error)
                      VALUES ('it_stuck', 'archive', 'a.zip', '7', 'seen', now() - interval '10 minutes', 'GCS 503'),
                             ('it_fresh', 'archive', 'b.zip', '8', 'seen', now(), NULL)`);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await reconcile(null, t.deps);
      const row = await item("it_stuck");
      expect(row).toMatchObject({ state: "seen", attempts: attempt });
      waits.push(Math.round(row.wait!));
      // Not due again before its back-off: another run sends nothing.
      const sent = t.publisher.ofType("object.finalized").length;
      await reconcile(null, t.deps);
      expect(t.publisher.ofType("object.finalized")).toHaveLength(sent);
      await makeDue("it_stuck");
    }
    expect(waits).toEqual([60, 120, 240]);
    expect(t.publisher.ofType("object.finalized").map((m) => m.data)).toEqual(
      Array(3).fill({ bucket: "archive", name: "a.zip", generation: "7", reprocess: true }));

    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("1 stuck uploads failed");
    expect(await item("it_stuck")).toMatchObject({ state: "failed", attempts: 3, error: "stuck in seen after 3 attempts: GCS 503" });
    expect(t.publisher.ofType("item.failed").map((m) => m.data)).toEqual([{ itemId: "it_stuck", stage: "ingest", reason: "stuck in seen after 3 attempts: GCS 503" }]);
    expect(t.notifier.sent.map((n) => n.title)).toEqual(["Item it_stuck failed: stuck in seen"]);
    expect(await item("it_fresh")).toMatchObject({ state: "seen", attempts: 0 });
  });

  it("nudges registration once per back-off step for items waiting in `normalised`", async () => {
    t = await createTestDeps({ env: { STUCK_AFTER_SECONDS: "900", STUCK_MAX_ATTEMPTS: "2" } });
    await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, state_changed_at)
                      VALUES ('it_a', 'archive', 'a', '1', 'normalised', now() - interval '5 minutes'),
                             ('it_b', 'archive', 'b', '1', 'normalised', now() - interval '2 minutes')`);
    await reconcile(null, t.deps);
    expect(t.publisher.ofType("item.normalised")).toHaveLength(1);
    await reconcile(null, t.deps);
    expect(t.publisher.ofType("item.normalised")).toHaveLength(1);
    await makeDue("it_a");
    await makeDue("it_b");
    await reconcile(null, t.deps);
    await makeDue("it_a");
    await makeDue("it_b");
    await reconcile(null, t.deps);
    expect((await item("it_a")).state).toBe("failed");
    expect(t.publisher.ofType("item.failed").map((m) => (m.data as { stage: string }).stage)).toEqual(["register", "register"]);
  });

  it("backfill queues only archive objects no item was made from", async () => {
    t = await createTestDeps();
    const objects = [];
    for (let i = 0; i < 5; i++) objects.push(await t.store.put(`gs://archive/2026/p${i}.zip`, `bytes ${i}`));
    for (const o of objects.slice(0, 3)) {
      await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation) VALUES ($1, 'archive', $2, $3)`, [`it_${o.name}`, o.name, o.generation]);
    }
    // A known name with another generation is a new upload.
    await t.db.query(`UPDATE items SET source_generation = '1' WHERE source_name = '2026/p2.zip'`);
    const outcome = await runCommand(envelope("command", { name: "backfill", actor: "ops", prefix: "2026/" }) as never, t.deps);
    expect(outcome.detail).toBe("3 of 5 objects queued");
    expect(t.publisher.ofType("object.finalized").map((m) => (m.data as { name: string }).name)).toEqual(["2026/p2.zip", "2026/p3.zip", "2026/p4.zip"]);
  });
});
