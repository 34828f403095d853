import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { deadLetters, gcsFinalized, lastOutcome, postCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";

let t: FunctionTest;

beforeAll(async () => {
  t = await startFunction("ingest");
});
afterAll(async () => t.close());

let uploads = 0;

/** A small RGB PNG, different for every upload (same bytes would make a `duplicate`), in the archive bucket of the GCS fake. */
async function upload(name: string) {
  const salt = ++uploads;
  const data = new Uint8Array(4 * 3 * 3).map((_, i) => (i * 37 + salt) % 256);
  const png = await sharpCodec.encodePng({ width: 4, height: 3, channels: 3, data });
  const obj = t.gcs.putObject("archive", name, png, "image/png");
  return { bucket: obj.bucket, name: obj.name, generation: obj.generation, size: String(obj.data.length), contentType: "image/png", md5Hash: obj.md5Hash, crc32c: obj.crc32c };
}

async function itemBySource(name: string) {
  const { rows } = await t.db.query<{ id: string; state: string; source_generation: string; width: number; height: number; assets: Record<string, { uri: string }> }>(
    `SELECT id, state, source_generation, width, height, assets FROM items WHERE source_bucket = 'archive' AND source_name = $1`,
    [name],
  );
  return rows;
}

describe("ingest function", () => {
  it("normalises an upload announced by a GCS finalize CloudEvent (int64 fields as strings)", async () => {
    const object = await upload("cams/site-a/frame-001.png");
    const res = await postCloudEvent(t.url, gcsFinalized(object, new Date()));
    expect(res.status).toBe(204);

    const rows = await itemBySource("cams/site-a/frame-001.png");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: "normalised", source_generation: object.generation, width: 4, height: 3 });
    const image = rows[0]!.assets.image!;
    expect(image.uri).toBe("gs://annotation/items/frame-001/frame-001.png");
    expect(t.gcs.getObject("annotation", "items/frame-001/frame-001.png")?.contentType).toBe("image/png");
    expect(t.published.filter((e) => e.type === "item.normalised").map((e) => e.data)).toEqual([{ itemId: rows[0]!.id }]);
    // The envelope id is the GCS key, so a duplicate notification is recognised.
    expect(t.published.find((e) => e.type === "item.normalised")?.causationId).toBe(`gcs:archive/cams/site-a/frame-001.png#${object.generation}`);
  });

  it("treats a repeated finalize event for the same generation as a duplicate", async () => {
    const object = await upload("cams/site-a/frame-002.png");
    expect((await postCloudEvent(t.url, gcsFinalized(object, new Date(), "evt-a"))).status).toBe(204);
    const before = t.published.length;
    // GCS may notify twice with a different event id: same bucket/name#generation, same item.
    expect((await postCloudEvent(t.url, gcsFinalized(object, new Date(), "evt-b"))).status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("duplicate");
    expect(t.published.length).toBe(before);
    expect(await itemBySource("cams/site-a/frame-002.png")).toHaveLength(1);
  });

  it("also takes object.finalized envelopes pushed on the object-finalized topic (backfill)", async () => {
    const object = await upload("backfill/old-003.png");
    const envelope = buildEnvelope("object.finalized", { bucket: "archive", name: object.name, generation: object.generation }, { id: "msg_backfill_1", occurredAt: new Date() });
    const res = await postPush(t.url, "object-finalized", { messageId: "900", data: envelope, attributes: { type: "object.finalized" } });
    expect(res.status).toBe(204);
    expect((await itemBySource("backfill/old-003.png"))[0]?.state).toBe("normalised");
  });

  it("ends a copy of a live upload under another name as `duplicate`, pointing at the original", async () => {
    const object = await upload("cams/site-c/frame-010.png");
    expect((await postCloudEvent(t.url, gcsFinalized(object, new Date(), "evt-orig"))).status).toBe(204);
    const copy = t.gcs.putObject("archive", "cams/site-c/frame-010 (1).png", t.gcs.getObject("archive", object.name)!.data, "image/png");
    const res = await postCloudEvent(t.url, gcsFinalized({ bucket: "archive", name: copy.name, generation: copy.generation, size: String(copy.data.length) }, new Date(), "evt-copy"));
    expect(res.status).toBe(204);
    const [original] = await itemBySource(object.name);
    const { rows } = await t.db.query<{ id: string; state: string; duplicate_of: string; assets: object }>(
      `SELECT id, state, duplicate_of, assets FROM items WHERE source_name = $1`, [copy.name]);
    expect(rows).toEqual([{ id: expect.any(String), state: "duplicate", duplicate_of: original!.id, assets: {} }]);
    expect(t.published.filter((e) => e.type === "item.duplicate").map((e) => e.data)).toEqual([{ itemId: rows[0]!.id, duplicateOf: original!.id }]);
    expect(t.gcs.getObject("annotation", "items/frame-010_1_/frame-010_1_.png")).toBeUndefined();
  });

  it("records a corrupt upload as a failed item and acknowledges the event", async () => {
    const obj = t.gcs.putObject("archive", "broken/not-an-image.png", "this is not a png", "image/png");
    const res = await postCloudEvent(t.url, gcsFinalized({ bucket: "archive", name: obj.name, generation: obj.generation, size: String(obj.data.length) }, new Date()));
    expect(res.status).toBe(204);
    const rows = await itemBySource("broken/not-an-image.png");
    expect(rows[0]?.state).toBe("failed");
    expect(t.published.some((e) => e.type === "item.failed" && (e.data as { itemId: string }).itemId === rows[0]!.id)).toBe(true);
  });

  it("answers 500 when Cloud Storage is unavailable (503), so Eventarc retries", async () => {
    const object = await upload("cams/site-b/frame-009.png");
    t.gcs.failNext(1, 503);
    const res = await postCloudEvent(t.url, gcsFinalized(object, new Date(), "evt-503"));
    expect(res.status).toBe(500);
    // The retry succeeds once the store is back.
    expect((await postCloudEvent(t.url, gcsFinalized(object, new Date(), "evt-503"))).status).toBe(204);
    expect((await itemBySource("cams/site-b/frame-009.png"))[0]?.state).toBe("normalised");
  });

  it("acknowledges and records a finalize event whose StorageObjectData is malformed", async () => {
    const res = await postCloudEvent(t.url, { ...gcsFinalized({ bucket: "archive", name: "x", generation: "1", size: "1" }, new Date(), "evt-bad"), data: { bucket: "archive" } });
    expect(res.status).toBe(204);
    const rows = (await deadLetters(t.db)).filter((r) => r.message_id === "evt-bad");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.consumer).toBe("ingest");
  });

  sharedDeliveryCases("ingest", "object-finalized", () => t, (id, occurredAt) =>
    buildEnvelope("object.finalized", { bucket: "archive", name: `any/${id}.png`, generation: "1" }, { id, occurredAt }),
  );
});
