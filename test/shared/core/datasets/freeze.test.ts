import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { freezeManifest, type FreezeInput, type FrozenManifest } from "../../../../shared/core/datasets/freeze.ts";
import { StoredManifestSchema, type DatasetManifestV3, type LoadedManifestV3 } from "../../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../../shared/core/json.ts";
import { checkThreshold } from "../../../../shared/core/usecases/threshold.ts";
import { applyMemberChanges, getDatasetVersion, insertDatasetVersion, latestDatasetVersion, versionMembers } from "../../../../shared/db/queries/datasets.ts";
import { transitionItem } from "../../../../shared/db/queries/items.ts";
import { acceptLabel, seedSample } from "../../../helpers/dataset-seed.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";
import { readVersionManifest, sortedIds } from "../../../helpers/manifests.ts";

describe(`incremental dataset versions (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function freeze(): Promise<string> {
    const outcome = await checkThreshold(null, t.deps, true);
    expect(outcome.status).toBe("done");
    // Let the next freeze run: the run launched by this one is done.
    await t.db.query(`UPDATE training_runs SET state = 'succeeded'`);
    return (await latestDatasetVersion(t.db, "default"))!.id;
  }

  async function manifestOf(versionId: string) {
    const v = (await getDatasetVersion(t.db, versionId))!;
    const manifest = await readVersionManifest(t.store, v.manifest_uri, versionId);
    expect(manifest.schema).toBe("dataset-manifest/v3");
    return manifest as LoadedManifestV3;
  }

  const input = async (pageEntries?: number): Promise<FreezeInput> => ({
    line: "default", parent: await latestDatasetVersion(t.db, "default"), task: "segmentation", classes: DEFAULT_ONTOLOGY, evalSplitPercent: 30,
    ...(pageEntries ? { pageEntries } : {}),
  });

  /** The database part of a freeze (what threshold does in its transaction). */
  async function commit(frozen: FrozenManifest): Promise<string> {
    const parent = await latestDatasetVersion(t.db, "default");
    await t.db.transaction(async (tx) => {
      await insertDatasetVersion(tx, {
        id: frozen.versionId, line: "default", seq: frozen.seq, parentId: parent?.id ?? null, manifestUri: frozen.manifestUri, itemCount: frozen.itemCount,
        trainCount: frozen.trainCount, evalCount: frozen.evalCount, freshCount: frozen.changes.length, classes: DEFAULT_ONTOLOGY, exports: {}, trigger: "test",
      });
      await applyMemberChanges(tx, { line: "default", seq: frozen.seq, versionId: frozen.versionId, reason: "test" }, frozen.changes);
    });
    return frozen.versionId;
  }

  async function labelHash(annotationId: string): Promise<string> {
    const { rows } = await t.db.query<{ canonical: unknown }>(`SELECT canonical FROM annotations WHERE id = $1`, [annotationId]);
    return sha256Hex(canonicalJson(rows[0]!.canonical));
  }

  /** Every version's manifest holds exactly its members, each with its member's label. */
  async function expectEveryVersionMatchesItsMembers() {
    const { rows } = await t.db.query<{ id: string }>(`SELECT id FROM dataset_versions ORDER BY seq`);
    for (const { id } of rows) {
      const manifest = await manifestOf(id);
      const members = await versionMembers(t.db, id);
      expect(sortedIds(manifest.items)).toEqual(members.map((m) => m.item_id));
      expect(new Set(manifest.items.map((i) => i.itemId)).size).toBe(manifest.items.length);
      for (const m of members) expect(manifest.items.find((i) => i.itemId === m.item_id)!.label.sha256).toBe(await labelHash(m.annotation_id));
    }
  }

  it("writes only what changed, merges the parent's entries, and pins a member's split across relabels", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    for (let i = 10; i < 30; i++) await seedSample(t.db, t.store, `it_${i}`, { nodata: i % 3 === 0 });
    const v1 = await freeze();
    const m1 = await manifestOf(v1);
    expect(sortedIds(m1.items)).toEqual(Array.from({ length: 20 }, (_, i) => `it_${i + 10}`));

    // Second version: 5 new samples interleaved by id, one relabelled member.
    for (const id of ["it_0", "it_15a", "it_25b", "it_9", "it_99"]) await seedSample(t.db, t.store, id);
    await acceptLabel(t.db, "it_12", 2);
    const labelsBefore = (await t.store.list("gs://datasets/labels/")).length;
    const v2 = await freeze();
    const m2 = await manifestOf(v2);
    expect(sortedIds(m2.items)).toEqual([...m1.items.map((i) => i.itemId), "it_0", "it_15a", "it_25b", "it_9", "it_99"].sort());
    // Unchanged members keep their entries byte for byte; the relabelled one has a new label, same split.
    for (const before of m1.items) {
      const after = m2.items.find((i) => i.itemId === before.itemId)!;
      if (before.itemId === "it_12") {
        expect(after.label.sha256).not.toBe(before.label.sha256);
        expect(after.split).toBe(before.split);
      } else expect(canonicalJson(after)).toBe(canonicalJson(before));
    }
    // Label files were written for the 6 new labels only; every entry's exports exist and match.
    expect((await t.store.list("gs://datasets/labels/")).length - labelsBefore).toBe(6);
    for (const item of m2.items) {
      for (const ref of [item.label, item.exports.yolo!, item.exports.mask!]) expect(sha256Hex(await t.store.get(ref.uri))).toBe(ref.sha256);
    }
    const members = await versionMembers(t.db, v2);
    expect(members).toHaveLength(25);
    expect(members.find((m) => m.item_id === "it_12")!.annotation_id).toBe("an_it_12_r2");
    expect((await versionMembers(t.db, v1)).find((m) => m.item_id === "it_12")!.annotation_id).toBe("an_it_12_r1");
    const counts = (await t.db.query<{ item_count: number; train_count: number; eval_count: number; fresh_count: number }>(
      `SELECT item_count, train_count, eval_count, fresh_count FROM dataset_versions WHERE id = $1`, [v2])).rows[0]!;
    expect(counts).toEqual({
      item_count: 25, fresh_count: 6,
      train_count: m2.items.filter((i) => i.split === "train").length, eval_count: m2.items.filter((i) => i.split === "eval").length,
    });
    expect((await t.db.query(`SELECT 1 FROM items WHERE state <> 'in_dataset'`)).rowCount).toBe(0);
  });

  it("builds the same manifest from the parent's pages as from the database, and rebuilds when they are not trustworthy", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    for (let i = 0; i < 12; i++) await seedSample(t.db, t.store, `it_${String(i).padStart(2, "0")}`, { nodata: i % 2 === 0 });
    await freeze();
    for (const id of ["it_005", "it_20", "it_21"]) await seedSample(t.db, t.store, id);
    await acceptLabel(t.db, "it_03", 2);

    const merged = await freezeManifest(await input(), t.deps);
    expect(merged.source).toBe("parent");
    expect(merged.changes.map((c) => [c.itemId, c.kind])).toEqual([["it_005", "insert"], ["it_03", "replace"], ["it_20", "insert"], ["it_21", "insert"]]);

    // The parent's one page (it holds it_03) altered under its hash: detected, rebuilt from the
    // database. With one parent page the rebuilt page is the same as the kept one, so is the version.
    const parent = (await latestDatasetVersion(t.db, "default"))!;
    const document = StoredManifestSchema.parse(JSON.parse((await t.store.get(parent.manifest_uri)).toString("utf8")));
    expect(document.schema === "dataset-manifest/v3" && document.pages.length).toBe(1);
    const pageUri = (document as DatasetManifestV3).pages[0]!.uri;
    const page = await t.store.get(pageUri);
    await t.store.put(pageUri, page.toString("utf8").replace(`"annotator":"tester"`, `"annotator":"someone"`));
    const rebuilt = await freezeManifest(await input(), t.deps);
    expect(rebuilt.source).toBe("database");
    expect(rebuilt.versionId).toBe(merged.versionId);
    await t.store.put(pageUri, page);

    // The document altered: its hash is not the version id.
    const original = await t.store.get(parent.manifest_uri);
    await t.store.put(parent.manifest_uri, original.toString("utf8").replace(`"evalSplitPercent":30`, `"evalSplitPercent":31`));
    expect(await freezeManifest(await input(), t.deps)).toMatchObject({ source: "database", versionId: merged.versionId });

    // A missing parent manifest likewise.
    await t.store.delete(parent.manifest_uri);
    const again = await freezeManifest(await input(), t.deps);
    expect([again.source, again.versionId]).toEqual(["database", merged.versionId]);
  });

  it("writes only the pages that change: new entries in pages of their own, a parent page rewritten only when it held a replaced entry", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    // v1: 10 items in pages of 4 → 3 pages.
    for (let i = 0; i < 10; i++) await seedSample(t.db, t.store, `it_${i}`);
    const f1 = await freezeManifest(await input(4), t.deps);
    expect([f1.source, f1.pagesWritten]).toEqual(["parent", 3]);
    const p1 = (await manifestOf(await commit(f1))).pages;
    expect(p1.map((p) => [p.seq, p.count, p.first, p.last])).toEqual([[1, 4, "it_0", "it_3"], [1, 4, "it_4", "it_7"], [1, 2, "it_8", "it_9"]]);

    // v2: three new items and a relabel of it_5 → one new page, the middle page rewritten, the others kept.
    for (const id of ["it_10", "it_11", "it_12"]) await seedSample(t.db, t.store, id);
    await acceptLabel(t.db, "it_5", 2);
    const f2 = await freezeManifest(await input(4), t.deps);
    expect([f2.source, f2.pagesWritten]).toEqual(["parent", 2]);
    const p2 = (await manifestOf(await commit(f2))).pages;
    expect(p2.map((p) => [p.seq, p.count, p.first, p.last])).toEqual([[1, 4, "it_0", "it_3"], [1, 3, "it_4", "it_7"], [1, 2, "it_8", "it_9"], [2, 4, "it_10", "it_5"]]);
    expect([p2[0]!.uri, p2[2]!.uri]).toEqual([p1[0]!.uri, p1[2]!.uri]);

    // v3: it_5 again (now in a seq-2 page) and it_0 → two pages rewritten, one new.
    await acceptLabel(t.db, "it_5", 3);
    await acceptLabel(t.db, "it_0", 2);
    const f3 = await freezeManifest(await input(4), t.deps);
    expect([f3.source, f3.pagesWritten]).toEqual(["parent", 3]);
    const m3 = await manifestOf(await commit(f3));
    expect(m3.pages.map((p) => [p.seq, p.count])).toEqual([[1, 3], [1, 3], [1, 2], [2, 3], [3, 2]]);
    expect(m3.items.find((i) => i.itemId === "it_5")!.label.sha256).toBe(await labelHash("an_it_5_r3"));
    await expectEveryVersionMatchesItsMembers();

    // A rebuild (parent page gone) lays the parent's members out in pages of the parent's seq;
    // the next freeze reuses them.
    const lost = await t.store.get(m3.pages[0]!.uri);
    await t.store.delete(m3.pages[0]!.uri);
    await acceptLabel(t.db, "it_1", 2);
    const f4 = await freezeManifest(await input(4), t.deps);
    expect(f4.source).toBe("database");
    await t.store.put(m3.pages[0]!.uri, lost); // (for the older versions' check below)
    const m4 = await manifestOf(await commit(f4));
    expect(m4.pages.map((p) => [p.seq, p.count])).toEqual([[3, 4], [3, 4], [3, 4], [4, 1]]);
    await acceptLabel(t.db, "it_9", 2);
    const f5 = await freezeManifest(await input(4), t.deps);
    expect([f5.source, f5.pagesWritten]).toEqual(["parent", 2]);
    await commit(f5);
    await expectEveryVersionMatchesItsMembers();
  });

  it("leaves an item relabelled while the version was built for the next version", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    for (const id of ["it_a", "it_b"]) await seedSample(t.db, t.store, id);
    const frozen = await freezeManifest(await input(), t.deps);
    // Meanwhile poll takes in a new label for it_b: annotated, then accepted again.
    await acceptLabel(t.db, "it_b", 2);
    await transitionItem(t.db, "it_b", ["accepted"], "annotated");
    await transitionItem(t.db, "it_b", ["annotated"], "accepted");
    const moved = await t.db.transaction((tx) => applyMemberChanges(tx, { line: "default", seq: 1, versionId: frozen.versionId, reason: "test" }, frozen.changes));
    expect(moved).toBe(1);
    const states = await t.db.query<{ id: string; state: string }>(`SELECT id, state FROM items ORDER BY id`);
    expect(states.rows).toEqual([{ id: "it_a", state: "in_dataset" }, { id: "it_b", state: "accepted" }]);
  });
});
