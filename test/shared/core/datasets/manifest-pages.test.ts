import { describe, expect, it } from "vitest";
import { loadManifest, pageBytes, pageEntryRanges, parsePage } from "../../../../shared/core/datasets/manifest-pages.ts";
import type { DatasetManifestV3, ManifestItemV2, ManifestPageRef } from "../../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../../shared/core/json.ts";

const ref = (s: string) => ({ uri: `gs://b/${s}`, sha256: sha256Hex(s) });
function entry(itemId: string): ManifestItemV2 {
  return {
    itemId, split: "train", images: { image: { ...ref(`${itemId}.png`), width: 2, height: 2 } }, nodata: null,
    label: ref(`${itemId}.json`), exports: { yolo: ref(`${itemId}.txt`) },
    provenance: { backend: "local", labelId: `l-${itemId}`, annotator: "a", editedAt: "2026-01-01T00:00:00Z" },
  };
}
function page(seq: number, ids: string[]): { ref: ManifestPageRef; bytes: Buffer } {
  const bytes = pageBytes(ids.map((id) => canonicalJson(entry(id))));
  const sha256 = sha256Hex(bytes);
  return { bytes, ref: { uri: `gs://d/l/pages/${sha256}.json`, sha256, seq, count: ids.length, first: ids[0]!, last: ids[ids.length - 1]! } };
}
function document(pages: ManifestPageRef[], itemCount: number): DatasetManifestV3 {
  return {
    schema: "dataset-manifest/v3", line: "l", seq: 2, parentId: null, task: "segmentation", classes: ["bg", "x"], evalSplitPercent: 20,
    maskIgnoreValue: 255, itemCount, pages,
  };
}

describe("dataset-manifest/v3 pages", () => {
  const p1 = page(1, ["it_a", "it_c"]);
  const p2 = page(2, ["it_b"]);
  const pages = new Map([p1, p2].map((p) => [p.ref.uri, p.bytes]));
  const reader = (store: Map<string, Buffer>) => async (r: ManifestPageRef) => {
    const bytes = store.get(r.uri);
    if (!bytes) throw new Error(`missing ${r.uri}`);
    return bytes;
  };

  it("gives the items page by page, the version id being the document's SHA-256, checked against the id its path names", async () => {
    const doc = document([p1.ref, p2.ref], 3);
    const id = sha256Hex(canonicalJson(doc));
    const loaded = await loadManifest(JSON.parse(canonicalJson(doc)), `gs://d/l/${id}/manifest.json`, reader(pages));
    expect(loaded.versionId).toBe(id);
    expect(loaded.manifest.items.map((i) => i.itemId)).toEqual(["it_a", "it_c", "it_b"]);
    await expect(loadManifest(doc, `gs://d/l/${"0".repeat(64)}/manifest.json`, reader(pages))).rejects.toMatchObject({ code: "corrupt_manifest", message: expect.stringContaining("not the version id 000000000000… it is stored as") });
  });

  it("refuses a page whose bytes, count or id range are not what the document lists, and a wrong item count", async () => {
    const tampered = new Map(pages);
    tampered.set(p2.ref.uri, Buffer.from(p2.bytes.toString().replace(`"annotator":"a"`, `"annotator":"b"`)));
    await expect(loadManifest(document([p1.ref, p2.ref], 3), "m.json", reader(tampered))).rejects.toMatchObject({ code: "corrupt_manifest", message: expect.stringContaining("has SHA-256") });
    expect(() => parsePage(p1.bytes, { ...p1.ref, count: 3 })).toThrow(/holds 2 entries, its version lists 3/);
    expect(() => parsePage(p1.bytes, { ...p1.ref, last: "it_b" })).toThrow(/does not span/);
    const notEntries = Buffer.from(`[{"itemId":"it_a"}]`);
    expect(() => parsePage(notEntries, { ...p1.ref, sha256: sha256Hex(notEntries), count: 1 })).toThrow(/is invalid/);
    await expect(loadManifest(document([p1.ref, p2.ref], 4), "m.json", reader(pages))).rejects.toThrow(/lists 4 items, its pages hold 3/);
    await expect(loadManifest({ ...document([], 0), pages: [{ uri: "x" }] }, "m.json", reader(pages))).rejects.toMatchObject({ code: "corrupt_manifest" });
  });

  it("splits a page into its entries' bytes without parsing, whatever their strings hold", () => {
    const tricky = (id: string) => ({ ...entry(id), label: ref(`${id}},{"exports":{"itemId":"evil"}]`) });
    const texts = ["it_a", "it_b\u00e9", "it_c"].map((id) => canonicalJson(tricky(id)));
    const ranges = pageEntryRanges(pageBytes(texts))!;
    expect(ranges.map((r) => r.itemId)).toEqual(["it_a", "it_b\u00e9", "it_c"]);
    expect(ranges.map((r) => Buffer.from(r.json).toString("utf8"))).toEqual(texts);
    // Dropping one and joining the rest gives the page a freeze writes from the remaining entries.
    expect(pageBytes([ranges[0]!.json, ranges[2]!.json]).equals(pageBytes([texts[0]!, texts[2]!]))).toBe(true);
    expect(pageEntryRanges(Buffer.from(`[{"itemId":"x"}]`))).toBeNull();
    expect(pageEntryRanges(Buffer.from(texts[0]!))).toBeNull();
  });
});
