import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { freezeManifest, type FreezeInput } from "../../../../shared/core/datasets/freeze.ts";
import { DatasetManifestV2Schema } from "../../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../../shared/core/json.ts";
import { checkThreshold } from "../../../../shared/core/usecases/threshold.ts";
import { applyMemberChanges, latestDatasetVersion, versionMembers } from "../../../../shared/db/queries/datasets.ts";
import { transitionItem } from "../../../../shared/db/queries/items.ts";
import { acceptLabel, seedSample } from "../../../helpers/dataset-seed.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

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
    const v = (await latestDatasetVersion(t.db, "default"))!;
    const text = (await t.store.get(v.manifest_uri)).toString("utf8");
    expect(v.id).toBe(versionId);
    expect(sha256Hex(text)).toBe(versionId);
    const manifest = DatasetManifestV2Schema.parse(JSON.parse(text));
    expect(canonicalJson(manifest)).toBe(text);
    return manifest;
  }

  const input = async (): Promise<FreezeInput> => ({
    line: "default", parent: await latestDatasetVersion(t.db, "default"), task: "segmentation", classes: DEFAULT_ONTOLOGY, evalSplitPercent: 30,
  });

  it("writes only what changed, merges the parent's entries, and pins a member's split across relabels", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    for (let i = 10; i < 30; i++) await seedSample(t.db, t.store, `it_${i}`, { nodata: i % 3 === 0 });
    const v1 = await freeze();
    const m1 = await manifestOf(v1);
    expect(m1.items.map((i) => i.itemId)).toEqual(Array.from({ length: 20 }, (_, i) => `it_${i + 10}`));

    // Second version: 5 new samples interleaved by id, one relabelled member.
    for (const id of ["it_0", "it_15a", "it_25b", "it_9", "it_99"]) await seedSample(t.db, t.store, id);
    await acceptLabel(t.db, "it_12", 2);
    const labelsBefore = (await t.store.list("gs://datasets/labels/")).length;
    const v2 = await freeze();
    const m2 = await manifestOf(v2);
    expect(m2.items.map((i) => i.itemId)).toEqual([...m1.items.map((i) => i.itemId), "it_0", "it_15a", "it_25b", "it_9", "it_99"].sort());
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

  it("builds the same manifest from the parent's file as from the database, and rebuilds when the file is not trustworthy", async () => {
    t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
    for (let i = 0; i < 12; i++) await seedSample(t.db, t.store, `it_${String(i).padStart(2, "0")}`, { nodata: i % 2 === 0 });
    await freeze();
    for (const id of ["it_005", "it_20", "it_21"]) await seedSample(t.db, t.store, id);
    await acceptLabel(t.db, "it_03", 2);

    const merged = await freezeManifest(await input(), t.deps);
    expect(merged.source).toBe("parent");
    expect(merged.changes.map((c) => [c.itemId, c.kind])).toEqual([["it_005", "insert"], ["it_03", "replace"], ["it_20", "insert"], ["it_21", "insert"]]);

    // The parent manifest altered under its id: detected by its hash, rebuilt from the database, same result.
    const parent = (await latestDatasetVersion(t.db, "default"))!;
    const original = await t.store.get(parent.manifest_uri);
    await t.store.put(parent.manifest_uri, original.toString("utf8").replace(`"annotator":"tester"`, `"annotator":"someone"`));
    const rebuilt = await freezeManifest(await input(), t.deps);
    expect(rebuilt.source).toBe("database");
    expect(rebuilt.versionId).toBe(merged.versionId);

    // A missing parent manifest likewise.
    await t.store.delete(parent.manifest_uri);
    const again = await freezeManifest(await input(), t.deps);
    expect([again.source, again.versionId]).toEqual(["database", merged.versionId]);
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
