import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sharpCodec } from "../shared/adapters/imaging/codec.ts";
import type { CanonicalAnnotation, CanonicalObject } from "../shared/core/annotation/canonical.ts";
import { semanticMask } from "../shared/core/annotation/rasterise.ts";
import type { DatasetManifestV3, LoadedManifestV3, ManifestItemV2 } from "../shared/core/datasets/manifest.ts";
import { MANIFEST_PAGES_DIR, pageBytes, pageFileName, pageUri } from "../shared/core/datasets/manifest-pages.ts";
import { canonicalJson, sha256Hex } from "../shared/core/json.ts";
import { createPrng } from "../shared/core/demo/prng.ts";
import type { DecodedRaster, ObjectStore } from "../shared/ports.ts";

/**
 * Generated segmentation scenes for the U-Net reference trainer (its test, scripts/gpu-check):
 * square products whose "cloud" boxes are bright in red and NIR over a darker, noisy background.
 * Written twice over: as the train wrapper lays out DATA_DIR (train items, with mask exports) and
 * into a workspace's bucket folders (all items, for `mlops evaluate`).
 */
function raster(width: number, height: number, channels: number, fill: (x: number, y: number, c: number) => number): DecodedRaster {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
  return { width, height, channels, data };
}

function annotation(itemId: string, width: number, height: number, objects: CanonicalObject[]): CanonicalAnnotation {
  const provenance = { backend: "local" as const, labelId: `label-${itemId}`, annotator: null, editedAt: "2026-01-01T00:00:00Z" };
  return { schema: "canonical-annotation/v1", itemId, image: { width, height }, objects, classifications: [], provenance };
}

export async function writeCloudScenes(options: { dataDir: string; store: ObjectStore; train: number; evaluate: number; seed: number; size?: number }): Promise<{ manifestUri: string; manifest: LoadedManifestV3 }> {
  const SIZE = options.size ?? 32;
  const prng = createPrng(options.seed);
  const items: ManifestItemV2[] = [];
  const total = options.train + options.evaluate;
  for (let i = 0; i < total; i++) {
    const itemId = `scene-${i}`;
    const split = i < options.train ? "train" : "eval";
    const objects: CanonicalObject[] = Array.from({ length: 2 }, (_, k) => {
      const w = Math.round(SIZE * (0.2 + prng.next() * 0.3));
      const h = Math.round(SIZE * (0.2 + prng.next() * 0.3));
      return { id: `o${k}`, kind: "box", classId: 1, className: "cloud", box: { x: prng.int(SIZE - w), y: prng.int(SIZE - h), w, h } };
    });
    const label = annotation(itemId, SIZE, SIZE, objects);
    const mask = semanticMask(label);
    const noise = Array.from({ length: SIZE * SIZE }, () => prng.int(40));
    const value = (x: number, y: number, bright: number, dark: number) => (mask[y * SIZE + x] === 1 ? bright : dark) + noise[y * SIZE + x]!;
    const rgb = await sharpCodec.encodePng(raster(SIZE, SIZE, 3, (x, y, c) => value(x, y, c === 0 ? 200 : 150, c === 0 ? 30 : 60)));
    const nir = await sharpCodec.encodePng(raster(SIZE, SIZE, 1, (x, y) => value(x, y, 190, 50)));
    const maskPng = await sharpCodec.encodePng({ width: SIZE, height: SIZE, channels: 1, data: mask });
    const labelJson = JSON.stringify(label);
    const base = `gs://annotation/items/${itemId}/${itemId}`;
    await options.store.put(`${base}_rgb.png`, rgb);
    await options.store.put(`${base}_nir.png`, nir);
    await options.store.put(`gs://datasets/labels/${itemId}.json`, labelJson);
    await options.store.put(`gs://datasets/exports/masks/${sha256Hex(maskPng)}.png`, maskPng);
    items.push({
      itemId,
      split,
      images: {
        rgb: { uri: `${base}_rgb.png`, sha256: sha256Hex(rgb), width: SIZE, height: SIZE },
        nir: { uri: `${base}_nir.png`, sha256: sha256Hex(nir), width: SIZE, height: SIZE },
      },
      nodata: null,
      label: { uri: `gs://datasets/labels/${itemId}.json`, sha256: sha256Hex(labelJson) },
      provenance: label.provenance,
      exports: { mask: { uri: `gs://datasets/exports/masks/${sha256Hex(maskPng)}.png`, sha256: sha256Hex(maskPng) } },
    });
    if (split === "train") {
      await mkdir(join(options.dataDir, "images", itemId), { recursive: true });
      await mkdir(join(options.dataDir, "labels"), { recursive: true });
      await mkdir(join(options.dataDir, "exports", "masks"), { recursive: true });
      await writeFile(join(options.dataDir, "images", itemId, "rgb.png"), rgb);
      await writeFile(join(options.dataDir, "images", itemId, "nir.png"), nir);
      await writeFile(join(options.dataDir, "labels", `${itemId}.json`), labelJson);
      await writeFile(join(options.dataDir, "exports", "masks", `${itemId}.png`), maskPng);
    }
  }
  // A v3 manifest as a freeze writes it: the items in one page, in id order.
  items.sort((a, b) => (a.itemId < b.itemId ? -1 : 1));
  const page = pageBytes(items.map((i) => canonicalJson(i)));
  const pageSha = sha256Hex(page);
  const manifest: DatasetManifestV3 = {
    schema: "dataset-manifest/v3", line: "clouds", seq: 1, parentId: null, task: "segmentation",
    classes: ["background", "cloud"], evalSplitPercent: 25, maskIgnoreValue: 255, itemCount: items.length,
    pages: [{ uri: pageUri("datasets", "clouds", pageSha), sha256: pageSha, seq: 1, count: items.length, first: items[0]!.itemId, last: items.at(-1)!.itemId }],
  };
  const text = canonicalJson(manifest);
  const manifestUri = `gs://datasets/clouds/${sha256Hex(text)}/manifest.json`;
  await options.store.put(manifest.pages[0]!.uri, page);
  await options.store.put(manifestUri, text);
  await mkdir(join(options.dataDir, MANIFEST_PAGES_DIR), { recursive: true });
  await writeFile(join(options.dataDir, "manifest.json"), text);
  await writeFile(join(options.dataDir, MANIFEST_PAGES_DIR, pageFileName({ sha256: pageSha })), page);
  return { manifestUri, manifest: { ...manifest, items } };
}
