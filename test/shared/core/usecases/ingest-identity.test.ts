import { afterEach, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../../../shared/adapters/demo/products.ts";
import { sharpCodec } from "../../../../shared/adapters/imaging/codec.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import { ingest, itemIdFor } from "../../../../shared/core/usecases/ingest.ts";
import { registerPending } from "../../../../shared/core/usecases/register.ts";
import { sha256Hex } from "../../../../shared/core/json.ts";
import { baseName } from "../../../../shared/core/uri.ts";
import { getItem, transitionItem, type ItemRow } from "../../../../shared/db/queries/items.ts";
import { readStatusSnapshot } from "../../../../shared/db/queries/status.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

/**
 * Item identity with the real normaliser and the folder object store: uploads that arrive together
 * and would have collided (the same TIFF name inside every product zip, names that sanitise alike,
 * the same bytes under two names) each keep their own folder, title and images.
 */
describe(`ingest identity (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function put(name: string, bytes: Uint8Array) {
    const info = await t.store.put(`gs://archive/${name}`, bytes);
    return envelope("object.finalized", { bucket: "archive", name, generation: info.generation, size: String(info.size) }, `gcs:archive/${name}#${info.generation}`);
  }

  async function items(): Promise<ItemRow[]> {
    const { rows } = await t.db.query<{ id: string }>(`SELECT id FROM items ORDER BY id`);
    return Promise.all(rows.map(async (r) => (await getItem(t.db, r.id))!));
  }

  async function png(width: number, height: number, salt: number): Promise<Buffer> {
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 13 + salt * 41) % 256);
    return sharpCodec.encodePng({ width, height, channels: 3, data });
  }

  const product = (seed: number, name = "L1B", size = 24) => makeDemoProduct({ seed, width: size, height: size - 4, name }).zip;

  it("gives concurrent uploads that would collide their own folder, title and images", async () => {
    t = await createTestDeps();
    const uploads: { name: string; bytes: Uint8Array }[] = [];
    // Every zip holds L1B/L1B.tif: the product is named after the uploaded object, not the TIFF.
    for (let i = 0; i < 7; i++) uploads.push({ name: `uploads/2024/S2A_MSIL1C_2024010${i}T1030.zip`, bytes: product(300 + i, "L1B", 20 + 2 * i) });
    const sceneNames = ["scene 1.png", "scene_1.png", "scene#1.png", "scene%201.png", "Scene 1.png", "scene-1.png", "SCENE_1.png"];
    for (const [i, name] of sceneNames.entries()) uploads.push({ name: `cams/${name}`, bytes: await png(6 + i, 5 + i, i) });

    const messages = await Promise.all(uploads.map((u) => put(u.name, u.bytes)));
    const outcomes = await Promise.all(messages.map((m) => ingest(m, t.deps)));
    expect(outcomes.map((o) => o.status)).toEqual(uploads.map(() => "done"));

    const rows = await items();
    expect(rows).toHaveLength(uploads.length);
    expect(rows.every((r) => r.state === "normalised")).toBe(true);
    const titles = rows.map((r) => r.title!.toLowerCase());
    expect(new Set(titles).size).toBe(rows.length);

    const normaliser = createNormaliser();
    const stored = new Set<string>();
    for (const [i, upload] of uploads.entries()) {
      const item = rows.find((r) => r.id === itemIdFor("archive", upload.name, messages[i]!.data.generation))!;
      expect(item.product_name).toBe(baseName(upload.name).replace(/\.[^.]+$/, ""));
      // What annotators get for this item is exactly what its own bytes normalise to.
      const expected = await normaliser.normalise(upload.bytes, baseName(upload.name), t.deps.config.normalise);
      expect({ width: item.width, height: item.height }).toEqual({ width: expected.width, height: expected.height });
      expect(Object.keys(item.assets).filter((k) => k !== "nodata").sort()).toEqual(expected.images.map((im) => im.role).sort());
      for (const image of expected.images) {
        const asset = item.assets[image.role]!;
        expect(asset.uri.startsWith(`gs://annotation/items/${item.title}/`)).toBe(true);
        const bytes = await t.store.get(asset.uri);
        expect(sha256Hex(bytes)).toBe(sha256Hex(image.png));
        expect(asset.sha256).toBe(sha256Hex(image.png));
        stored.add(asset.uri);
      }
    }
    // One object per image, each under its item's own folder: nothing was written twice.
    const written = (await t.store.list("gs://annotation/items/")).map((o) => o.uri);
    expect(written.sort()).toEqual([...stored].sort());
    expect(written).toHaveLength(7 * 2 + sceneNames.length);

    // Products keep their readable names; of the names that sanitise to scene_1 (any case), one
    // title is the readable name and the others carry a piece of their own item id.
    for (const r of rows.filter((r) => r.kind === "product")) expect(r.title).toBe(r.product_name);
    const byName = (name: string) => rows.find((r) => r.source_name === `cams/${name}`)!;
    expect(byName("scene-1.png").title).toBe("scene-1");
    expect(byName("scene%201.png").title).toBe("scene_201");
    const alike = ["scene 1.png", "scene_1.png", "scene#1.png", "Scene 1.png", "SCENE_1.png"].map(byName);
    expect(alike.filter((r) => r.title!.toLowerCase() === "scene_1")).toHaveLength(1);
    for (const r of alike.filter((r) => r.title!.toLowerCase() !== "scene_1")) {
      expect(r.title).toBe(`${r.source_name.slice(5).replace(/[ #]/g, "_").replace(/\.png$/, "")}-${r.id.slice(3, 11)}`);
    }

    // Registration sends each item under its own title.
    await registerPending(null, t.deps);
    const tasks = await t.store.list("gs://annotation/tasks/");
    expect(tasks).toHaveLength(rows.length);
    const taskTitles = await Promise.all(tasks.map(async (o) => (JSON.parse((await t.store.get(o.uri)).toString("utf8")) as { title: string }).title));
    expect(taskTitles.sort()).toEqual(rows.map((r) => r.title!).sort());
  });

  it("makes one live item and one duplicate of a product uploaded under two names at once", async () => {
    t = await createTestDeps();
    const bytes = product(500);
    const messages = await Promise.all([put("a/S2B_X.zip", bytes), put("b/S2B_X copy.zip", bytes)]);
    await Promise.all(messages.map((m) => ingest(m, t.deps)));

    const rows = await items();
    const live = rows.filter((r) => r.state === "normalised");
    const copies = rows.filter((r) => r.state === "duplicate");
    expect(live).toHaveLength(1);
    expect(copies).toHaveLength(1);
    const [original, copy] = [live[0]!, copies[0]!];
    expect(copy.duplicate_of).toBe(original.id);
    expect(copy.content_sha256).toBe(original.content_sha256);
    // Nothing written for the copy: no folder, no mask, no title claimed.
    expect(copy.assets).toEqual({});
    expect(copy.title).toBeNull();
    const written = (await t.store.list("gs://annotation/")).map((o) => o.name);
    expect(written.filter((n) => n.startsWith("items/")).every((n) => n.startsWith(`items/${original.title}/`))).toBe(true);
    expect(written.filter((n) => n.startsWith("masks/"))).toEqual([`masks/nodata/${original.id}.png`]);
    expect(t.publisher.ofType("item.normalised").map((m) => m.data)).toEqual([{ itemId: original.id }]);
    expect(t.publisher.ofType("item.duplicate").map((m) => m.data)).toEqual([{ itemId: copy.id, duplicateOf: original.id }]);
    expect(t.notifier.sent.map((n) => n.title)).toEqual([`Duplicate upload: ${copy.source_name}`]);

    await registerPending(null, t.deps);
    expect(await t.store.list("gs://annotation/tasks/")).toHaveLength(1);
    const snapshot = await readStatusSnapshot(t.db);
    expect(snapshot.itemsByState.duplicate).toBe(1);
    expect(snapshot.duplicates).toEqual([expect.objectContaining({ id: copy.id, duplicateOf: original.id, originalTitle: original.title, sourceName: copy.source_name })]);
  });

  it("keeps both uploads live with DEDUPLICATE_CONTENT=false", async () => {
    t = await createTestDeps({ env: { DEDUPLICATE_CONTENT: "false" } });
    const bytes = product(501);
    const messages = await Promise.all([put("a/S2B_Y.zip", bytes), put("b/S2B_Y.zip", bytes)]);
    await Promise.all(messages.map((m) => ingest(m, t.deps)));
    const rows = await items();
    expect(rows.map((r) => r.state)).toEqual(["normalised", "normalised"]);
    expect(new Set(rows.map((r) => r.title)).size).toBe(2);
    expect(rows.every((r) => r.duplicate_of === null)).toBe(true);
  });

  it("releases the content when its item fails, so the same bytes can become live again", async () => {
    t = await createTestDeps();
    const bytes = product(502);
    const first = await put("S2C_Z.zip", bytes);
    await ingest(first, t.deps);
    const original = itemIdFor("archive", "S2C_Z.zip", first.data.generation);
    const copy = await put("S2C_Z_again.zip", bytes);
    await ingest(copy, t.deps);
    expect((await getItem(t.db, itemIdFor("archive", "S2C_Z_again.zip", copy.data.generation)))?.state).toBe("duplicate");

    await transitionItem(t.db, original, ["normalised"], "failed", { error: "registration refused", error_stage: "register" }, "refused");
    const third = await put("S2C_Z_third.zip", bytes);
    await ingest(third, t.deps);
    expect(await getItem(t.db, itemIdFor("archive", "S2C_Z_third.zip", third.data.generation))).toMatchObject({ state: "normalised", duplicate_of: null });
  });

  it("puts a new generation of the same object with new bytes in a new item with the old split key", async () => {
    t = await createTestDeps();
    const first = await put("uploads/S2D_W.zip", product(503));
    await ingest(first, t.deps);
    const second = await put("uploads/S2D_W.zip", product(504));
    expect(second.data.generation).not.toBe(first.data.generation);
    await ingest(second, t.deps);
    const a = await getItem(t.db, itemIdFor("archive", "uploads/S2D_W.zip", first.data.generation));
    const b = await getItem(t.db, itemIdFor("archive", "uploads/S2D_W.zip", second.data.generation));
    expect(a?.id).not.toBe(b?.id);
    expect([a?.state, b?.state]).toEqual(["normalised", "normalised"]);
    expect(b?.split_key).toBe(a?.split_key);
    expect(a?.split_key).toBe("S2D_W");
    expect(b?.title).not.toBe(a?.title);
  });

  it("treats a redelivered storage event as a no-op, sequentially and concurrently", async () => {
    t = await createTestDeps();
    const msg = await put("S2E_V.zip", product(505));
    const outcomes = await Promise.all([ingest(msg, t.deps), ingest(msg, t.deps)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["done", "duplicate"]);
    expect((await ingest(msg, t.deps)).status).toBe("duplicate");
    const rows = await items();
    expect(rows.map((r) => [r.state, r.title])).toEqual([["normalised", "S2E_V"]]);
    expect(t.publisher.ofType("item.normalised")).toHaveLength(1);
    expect(t.publisher.ofType("item.duplicate")).toHaveLength(0);
    const claims = await t.db.query<{ item_id: string }>(`SELECT item_id FROM content_claims`);
    expect(claims.rows).toEqual([{ item_id: rows[0]!.id }]);
  });
});
