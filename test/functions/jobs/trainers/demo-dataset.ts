import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { sharpCodec } from "../../../../shared/adapters/imaging/codec.ts";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { encodeRowMajor } from "../../../../shared/core/annotation/rle.ts";
import type { DatasetManifest } from "../../../../shared/core/datasets/manifest.ts";
import { generateScene } from "../../../../shared/core/demo/scenes.ts";
import { canonicalJson, sha256Hex } from "../../../../shared/core/json.ts";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { dataDirPaths } from "../../../../functions/jobs/train/data-dir.ts";

/**
 * A small dataset built from the demo's synthetic scenes (shared/core/demo/scenes.ts): RGB and NIR
 * PNGs, a nodata mask, and canonical labels with one mask object per class — what the dataset
 * freezer would have written, without the database.
 */
export interface DemoItem {
  itemId: string;
  split: "train" | "eval";
  width: number;
  height: number;
  rgb: Buffer;
  nir: Buffer;
  nodata: Buffer;
  labelJson: string;
  /** Class id per pixel; nodata pixels are 255 here. */
  truth: Uint8Array;
}

const toByte = (v: number) => (Number.isNaN(v) ? 0 : Math.max(0, Math.min(255, Math.round(v * 255))));

export async function makeDemoItem(itemId: string, seed: number, size: number, split: "train" | "eval" = "train"): Promise<DemoItem> {
  const scene = generateScene({ seed, width: size, height: size, cloudiness: 0.35 });
  const n = size * size;
  const rgb = new Uint8Array(n * 3);
  const nir = new Uint8Array(n);
  const nodata = new Uint8Array(n);
  const truth = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    rgb[p * 3] = toByte(scene.bands.red[p]!);
    rgb[p * 3 + 1] = toByte(scene.bands.green[p]!);
    rgb[p * 3 + 2] = toByte(scene.bands.blue[p]!);
    nir[p] = toByte(scene.bands.nir[p]!);
    const missing = Number.isNaN(scene.bands.red[p]!);
    nodata[p] = missing ? 255 : 0;
    truth[p] = missing ? 255 : scene.groundTruth[p]!;
  }
  const objects: CanonicalAnnotation["objects"] = [];
  for (let c = 1; c < DEFAULT_ONTOLOGY.length; c++) {
    const mask = Uint8Array.from(truth, (t) => (t === c ? 1 : 0));
    if (!mask.includes(1)) continue;
    objects.push({ id: `${itemId}-${c}`, kind: "mask", classId: c, className: DEFAULT_ONTOLOGY[c]!, mask: { counts: encodeRowMajor(mask, size, size) } });
  }
  const label: CanonicalAnnotation = {
    schema: "canonical-annotation/v1",
    itemId,
    image: { width: size, height: size },
    objects,
    classifications: [],
    provenance: { backend: "local", labelId: `label-${itemId}`, annotator: "simulator", editedAt: "2025-01-01T00:00:00.000Z" },
  };
  const encode = (data: Uint8Array, channels: number) => sharpCodec.encodePng({ width: size, height: size, channels, data });
  return { itemId, split, width: size, height: size, rgb: await encode(rgb, 3), nir: await encode(nir, 1), nodata: await encode(nodata, 1), labelJson: canonicalJson(label), truth };
}

/** Where each item's files live in the buckets, and the manifest that points at them. */
export function demoManifest(items: readonly DemoItem[], buckets = { annotation: "annotation", datasets: "datasets" }) {
  const files = new Map<string, Uint8Array | string>();
  const manifest: DatasetManifest = {
    schema: "dataset-manifest/v1",
    line: "default",
    seq: 1,
    parentId: null,
    task: "segmentation",
    classes: DEFAULT_ONTOLOGY,
    evalSplitPercent: 20,
    items: items.map((item) => {
      const base = `gs://${buckets.annotation}/items/${item.itemId}/${item.itemId}`;
      const ref = (uri: string, bytes: Uint8Array | string) => {
        files.set(uri, bytes);
        return { uri, sha256: sha256Hex(bytes) };
      };
      const labelSha = sha256Hex(item.labelJson);
      return {
        itemId: item.itemId,
        split: item.split,
        images: {
          rgb: { ...ref(`${base}_rgb.png`, item.rgb), width: item.width, height: item.height },
          nir: { ...ref(`${base}_nir.png`, item.nir), width: item.width, height: item.height },
        },
        nodata: ref(`${base}_nodata.png`, item.nodata),
        label: ref(`gs://${buckets.datasets}/labels/${labelSha}.json`, item.labelJson),
        provenance: { backend: "local", labelId: `label-${item.itemId}`, annotator: "simulator", editedAt: "2025-01-01T00:00:00.000Z" },
      };
    }),
  };
  const json = canonicalJson(manifest);
  return { manifest, manifestJson: json, versionId: sha256Hex(json), files };
}

/** Writes items straight into a DATA_DIR, as the training wrapper would lay them out. */
export async function writeDataDir(dataDir: string, items: readonly DemoItem[]): Promise<{ versionId: string }> {
  const { manifestJson, versionId } = demoManifest(items);
  const put = async (path: string, bytes: Uint8Array | string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  };
  await put(dataDirPaths.manifest(dataDir), manifestJson);
  for (const item of items.filter((i) => i.split === "train")) {
    await put(dataDirPaths.image(dataDir, item.itemId, "rgb"), item.rgb);
    await put(dataDirPaths.image(dataDir, item.itemId, "nir"), item.nir);
    await put(dataDirPaths.nodata(dataDir, item.itemId), item.nodata);
    await put(dataDirPaths.label(dataDir, item.itemId), item.labelJson);
  }
  return { versionId };
}
