import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import type { DatasetManifestV1, ManifestItemV1 } from "../../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../../shared/core/json.ts";
import type { ModelCard } from "../../../shared/core/models/model-card.ts";
import type { ObjectStore } from "../../../shared/ports.ts";
import { SCENE_RED, annotation, box, raster } from "../../shared/core/evaluation/fixtures.ts";

/**
 * A dataset version in an object store, laid out as the pipeline lays it out: per item an RGB
 * and a NIR PNG, a nodata PNG and a canonical label; the manifest under
 * `gs://datasets/<line>/<sha256>/manifest.json`. Every item is the 4×2 cloud scene of
 * `fixtures.ts`; `eval` items are scored, the `train` item must not be.
 */
export async function writeDataset(
  store: ObjectStore,
  splits: ("eval" | "train")[] = ["eval", "eval", "train", "eval"],
  options: { outOfRangeClassAt?: number } = {},
): Promise<string> {
  const items: ManifestItemV1[] = [];
  for (const [i, split] of splits.entries()) {
    const itemId = `item-${i}`;
    const base = `gs://annotation/items/${itemId}/${itemId}`;
    const rgb = await sharpCodec.encodePng(raster(4, 2, 3, (x, y, c) => (c === 0 ? SCENE_RED[y * 4 + x]! : 0)));
    const nir = await sharpCodec.encodePng(raster(4, 2, 1, () => 0));
    const nodata = await sharpCodec.encodePng(raster(4, 2, 1, (x, y) => (x === 3 && y === 1 ? 255 : 0)));
    const objects = [box("a", 1, "cloud", 1, 0, 2, 1), box("b", 1, "cloud", 0, 1, 1, 1)];
    // A label whose class id is beyond the dataset's classes (an ontology that shrank, a bad export).
    if (options.outOfRangeClassAt === i) objects.push(box("z", 7, "snow", 3, 0, 1, 1));
    const label = JSON.stringify(annotation(itemId, 4, 2, objects));
    await store.put(`${base}_rgb.png`, rgb);
    await store.put(`${base}_nir.png`, nir);
    await store.put(`${base}_nodata.png`, nodata);
    await store.put(`gs://datasets/labels/${itemId}.json`, label);
    items.push({
      itemId,
      split,
      images: {
        rgb: { uri: `${base}_rgb.png`, sha256: sha256Hex(rgb), width: 4, height: 2 },
        nir: { uri: `${base}_nir.png`, sha256: sha256Hex(nir), width: 4, height: 2 },
      },
      nodata: { uri: `${base}_nodata.png`, sha256: sha256Hex(nodata) },
      label: { uri: `gs://datasets/labels/${itemId}.json`, sha256: sha256Hex(label) },
      provenance: { backend: "local", labelId: `label-${itemId}`, annotator: null, editedAt: "2026-01-01T00:00:00Z" },
    });
  }
  const manifest: DatasetManifestV1 = {
    schema: "dataset-manifest/v1", line: "clouds", seq: 1, parentId: null, task: "segmentation",
    classes: ["background", "cloud"], evalSplitPercent: 20, items,
  };
  const versionId = sha256Hex(canonicalJson(manifest));
  const uri = `gs://datasets/clouds/${versionId}/manifest.json`;
  await store.put(uri, JSON.stringify(manifest));
  return uri;
}

export async function writeModel(store: ObjectStore, prefix: string, model: { bytes: Uint8Array; card: ModelCard }, metrics?: Record<string, unknown>): Promise<void> {
  await store.put(`${prefix}model.onnx`, model.bytes);
  await store.put(`${prefix}model.json`, JSON.stringify(model.card));
  if (metrics) await store.put(`${prefix}metrics.json`, JSON.stringify(metrics));
}
