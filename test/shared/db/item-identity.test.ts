import { afterEach, describe, expect, it } from "vitest";
import { splitOf } from "../../../shared/core/datasets/split.ts";
import { migrate } from "../../../shared/db/migrate.ts";
import { loadMigrations } from "../../../shared/db/migrations.ts";
import { claimContent, claimTitle, findItemForLabel, insertItemIfAbsent } from "../../../shared/db/queries/items.ts";
import type { Db } from "../../../shared/ports.ts";
import { createTestDb, testDbKind } from "../../helpers/db.ts";

const BEFORE_IDENTITY = loadMigrations().filter((m) => m.id < "0004");

async function legacyItem(db: Db, row: { id: string; name: string; productName: string | null; state: string; sha?: string; createdAt: string }) {
  await db.query(
    `INSERT INTO items (id, source_bucket, source_name, source_generation, product_name, state, content_sha256, created_at)
     VALUES ($1, 'archive', $2, '1', $3, $4, $5, $6)`,
    [row.id, row.name, row.productName, row.state, row.sha ?? null, row.createdAt],
  );
}

describe(`migration 0004: item identity (${testDbKind})`, () => {
  let db: Db;
  afterEach(async () => db?.close());

  it("backfills split keys with the value splits used before, titles without collisions, and content claims", async () => {
    db = await createTestDb({ migrations: BEFORE_IDENTITY });
    // The collision the old code made: three products named after their TIFF, L1B.
    await legacyItem(db, { id: "it_a", name: "up/S2A_1.zip", productName: "L1B", state: "in_dataset", sha: "s1", createdAt: "2026-01-01T00:00:00Z" });
    await legacyItem(db, { id: "it_b", name: "up/S2A_2.zip", productName: "L1B", state: "registered", sha: "s2", createdAt: "2026-01-02T00:00:00Z" });
    await legacyItem(db, { id: "it_c", name: "up/S2A_3.zip", productName: "L1B", state: "failed", sha: "s3", createdAt: "2026-01-03T00:00:00Z" });
    await legacyItem(db, { id: "it_d", name: "up/scene.png", productName: "scene", state: "accepted", sha: "s1", createdAt: "2026-01-04T00:00:00Z" });
    await legacyItem(db, { id: "it_e", name: "up/pending.zip", productName: null, state: "seen", createdAt: "2026-01-05T00:00:00Z" });
    const splitsBefore = new Map<string, string>();
    const before = await db.query<{ id: string; product_name: string | null }>(`SELECT id, product_name FROM items`);
    for (const r of before.rows) splitsBefore.set(r.id, splitOf(r.product_name ?? r.id, 20));

    expect(await migrate(db, loadMigrations())).toContain("0004_item_identity");

    const after = await db.query<{ id: string; split_key: string; title: string | null }>(`SELECT id, split_key, title FROM items ORDER BY id`);
    for (const r of after.rows) expect(splitOf(r.split_key, 20), r.id).toBe(splitsBefore.get(r.id));
    expect(after.rows.map((r) => [r.id, r.split_key])).toEqual([["it_a", "L1B"], ["it_b", "L1B"], ["it_c", "L1B"], ["it_d", "scene"], ["it_e", "it_e"]]);
    // Labels titled L1B keep going to the item they went to before (the newest live one).
    expect(Object.fromEntries(after.rows.map((r) => [r.id, r.title]))).toEqual({ it_a: "L1B-a", it_b: "L1B", it_c: "L1B-c", it_d: "scene", it_e: null });
    expect((await findItemForLabel(db, { backendRef: null, title: "L1B" }))?.id).toBe("it_b");
    // One claim per live content; the failed item's content is free; the oldest holder of s1 keeps it.
    const claims = await db.query<{ sha256: string; item_id: string }>(`SELECT sha256, item_id FROM content_claims ORDER BY sha256`);
    expect(claims.rows).toEqual([{ sha256: "s1", item_id: "it_a" }, { sha256: "s2", item_id: "it_b" }]);

    // A new generation of a legacy object inherits its key, so it stays in the same split.
    const { row } = await insertItemIfAbsent(db, { id: "it_a2", bucket: "archive", name: "up/S2A_1.zip", generation: "2", size: 1, productName: "S2A_1" });
    expect(row.split_key).toBe("L1B");
    // A first upload is split by its product name.
    const { row: fresh } = await insertItemIfAbsent(db, { id: "it_f", bucket: "archive", name: "up/S2A_9.zip", generation: "1", size: 1, productName: "S2A_9" });
    expect(fresh.split_key).toBe("S2A_9");
  });

  it("knows the duplicate state and requires its original", async () => {
    db = await createTestDb();
    await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state) VALUES ('it_o', 'b', 'o', '1', 'normalised')`);
    await expect(db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state) VALUES ('it_x', 'b', 'x', '1', 'duplicate')`)).rejects.toThrow(/duplicate_of_check/);
    await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, duplicate_of) VALUES ('it_d', 'b', 'd', '1', 'duplicate', 'it_o')`);
    await expect(db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state) VALUES ('it_y', 'b', 'y', '1', 'lost')`)).rejects.toThrow(/state_check/);
    // A row written without a split key gets the legacy rule.
    const { rows } = await db.query<{ split_key: string }>(`SELECT split_key FROM items WHERE id = 'it_o'`);
    expect(rows[0]?.split_key).toBe("it_o");
  });
});

describe(`identity claims (${testDbKind})`, () => {
  let db: Db;
  afterEach(async () => db?.close());

  async function items(n: number, prefix: string): Promise<string[]> {
    const ids = Array.from({ length: n }, (_, i) => `it_${prefix}${i}`);
    for (const id of ids) await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation) VALUES ($1, 'archive', $1, '1')`, [id]);
    return ids;
  }

  it("gives a title to one item only, case-insensitively, and the next candidate to the others, however they interleave", async () => {
    db = await createTestDb();
    const ids = await items(8, "t");
    const titles = await Promise.all(ids.map((id) => db.transaction((tx) => claimTitle(tx, id, [id.endsWith("0") ? "Scene_1" : "scene_1", `scene_1-${id}`]))));
    expect(titles.filter((t) => t?.toLowerCase() === "scene_1")).toHaveLength(1);
    for (const [i, title] of titles.entries()) if (title?.toLowerCase() !== "scene_1") expect(title).toBe(`scene_1-${ids[i]}`);
    // Claiming again returns the title already held, whatever the candidates.
    expect(await db.transaction((tx) => claimTitle(tx, ids[3]!, ["other"]))).toBe(titles[3]);
    // Every candidate taken: no title, and nothing changed.
    const [late] = await items(1, "late");
    expect(await db.transaction((tx) => claimTitle(tx, late!, ["SCENE_1", `Scene_1-${ids[1]}`]))).toBeNull();
    expect((await db.query<{ title: string | null }>(`SELECT title FROM items WHERE id = $1`, [late])).rows[0]?.title).toBeNull();
  });

  it("lets one item hold a content hash while concurrent claimants learn who holds it", async () => {
    db = await createTestDb();
    const ids = await items(8, "c");
    const holders = await Promise.all(ids.map((id) => db.transaction((tx) => claimContent(tx, "f".repeat(64), id))));
    expect(new Set(holders).size).toBe(1);
    expect(ids).toContain(holders[0]);
  });
});
