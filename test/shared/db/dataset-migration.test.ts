import { readVersionManifest } from "../../helpers/manifests.ts";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_ONTOLOGY } from "../../../shared/config/schema.ts";
import { canonicalJson, sha256Hex } from "../../../shared/core/json.ts";
import { checkThreshold } from "../../../shared/core/usecases/threshold.ts";
import { versionMembers, type VersionMember } from "../../../shared/db/queries/datasets.ts";
import { migrate } from "../../../shared/db/migrate.ts";
import { loadMigrations } from "../../../shared/db/migrations.ts";
import { createTestDb, testDbKind } from "../../helpers/db.ts";
import { acceptLabel, seedSample } from "../../helpers/dataset-seed.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";
import { oldFreeze } from "../../helpers/old-freeze.ts";

/** The migrations of the layout that stored every version's members again (before 0006). */
const OLD_LAYOUT = loadMigrations().filter((m) => m.id < "0006");

describe(`dataset versions across the membership migration (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  it("keeps every version's members and manifest, and the next freeze extends the last one", async () => {
    const db = await createTestDb({ migrations: OLD_LAYOUT });
    t = await createTestDeps({ db, env: { EVAL_SPLIT_PERCENT: "40" } });
    const line = { line: "default", classes: DEFAULT_ONTOLOGY, evalSplitPercent: 40 };

    // Three versions the old way: 6 items; 3 more; one relabelled (its membership changes) and 1 more.
    for (const i of [1, 2, 3, 4, 5, 6]) await seedSample(db, t.store, `it_${i}`, { nodata: i % 2 === 0 });
    const v1 = await oldFreeze(db, t.store, line);
    for (const i of [7, 8, 9]) await seedSample(db, t.store, `it_${i}`);
    const v2 = await oldFreeze(db, t.store, line);
    await acceptLabel(db, "it_2", 2);
    await seedSample(db, t.store, "it_10", { nodata: true });
    const v3 = await oldFreeze(db, t.store, line);
    const versions = [v1, v2, v3];
    const before = new Map<string, VersionMember[]>();
    for (const v of versions) {
      const { rows } = await db.query<VersionMember>(`SELECT item_id, annotation_id, split FROM dataset_version_items WHERE version_id = $1 ORDER BY item_id`, [v.id]);
      before.set(v.id, rows);
    }
    expect(before.get(v3.id)!.find((m) => m.item_id === "it_2")?.annotation_id).toBe("an_it_2_r2");
    expect(before.get(v2.id)!.find((m) => m.item_id === "it_2")?.annotation_id).toBe("an_it_2_r1");

    expect(await migrate(db, loadMigrations())).toEqual(loadMigrations().filter((m) => m.id >= "0006").map((m) => m.id));

    const rows = await db.query<{ item_id: string; added_seq: number; removed_seq: number | null }>(
      `SELECT item_id, added_seq, removed_seq FROM dataset_members WHERE item_id IN ('it_1', 'it_2') ORDER BY item_id, added_seq`);
    // One row per item and label: it_1 since v1; it_2 with its first label for v1–v2, its second from v3.
    expect(rows.rows).toEqual([
      { item_id: "it_1", added_seq: 1, removed_seq: null },
      { item_id: "it_2", added_seq: 1, removed_seq: 3 },
      { item_id: "it_2", added_seq: 3, removed_seq: null },
    ]);
    for (const v of versions) {
      expect(await versionMembers(db, v.id)).toEqual(before.get(v.id));
      await expectManifestMatches(v.id, before.get(v.id)!);
    }

    // The next freeze: the old v1 manifest cannot be merged, so its members come from the database.
    await acceptLabel(db, "it_5", 2);
    await seedSample(db, t.store, "it_11", { nodata: true });
    const outcome = await checkThreshold(null, t.deps, true);
    expect(outcome.status).toBe("done");
    expect(t.log.entries.some((r) => r.message.includes("rebuilding its entries from the database"))).toBe(true);
    const v4 = (await db.query<{ id: string; item_count: number; train_count: number; eval_count: number }>(
      `SELECT id, item_count, train_count, eval_count FROM dataset_versions WHERE seq = 4`)).rows[0]!;
    const members4 = await versionMembers(db, v4.id);
    expect(members4.map((m) => m.item_id)).toEqual([...before.get(v3.id)!.map((m) => m.item_id), "it_11"].sort());
    expect(members4.find((m) => m.item_id === "it_5")).toMatchObject({ annotation_id: "an_it_5_r2", split: before.get(v3.id)!.find((m) => m.item_id === "it_5")!.split });
    expect(v4.item_count).toBe(members4.length);
    expect(v4.train_count + v4.eval_count).toBe(members4.length);
    await expectManifestMatches(v4.id, members4);
    // Older versions are untouched by the new one.
    for (const v of versions) expect(await versionMembers(db, v.id)).toEqual(before.get(v.id));
  });

  async function expectManifestMatches(versionId: string, members: VersionMember[]) {
    const uri = (await t.db.query<{ manifest_uri: string }>(`SELECT manifest_uri FROM dataset_versions WHERE id = $1`, [versionId])).rows[0]!.manifest_uri;
    const manifest = await readVersionManifest(t.store, uri, versionId);
    // Members come in item-id order; a v3 manifest lists its items page by page.
    const items = [...manifest.items].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    expect(items.map((i) => [i.itemId, i.split])).toEqual(members.map((m) => [m.item_id, m.split]));
    for (const [index, item] of items.entries()) {
      const { rows } = await t.db.query<{ canonical: unknown }>(`SELECT canonical FROM annotations WHERE id = $1`, [members[index]!.annotation_id]);
      expect(item.label.sha256).toBe(sha256Hex(canonicalJson(rows[0]!.canonical)));
    }
  }
});
