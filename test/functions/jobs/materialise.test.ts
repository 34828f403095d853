import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { materialiseDataset } from "../../../functions/jobs/train/materialise.ts";
import { memoryLogger } from "../../../shared/adapters/basics.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { loadConfig } from "../../../shared/config/load.ts";
import { DEFAULT_ONTOLOGY } from "../../../shared/config/schema.ts";
import { writeSampleExports } from "../../../shared/core/datasets/exports.ts";
import { DatasetManifestV2Schema, type ManifestItemV2 } from "../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../shared/core/json.ts";
import { landPolygonAnnotation } from "../seed.ts";

describe("materialising a v2 dataset version", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("fetches the train items' content-addressed exports and writes COCO and YOLO files for them only", async () => {
    dir = mkdtempSync(join(tmpdir(), "materialise-"));
    const store = new LocalObjectStore(join(dir, "buckets"));
    const config = loadConfig({ MLOPS_WORKSPACE: dir });
    const deps = { store, config, codec: async () => sharpCodec };
    const items: ManifestItemV2[] = [];
    for (const [i, split] of (["train", "eval", "train"] as const).entries()) {
      const itemId = `it_${i}`;
      const png = await sharpCodec.encodePng({ width: 4, height: 3, channels: 3, data: new Uint8Array(36).fill(i * 40) });
      const imageUri = `gs://annotation/items/${itemId}/${itemId}.png`;
      await store.put(imageUri, png);
      const annotation = landPolygonAnnotation(itemId, 4, 3) as Parameters<typeof writeSampleExports>[0];
      const exports = await writeSampleExports(annotation, null, deps);
      items.push({
        itemId, split, images: { image: { uri: imageUri, sha256: sha256Hex(png), width: 4, height: 3 } }, nodata: null,
        label: exports.label, exports: { yolo: exports.yolo, ...(exports.mask ? { mask: exports.mask } : {}) }, provenance: annotation.provenance,
      });
    }
    const manifest = DatasetManifestV2Schema.parse({
      schema: "dataset-manifest/v2", line: "default", seq: 1, parentId: null, task: "segmentation", classes: DEFAULT_ONTOLOGY,
      evalSplitPercent: 20, maskIgnoreValue: 255, items,
    });
    const text = canonicalJson(manifest);
    const uri = `gs://datasets/default/${sha256Hex(text)}/manifest.json`;
    await store.put(uri, text);

    const dataDir = join(dir, "data");
    const got = await materialiseDataset(store, uri, dataDir, memoryLogger());
    expect(got.schema).toBe("dataset-manifest/v2");
    expect(readFileSync(join(dataDir, "manifest.json"), "utf8")).toBe(text);
    for (const id of ["it_0", "it_2"]) {
      const item = items.find((i) => i.itemId === id)!;
      expect(sha256Hex(readFileSync(join(dataDir, "exports", "masks", `${id}.png`)))).toBe(item.exports.mask!.sha256);
      expect(existsSync(join(dataDir, "exports", "yolo", "labels", `${id}.txt`))).toBe(true);
    }
    // The evaluation item stays out of the trainer's reach, exports included.
    expect(existsSync(join(dataDir, "exports", "masks", "it_1.png"))).toBe(false);
    expect(existsSync(join(dataDir, "labels", "it_1.json"))).toBe(false);
    const coco = JSON.parse(readFileSync(join(dataDir, "exports", "coco.json"), "utf8")) as { images: { id: number; mlops_item_id: string }[]; annotations: { id: number; image_id: number }[] };
    expect(coco.images.map((i) => [i.id, i.mlops_item_id])).toEqual([[1, "it_0"], [2, "it_2"]]);
    expect(coco.annotations.map((a) => [a.id, a.image_id])).toEqual([[1, 1], [2, 2]]);
    expect(readFileSync(join(dataDir, "exports", "yolo", "data.yaml"), "utf8")).toContain("Cloud_Shadow");
  });
});
