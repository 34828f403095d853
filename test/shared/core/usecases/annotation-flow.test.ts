import { afterEach, describe, expect, it } from "vitest";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { ingest } from "../../../../shared/core/usecases/ingest.ts";
import { pollLabels } from "../../../../shared/core/usecases/poll.ts";
import { registerPending } from "../../../../shared/core/usecases/register.ts";
import { checkThreshold } from "../../../../shared/core/usecases/threshold.ts";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { readVersionManifest } from "../../../helpers/manifests.ts";
import { itemExports } from "../../../../shared/core/datasets/manifest.ts";
import { sharpCodec } from "../../../../shared/adapters/imaging/codec.ts";
import { sha256Hex } from "../../../../shared/core/json.ts";
import { simulatedLabelRow, type LabelMistake } from "../../../../shared/demo/annotators.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope, fakeNormaliser } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

const W = 8;
const H = 6;
const ontology = ontologyFromNames(DEFAULT_ONTOLOGY);

/** Ground truth for the fake 8×6 product: top 2 rows nodata (Fill, 0), then Cloud (2) left and Clear (1) right. */
function groundTruth(): Uint8Array {
  const mask = new Uint8Array(W * H);
  for (let r = 2; r < H; r++) for (let c = 0; c < W; c++) mask[r * W + c] = c < 4 ? 2 : 1;
  return mask;
}

describe(`register → poll → threshold (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function uploadAndRegister(names: string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (const name of names) {
      // Content differs per product, except `dup-*`, which repeats p1's bytes.
      const bytes = name.startsWith("dup") ? new Uint8Array([1, 1]) : new Uint8Array([names.indexOf(name) + 1, 1]);
      const info = await t.store.put(`gs://archive/${name}.zip`, bytes);
      await ingest(envelope("object.finalized", { bucket: "archive", name: `${name}.zip`, generation: info.generation }), t.deps);
    }
    const rows = await t.db.query<{ id: string; product_name: string }>(`SELECT id, product_name FROM items`);
    for (const r of rows.rows) ids.set(r.product_name, r.id);
    return ids;
  }

  async function dropLabel(itemId: string, title: string, mistake: LabelMistake | null, revision = 1) {
    const row = simulatedLabelRow({ itemId, title, groundTruth: { width: W, height: H, mask: groundTruth() }, ontology, revision, annotator: "ann@x", editedAt: new Date(Date.now() + revision * 1000), mistake });
    await t.store.put(`gs://annotation/inbox/${title}-r${revision}.json`, JSON.stringify(row));
  }

  it("registers every waiting item in one backend call and pulls labels through the quality checks", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser({ nodataRows: 2 }), env: { THRESHOLD_N: "2", THRESHOLD_M: "1", EVAL_SPLIT_PERCENT: "50" } });
    const ids = await uploadAndRegister(["p1", "p2", "p3"]);

    const reg = await registerPending(envelope("item.normalised", { itemId: ids.get("p1")! }), t.deps);
    expect(reg.status).toBe("done");
    expect((await t.db.query(`SELECT count(*)::int AS n FROM items WHERE state = 'registered'`)).rows[0]).toEqual({ n: 3 });
    expect(t.publisher.ofType("items.registered")).toHaveLength(1);
    expect((t.publisher.ofType("items.registered")[0]!.data as { itemIds: string[] }).itemIds.sort()).toEqual([...ids.values()].sort());
    // The next delivery finds nothing waiting: no second backend call.
    expect((await registerPending(envelope("item.normalised", { itemId: ids.get("p2")! }), t.deps)).status).toBe("skipped");
    expect(await t.store.list("gs://annotation/tasks/")).toHaveLength(3);

    await dropLabel(ids.get("p1")!, "p1", null);
    await dropLabel(ids.get("p2")!, "p2", "cloud_on_nodata");
    await dropLabel(ids.get("p3")!, "p3", "unknown_class");
    const poll = await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps);
    expect(poll.detail).toBe("1 accepted, 2 rejected, 0 unmatched");
    expect(t.publisher.ofType("annotations.accepted").map((m) => m.data)).toEqual([
      { accepted: 1, rejected: 2, itemIds: expect.arrayContaining([ids.get("p1"), ids.get("p2"), ids.get("p3")]) },
    ]);

    const states = await t.db.query<{ product_name: string; state: string; error: string | null }>(`SELECT product_name, state, error FROM items ORDER BY product_name`);
    expect(states.rows.map((r) => [r.product_name, r.state])).toEqual([["p1", "accepted"], ["p2", "rejected"], ["p3", "rejected"]]);
    expect(states.rows[1]!.error).toMatch(/nodata/i);
    expect(states.rows[2]!.error).toMatch(/snow/);
    // Every item passed through "annotated" on its way.
    const annotated = await t.db.query(`SELECT DISTINCT item_id FROM item_transitions WHERE to_state = 'annotated'`);
    expect(annotated.rowCount).toBe(3);

    // Polling again reads nothing new; the cursor moved past the batch.
    expect((await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps)).status).toBe("skipped");
    expect((await t.db.query(`SELECT count(*)::int AS n FROM annotations`)).rows[0]).toEqual({ n: 3 });

    // A corrected revision of the rejected label is accepted.
    await dropLabel(ids.get("p2")!, "p2", null, 2);
    await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps);
    expect((await t.db.query<{ state: string }>(`SELECT state FROM items WHERE product_name = 'p2'`)).rows[0]?.state).toBe("accepted");

    // Two accepted, N=2: a version is frozen and training launched.
    const outcome = await checkThreshold(envelope("annotations.accepted", { accepted: 1, rejected: 0, itemIds: [] }), t.deps);
    expect(outcome.status).toBe("done");
    const version = (await t.db.query<{ id: string; manifest_uri: string; item_count: number; seq: number }>(`SELECT * FROM dataset_versions`)).rows[0]!;
    expect(version).toMatchObject({ item_count: 2, seq: 1 });
    const manifest = await readVersionManifest(t.store, version.manifest_uri, version.id);
    expect(manifest.items.map((i) => i.itemId).sort()).toEqual([ids.get("p1"), ids.get("p2")].sort());
    for (const i of manifest.items) {
      expect(i.provenance).toMatchObject({ annotator: "ann@x" });
      expect(sha256Hex((await t.store.get(i.label.uri)).toString("utf8"))).toBe(i.label.sha256);
    }
    // Exports are per label and content-addressed; masks mark nodata with the value the evaluator ignores.
    expect(manifest).toMatchObject({ schema: "dataset-manifest/v3", maskIgnoreValue: 255 });
    for (const i of manifest.items) {
      const exports = itemExports(i)!;
      expect(exports.mask?.uri).toBe(`gs://datasets/exports/masks/${exports.mask?.sha256}.png`);
      const png = await t.store.get(exports.mask!.uri);
      expect(sha256Hex(png)).toBe(exports.mask!.sha256);
      const mask = await sharpCodec.decodePng(png);
      expect([mask.width, mask.height, mask.channels]).toEqual([W, H, 1]);
      expect([...mask.data.subarray(0, 2 * W)].every((v) => v === 255)).toBe(true);
      expect([...mask.data.subarray(2 * W)]).toEqual([...groundTruth().subarray(2 * W)]);
      expect((await t.store.get(exports.yolo!.uri)).toString("utf8")).toBe("");
    }
    expect(t.jobs.launches).toHaveLength(1);
    expect(t.jobs.launches[0]).toMatchObject({ job: "train", env: { DATASET_URI: version.manifest_uri } });
    expect((await t.db.query(`SELECT state FROM items WHERE state = 'in_dataset'`)).rowCount).toBe(2);

    // Forcing a retrain while that run is in flight: single flight holds, nothing is frozen.
    await dropLabel(ids.get("p3")!, "p3", null, 2);
    await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps);
    const again = await checkThreshold(envelope("threshold.tick", { reason: "command", force: true }), t.deps, true);
    expect(again).toMatchObject({ status: "skipped" });
    expect(again.detail).toMatch(/in flight/);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM dataset_versions`)).rows[0]).toEqual({ n: 1 });
  });

  it("rejects a sample whose content duplicates an accepted one (with DEDUPLICATE_CONTENT=false)", async () => {
    // With deduplication on (the default) the copy never reaches annotators (see ingest tests);
    // with it off, the quality check still refuses to accept the same content twice.
    t = await createTestDeps({ normaliser: fakeNormaliser(), env: { DEDUPLICATE_CONTENT: "false" } });
    const ids = await uploadAndRegister(["p1", "dup-of-p1"]);
    await registerPending(null, t.deps);
    await dropLabel(ids.get("p1")!, "p1", null);
    await pollLabels(null, t.deps);
    await dropLabel(ids.get("dup-of-p1")!, "dup-of-p1", null);
    await pollLabels(null, t.deps);
    const row = (await t.db.query<{ state: string; error: string }>(`SELECT state, error FROM items WHERE product_name = 'dup-of-p1'`)).rows[0];
    expect(row?.state).toBe("rejected");
    expect(row?.error).toContain(`duplicate`);
    expect(row?.error).toContain(ids.get("p1"));
  });

  it("puts a label for an unknown item on record instead of dropping it silently", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    await dropLabel("it_nonexistent", "ghost", null);
    const outcome = await pollLabels(null, t.deps);
    expect(outcome.detail).toMatch(/1 unmatched/);
    const dead = await t.db.query<{ consumer: string; reason: string }>(`SELECT consumer, reason FROM dead_letters`);
    expect(dead.rows).toHaveLength(1);
    expect(dead.rows[0]!.reason).toMatch(/matches no item/);
  });
});
