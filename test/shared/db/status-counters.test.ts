import { afterEach, describe, expect, it } from "vitest";
import { insertItemIfAbsent, transitionItem } from "../../../shared/db/queries/items.ts";
import { readStatusSnapshot, listFailures } from "../../../shared/db/queries/status.ts";
import { recordDeadLetter } from "../../../shared/db/queries/dead-letters.ts";
import type { Db } from "../../../shared/ports.ts";
import { createTestDb, testDbKind } from "../../helpers/db.ts";

describe(`status counters (${testDbKind})`, () => {
  let db: Db;
  afterEach(async () => db?.close());

  /** What the counters must equal: counted from the items and their whole history. */
  async function counted() {
    const current = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM items GROUP BY state`);
    const reached = await db.query<{ state: string; n: number }>(`SELECT to_state AS state, count(DISTINCT item_id)::int AS n FROM item_transitions GROUP BY to_state`);
    return { current: Object.fromEntries(current.rows.map((r) => [r.state, r.n])), reached: Object.fromEntries(reached.rows.map((r) => [r.state, r.n])) };
  }
  const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, n]) => n !== 0));

  it("keeps current and ever-reached counts per state in step with every kind of change", async () => {
    db = await createTestDb();
    for (let i = 0; i < 12; i++) await insertItemIfAbsent(db, { id: `it_${i}`, bucket: "archive", name: `f${i}`, generation: "1", size: 1, productName: `f${i}` });
    await insertItemIfAbsent(db, { id: "it_0", bucket: "archive", name: "f0", generation: "1", size: 1, productName: "f0" }); // a redelivery changes nothing
    for (let i = 0; i < 10; i++) await transitionItem(db, `it_${i}`, ["seen"], "normalised");
    await transitionItem(db, "it_10", ["seen"], "failed", { error: "corrupt" }, "corrupt");
    await transitionItem(db, "it_0", ["seen"], "failed"); // refused: not in `seen` any more
    for (let i = 0; i < 8; i++) await transitionItem(db, `it_${i}`, ["normalised"], "registered");
    // Set-based statements (the freeze moves thousands at once) and a state no code lists yet.
    await db.query(`WITH u AS (UPDATE items SET state = 'annotated' WHERE id IN ('it_0','it_1','it_2','it_3') RETURNING id, 'registered' AS f)
                    INSERT INTO item_transitions (item_id, from_state, to_state) SELECT id, f, 'annotated' FROM u`);
    await db.query(`WITH u AS (UPDATE items SET state = 'accepted' WHERE state = 'annotated' RETURNING id)
                    INSERT INTO item_transitions (item_id, from_state, to_state) SELECT id, 'annotated', 'accepted' FROM u`);
    await db.query(`ALTER TABLE items DROP CONSTRAINT items_state_check`);
    await db.query(`WITH u AS (UPDATE items SET state = 'duplicate', duplicate_of = 'it_10' WHERE id = 'it_11' RETURNING id)
                    INSERT INTO item_transitions (item_id, from_state, to_state) SELECT id, 'seen', 'duplicate' FROM u`);
    // Back to an earlier state: the funnel does not count an item twice.
    await transitionItem(db, "it_4", ["registered"], "normalised");
    await transitionItem(db, "it_4", ["normalised"], "registered");
    // Updates that do not change the state change nothing.
    await db.query(`UPDATE items SET attempts = attempts + 1`);

    const snapshot = await readStatusSnapshot(db);
    const truth = await counted();
    expect(nonZero(snapshot.itemsByState)).toEqual(truth.current);
    expect(nonZero(snapshot.funnel)).toEqual(truth.reached);
    expect(snapshot.itemsTotal).toBe(12);
    expect(truth.current).toMatchObject({ accepted: 4, registered: 4, normalised: 2, failed: 1, duplicate: 1 });
  });

  it("lists failures newest first, a page at a time", async () => {
    db = await createTestDb();
    for (let i = 0; i < 5; i++) {
      await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, error, state_changed_at)
                      VALUES ($1, 'archive', $1, '1', 'failed', 'bad', now() - make_interval(mins => $2))`, [`it_${i}`, i * 2]);
      await recordDeadLetter(db, { consumer: "ingest", messageId: `m${i}`, reason: "old", payload: null });
      await db.query(`UPDATE dead_letters SET created_at = now() - make_interval(mins => $2) WHERE message_id = $1`, [`m${i}`, i * 2 + 1]);
    }
    const first = await listFailures(db, { limit: 4 });
    expect(first.map((f) => f.id)).toEqual(["it_0", "m0", "it_1", "m1"]);
    const next = await listFailures(db, { limit: 4, before: { at: first[3]!.at, id: first[3]!.id } });
    expect(next.map((f) => f.id)).toEqual(["it_2", "m2", "it_3", "m3"]);
  });
});
