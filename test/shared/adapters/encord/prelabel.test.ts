import { afterEach, describe, expect, it } from "vitest";
import { ontologyFromEncord } from "../../../../shared/core/annotation/ontology.ts";
import { fromEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row.ts";
import { semanticMask } from "../../../../shared/core/annotation/rasterise.ts";
import type { PrelabelRequest } from "../../../../shared/ports.ts";
import { fakeEditorOntology } from "../../../fakes/encord-server.ts";
import { productRequest, startEncordHarness, type EncordHarness } from "../../../fakes/encord-harness.ts";

const CLASSES = ["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"];
const ontology = ontologyFromEncord(fakeEditorOntology(CLASSES), CLASSES);
const W = 64;
const H = 48;

let h: EncordHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Top rows nodata (255), then Cloud (2) on the left and Clear (1) on the right. */
function mask(): Uint8Array {
  const m = new Uint8Array(W * H).fill(255);
  for (let y = 4; y < H; y++) for (let x = 0; x < W; x++) m[y * W + x] = x < 20 ? 2 : 1;
  return m;
}

function request(itemId: string, modelId = "mdl_1", priority = 0.7): PrelabelRequest {
  return { itemId, mask: { width: W, height: H, data: mask() }, modelId, maskUri: `gs://annotation/prelabels/${itemId}/${modelId}.png`, priority };
}

async function registered(count: number) {
  h = await startEncordHarness({ classNames: CLASSES, env: { ONTOLOGY: JSON.stringify(CLASSES) } });
  const backend = h.backend();
  const requests = Array.from({ length: count }, (_, i) => productRequest(i));
  expect((await backend.register(requests)).every((r) => r.ok)).toBe(true);
  for (const r of requests) for (const image of r.images) h.fake.state.imageSizes.set(image.uri, { width: image.width, height: image.height });
  return { x: h, backend };
}

/** The item's label row, read from the fake's state without touching it. */
const rowOf = (x: EncordHarness, itemId: string) => {
  const item = [...x.fake.state.items.values()].find((i) => (JSON.parse(i.clientMetadata) as { itemId?: string }).itemId === itemId)!;
  const dataRow = [...x.fake.state.dataRows.values()].find((d) => d.itemUuid === item.uuid)!;
  return x.fake.state.labelRows.get(dataRow.dataHash)!;
};

describe("Encord pre-labels (label row writing, docs/encord.md §9)", () => {
  it("creates the row, saves one machine-made bitmask per class on the RGB unit, and sets the task priority", async () => {
    const { x, backend } = await registered(2);
    await backend.prelabel!(request("item_S2_00001", "mdl_1", 0.7));

    const row = rowOf(x, "item_S2_00001");
    expect(row.labelHash).toBeTruthy();
    const content = row.content as { data_units: Record<string, { data_sequence: string; labels: { objects: Record<string, unknown>[] } }>; object_answers: Record<string, unknown> };
    const units = Object.values(content.data_units).sort((a, b) => Number(a.data_sequence) - Number(b.data_sequence));
    expect(units[1]!.labels.objects).toEqual([]);
    const objects = units[0]!.labels.objects;
    expect(objects.map((o) => [o.name, o.shape, o.manualAnnotation])).toEqual([["Clear", "bitmask", false], ["Cloud", "bitmask", false]]);
    for (const o of objects) expect(content.object_answers[o.objectHash as string]).toEqual({ objectHash: o.objectHash, classifications: [] });
    // The reader gets the mask back (nodata unlabelled).
    const converted = fromEncordLabelRow(content, { itemId: "item_S2_00001", ontology });
    expect(converted.ok).toBe(true);
    const back = semanticMask(converted.ok ? converted.annotation : (undefined as never), { background: 255 });
    expect([...back]).toEqual([...mask()]);
    expect(x.fake.state.priorities.get(row.dataHash)).toBe(0.7);
    // The other item's row is untouched.
    expect(rowOf(x, "item_S2_00000").labelHash).toBeNull();
  });

  it("writes the same row again when repeated, replaces its own objects for a newer model, and never overwrites an annotator's work", async () => {
    const { x, backend } = await registered(1);
    await backend.prelabel!(request("item_S2_00000"));
    // The same objects and masks; only the edit times a save stamps may move on.
    const untimed = (value: unknown) => JSON.stringify(value, (key, v: unknown) => (/^(createdAt|lastEditedAt|created_at|last_edited_at)$/.test(key) ? undefined : v));
    const first = untimed((rowOf(x, "item_S2_00000").content as { data_units: unknown }).data_units);
    await backend.prelabel!(request("item_S2_00000"));
    expect(untimed((rowOf(x, "item_S2_00000").content as { data_units: unknown }).data_units)).toBe(first);
    expect(x.fake.state.requests.filter((r) => r.queryType === "labelrow" && r.queryMethod === "PUT")).toHaveLength(1);

    await backend.prelabel!(request("item_S2_00000", "mdl_2", 0.2));
    const content = rowOf(x, "item_S2_00000").content as { data_units: Record<string, { labels: { objects: { objectHash: string }[] } }>; object_answers: Record<string, unknown> };
    const hashes = Object.values(content.data_units).flatMap((u) => u.labels.objects.map((o) => o.objectHash));
    expect(hashes).toHaveLength(2);
    expect(Object.keys(content.object_answers).sort()).toEqual([...hashes].sort());
    expect(first).not.toContain(hashes[0]);

    // An annotator drew something: a later pre-label leaves the row alone.
    const unit = Object.values(content.data_units)[0]!;
    (unit.labels.objects as Record<string, unknown>[]).push({ objectHash: "human001", manualAnnotation: true, shape: "bitmask" });
    const before = JSON.stringify(rowOf(x, "item_S2_00000").content);
    await backend.prelabel!(request("item_S2_00000", "mdl_3"));
    expect(JSON.stringify(rowOf(x, "item_S2_00000").content)).toBe(before);
  });

  it("is refused by the fake as the SDK refuses it: a bitmask not the size of its unit", async () => {
    const { x, backend } = await registered(1);
    for (const url of x.fake.state.imageSizes.keys()) x.fake.state.imageSizes.set(url, { width: 32, height: 32 });
    await expect(backend.prelabel!(request("item_S2_00000"))).rejects.toThrow(/32×32, the pre-label 64×48/);
    await expect(backend.prelabel!({ ...request("item_unknown") })).rejects.toThrow(/no Encord label row carries item item_unknown/);
  });
});
