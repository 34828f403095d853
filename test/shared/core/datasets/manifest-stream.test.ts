import { describe, expect, it } from "vitest";
import { manifestFrame, mergeManifest, ParentUnusable, storedSegments, type ChangedEntry } from "../../../../shared/core/datasets/manifest-stream.ts";
import { DatasetManifestV2Schema, type DatasetManifestV2, type ManifestItemV2 } from "../../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../../shared/core/json.ts";

const ref = (s: string) => ({ uri: `gs://b/${s}`, sha256: sha256Hex(s) });
function entry(itemId: string, annotator = "a"): ManifestItemV2 {
  return {
    itemId, split: "train", images: { image: { ...ref(`${itemId}.png`), width: 2, height: 2 } }, nodata: null,
    // Strings holding the markers the splitter looks for, escaped as canonical JSON escapes them.
    label: ref(`${itemId}},{"exports":}],"line":"`), exports: { yolo: ref(`${itemId}.txt`) },
    provenance: { backend: "local", labelId: `l-${itemId}`, annotator, editedAt: "2026-01-01T00:00:00Z" },
  };
}
function manifest(items: ManifestItemV2[]): DatasetManifestV2 {
  return DatasetManifestV2Schema.parse({ schema: "dataset-manifest/v2", line: "l", seq: 1, parentId: null, task: "segmentation", classes: ["bg", "x"], evalSplitPercent: 20, maskIgnoreValue: 255, items });
}
async function* chunked(text: string, size: number) {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
async function* pages<T>(...p: T[][]) {
  yield* p;
}
async function collect(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString("utf8");
}

describe("streamed manifests", () => {
  const header = (m: DatasetManifestV2) => {
    const { items: _items, ...rest } = m;
    return rest;
  };

  it("merges changes into the parent to exactly the canonical JSON of the new manifest, whatever the chunk size", async () => {
    const parent = manifest(["it_b", "it_d", "it_f", "it_h", "it_j"].map((id) => entry(id)));
    const text = canonicalJson(parent);
    const changes: ChangedEntry[] = [
      { itemId: "it_a", kind: "insert", json: canonicalJson(entry("it_a")) },
      { itemId: "it_c", kind: "insert", json: canonicalJson(entry("it_c")) },
      { itemId: "it_d", kind: "replace", json: canonicalJson(entry("it_d", "b")) },
      { itemId: "it_f", kind: "same", json: null },
      { itemId: "it_j", kind: "replace", json: canonicalJson(entry("it_j", "c")) },
      { itemId: "it_z", kind: "insert", json: canonicalJson(entry("it_z")) },
    ];
    const annotators: Record<string, string> = { it_d: "b", it_j: "c" };
    const expected = manifest(["it_a", "it_b", "it_c", "it_d", "it_f", "it_h", "it_j", "it_z"].map((id) => entry(id, annotators[id] ?? "a")));
    for (const size of [1, 7, 64, 300, 1 << 20]) {
      const unchanged = await collect(mergeManifest(manifestFrame(header(parent)), storedSegments(chunked(text, size), sha256Hex(text)), pages(), { entries: 0 }));
      expect(unchanged).toBe(text);
      const stats = { entries: 0 };
      const merged = await collect(mergeManifest(manifestFrame(header(expected)), storedSegments(chunked(text, size), sha256Hex(text)),
        pages(changes.slice(0, 2), [], changes.slice(2)), stats));
      expect(merged).toBe(canonicalJson(expected));
      expect(stats.entries).toBe(5); // three inserts, two replacements
    }
  });

  it("refuses a parent that is altered, of another schema, or disagrees with the changes", async () => {
    const parent = manifest(["it_b", "it_d", "it_f"].map((id) => entry(id)));
    const parentText = canonicalJson(parent);
    const frame = manifestFrame(header(parent));
    const run = (text: string, changes: ChangedEntry[], sha = sha256Hex(text)) =>
      collect(mergeManifest(frame, storedSegments(chunked(text, 16), sha), pages(changes), { entries: 0 }));
    await expect(run(parentText, [], sha256Hex("other"))).rejects.toThrow(ParentUnusable);
    const v1 = canonicalJson({ ...parent, schema: "dataset-manifest/v1", maskIgnoreValue: undefined, items: parent.items.map((i) => ({ ...i, exports: undefined })) });
    await expect(run(v1, [])).rejects.toThrow(/not dataset-manifest\/v2/);
    await expect(run(parentText, [{ itemId: "it_d", kind: "insert", json: "{}" }])).rejects.toThrow(/in the parent manifest but not a member/);
    await expect(run(parentText, [{ itemId: "it_c", kind: "replace", json: "{}" }])).rejects.toThrow(/should be in the parent/);
    await expect(run(parentText, [{ itemId: "it_z", kind: "same", json: null }])).rejects.toThrow(/should be in the parent/);
    expect(await run(canonicalJson(manifest([])), [{ itemId: "it_a", kind: "insert", json: "{}" }])).toContain(`"items":[{}]`);
  });
});
