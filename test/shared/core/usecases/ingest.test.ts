import { afterEach, describe, expect, it } from "vitest";
import { ingest, itemIdFor } from "../../../../shared/core/usecases/ingest.ts";
import { TransientError } from "../../../../shared/errors.ts";
import { getItem } from "../../../../shared/db/queries/items.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope, fakeNormaliser } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

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

  it("keeps two uploads with the same product name apart", async () => {
    t = await createTestDeps({ normaliser: fakeNormaliser() });
    await ingest(await upload("a/P.zip", new Uint8Array([1])), t.deps);
    const second = await upload("b/P.zip", new Uint8Array([2]));
    await ingest(second, t.deps);
    const item = await getItem(t.db, itemIdFor("archive", "b/P.zip", second.data.generation));
    expect(item?.product_name).toMatch(/^P__[0-9a-f]{8}$/);
    expect(item?.assets.rgb?.uri).toContain(`/${item?.product_name}/`);
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
