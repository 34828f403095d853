import { afterEach, describe, expect, it } from "vitest";
import { ingest, itemIdFor } from "../../../../shared/core/usecases/ingest.ts";
import { TransientError } from "../../../../shared/errors.ts";
import { getItem } from "../../../../shared/db/queries/items.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope, fakeNormaliser } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";
import { readStatusSnapshot } from "../../../../shared/db/queries/status.ts";

describe(`ingest (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function upload(name: string, bytes: Uint8Array) {
    const info = await t.store.put(`gs://archive/${name}`, bytes);
    return envelope("object.finalized", { bucket: "archive", name, generation: info.generation, size: String(info.size) }, `gcs:archive/${name}#${info.generation}`);
  }

  it("normalises an upload into the annotation layout and announces it once", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser({ nodataRows: 2 }) });
    const msg = await upload("batch/S2_0001.zip", new Uint8Array([42, 1, 2]));
    expect(await ingest(msg, t.deps)).toEqual({ status: "done" });

    const item = await getItem(t.db, itemIdFor("archive", "batch/S2_0001.zip", msg.data.generation));
    expect(item?.state).toBe("normalised");
    expect(item?.product_name).toBe("S2_0001");
    expect(item?.title).toBe("S2_0001");
    expect(item?.split_key).toBe("S2_0001");
    expect(item?.warnings).toEqual([]);
    expect(item?.width).toBe(8);
    expect(item?.nodata_pixels).toBe(16);
    expect(item?.assets.rgb?.uri).toBe("gs://annotation/items/S2_0001/S2_0001_rgb.png");
    expect(item?.assets.nir?.uri).toBe("gs://annotation/items/S2_0001/S2_0001_nir.png");
    expect(item?.assets.nodata?.uri).toMatch(/^gs:\/\/annotation\/masks\/nodata\/it_/);
    expect(await t.store.head(item!.assets.rgb!.uri)).not.toBeNull();
    expect(t.publisher.ofType("item.normalised").map((m) => m.data)).toEqual([{ itemId: item!.id }]);
    expect(t.publisher.ofType("item.normalised")[0]?.correlationId).toBe(msg.correlationId);

    // The same storage event again: acknowledged, nothing repeated.
    expect((await ingest(msg, t.deps)).status).toBe("duplicate");
    expect(t.publisher.ofType("item.normalised")).toHaveLength(1);
  });

  it("records a corrupt upload as failed with its reason, alerts, and acknowledges", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    const msg = await upload("empty.zip", new Uint8Array());
    const outcome = await ingest(msg, t.deps);
    expect(outcome.status).toBe("done");
    expect(outcome.detail).toMatch(/empty/);
    const item = await getItem(t.db, itemIdFor("archive", "empty.zip", msg.data.generation));
    expect(item).toMatchObject({ state: "failed", error_stage: "ingest", attempts: 1 });
    expect(item?.error).toMatch(/empty_object: empty.zip is empty/);
    expect(t.publisher.ofType("item.failed").map((m) => m.data)).toEqual([{ itemId: item!.id, stage: "ingest", reason: item!.error }]);
    expect(t.notifier.sent.map((n) => n.title)).toEqual(["Upload failed: empty.zip"]);
  });

  it("keeps two uploads with the same product name apart: the second gets a title with a piece of its id", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    const first = await upload("a/P.zip", new Uint8Array([1]));
    await ingest(first, t.deps);
    const second = await upload("b/P.zip", new Uint8Array([2]));
    await ingest(second, t.deps);
    const a = await getItem(t.db, itemIdFor("archive", "a/P.zip", first.data.generation));
    const b = await getItem(t.db, itemIdFor("archive", "b/P.zip", second.data.generation));
    expect([a?.product_name, b?.product_name]).toEqual(["P", "P"]);
    expect(a?.title).toBe("P");
    expect(b?.title).toBe(`P-${b!.id.slice(3, 11)}`);
    expect(b?.assets.rgb?.uri).toBe(`gs://annotation/items/${b?.title}/${b?.title}_rgb.png`);
    expect(a?.assets.rgb?.uri).toBe("gs://annotation/items/P/P_rgb.png");
  });

  it("stores the normaliser's warnings on the item and shows them in the status snapshot", async () => {
    const base = fakeNormaliser();
    const warning = "single_value: every valid pixel of band 4 is 0";
    const normaliser = { normalise: async (...args: Parameters<typeof base.normalise>) => ({ ...(await base.normalise(...args)), warnings: [warning] }) };
    t = await createTestDeps({ normaliser });
    const msg = await upload("flat.zip", new Uint8Array([5]));
    expect(await ingest(msg, t.deps)).toEqual({ status: "done" });
    const id = itemIdFor("archive", "flat.zip", msg.data.generation);
    expect(await getItem(t.db, id)).toMatchObject({ state: "normalised", warnings: [warning] });
    const snapshot = await readStatusSnapshot(t.db);
    expect(snapshot.itemWarnings).toEqual([expect.objectContaining({ id, title: "flat", state: "normalised", warnings: [warning] })]);
  });

  it("ignores other buckets and temporary files", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    expect((await ingest(envelope("object.finalized", { bucket: "other", name: "x.zip", generation: "1" }), t.deps)).status).toBe("skipped");
    expect((await ingest(envelope("object.finalized", { bucket: "archive", name: "x.zip.part", generation: "1" }), t.deps)).status).toBe("skipped");
    expect((await ingest(envelope("object.finalized", { bucket: "archive", name: "folder/", generation: "1" }), t.deps)).status).toBe("skipped");
  });

  it("counts a transient failure and rethrows it for redelivery, then succeeds on the retry", async () => {
    const normaliser = fakeNormaliser();
    t = await createTestDeps({ normaliser });
    const msg = await upload("flaky.zip", new Uint8Array([9]));
    const realRead = t.store.readRange.bind(t.store);
    t.store.readRange = async () => {
      throw new TransientError("storage answered 503");
    };
    await expect(ingest(msg, t.deps)).rejects.toThrow(/503/);
    const id = itemIdFor("archive", "flaky.zip", msg.data.generation);
    expect(await getItem(t.db, id)).toMatchObject({ state: "seen", attempts: 1 });
    t.store.readRange = realRead;
    expect((await ingest(msg, t.deps)).status).toBe("done");
    expect((await getItem(t.db, id))?.state).toBe("normalised");
  });
});
