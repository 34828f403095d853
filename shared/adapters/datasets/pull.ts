import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PermanentError } from "../../errors.ts";
import { ontologyFromNames } from "../../core/annotation/ontology.ts";
import { yoloDataYaml } from "../../core/annotation/yolo.ts";
import { itemExports, type DatasetManifest } from "../../core/datasets/manifest.ts";
import type { ObjectStore } from "../../ports.ts";
import { writeCocoFile } from "./coco-file.ts";
import { checkOutManifest } from "./manifest-file.ts";
import { assertSafeItemId, downloadVerified, type Download } from "./download.ts";

/**
 * Checks a dataset version out into a folder, like `dvc pull`: the manifest (its SHA-256 must be
 * the version id), then every object of the chosen split, each verified against the manifest's
 * SHA-256, laid out for the chosen formats:
 *
 *   <out>/manifest.json            the version's manifest, byte for byte
 *   <out>/manifest-pages/<sha>.json  its pages (v3), byte for byte
 *   <out>/images/<item>.png        RGB rendering (products) or the image itself
 *   <out>/nir/<item>.png           NIR rendering (products)
 *   <out>/nodata/<item>.png        255 where the source had no data (when it had some)
 *   <out>/canonical/<item>.json    the accepted label (canonical annotation)
 *   coco:  <out>/annotations.json  COCO (file_name = images/<item>.png), what `mlops metrics coco --gt` reads
 *   yolo:  <out>/labels/<item>.txt and <out>/data.yaml (Ultralytics finds labels/ next to images/)
 *   masks: <out>/masks/<item>.png  one class id per pixel, `maskIgnoreValue` where there is no data
 */
export const PULL_FORMATS = ["coco", "yolo", "masks"] as const;
export type PullFormat = (typeof PULL_FORMATS)[number];
export type PullSplit = "train" | "eval" | "all";

export interface PullProgress {
  files: number;
  totalFiles: number;
  bytes: number;
}

export interface PullOptions {
  store: ObjectStore;
  manifestUri: string;
  /** The version id the caller asked for: the manifest's SHA-256 must equal it. */
  versionId: string;
  outDir: string;
  formats: readonly PullFormat[];
  split: PullSplit;
  onProgress?: (progress: PullProgress) => void;
}

export interface PullResult {
  versionId: string;
  manifest: DatasetManifest;
  items: number;
  files: number;
  bytes: number;
  cocoPath: string | null;
}

export async function pullDataset(options: PullOptions): Promise<PullResult> {
  const { store, outDir, formats } = options;
  const checkedOut = await checkOutManifest(store, options.manifestUri, outDir);
  if (checkedOut.versionId !== options.versionId) {
    throw new PermanentError("dataset_corrupt", `${options.manifestUri} has SHA-256 ${checkedOut.versionId.slice(0, 12)}…, not the version id ${options.versionId.slice(0, 12)}…`);
  }
  const { manifest } = checkedOut;
  if (manifest.schema === "dataset-manifest/v1" && (formats.includes("yolo") || formats.includes("masks"))) {
    throw new PermanentError("unsupported_format", `version ${options.versionId.slice(0, 12)}… is a v1 manifest without per-item exports: pull it with --format coco`);
  }

  const items = manifest.items.filter((i) => options.split === "all" || i.split === options.split);
  const downloads: Download[] = [];
  for (const item of items) {
    const id = assertSafeItemId(item.itemId);
    const main = item.images.rgb ?? item.images.image;
    if (main) downloads.push({ uri: main.uri, path: join(outDir, "images", `${id}.png`), sha256: main.sha256 });
    if (item.images.nir) downloads.push({ uri: item.images.nir.uri, path: join(outDir, "nir", `${id}.png`), sha256: item.images.nir.sha256 });
    if (item.nodata) downloads.push({ uri: item.nodata.uri, path: join(outDir, "nodata", `${id}.png`), sha256: item.nodata.sha256 });
    downloads.push({ uri: item.label.uri, path: join(outDir, "canonical", `${id}.json`), sha256: item.label.sha256 });
    const exports = itemExports(item);
    if (formats.includes("yolo") && exports?.yolo) downloads.push({ uri: exports.yolo.uri, path: join(outDir, "labels", `${id}.txt`), sha256: exports.yolo.sha256 });
    if (formats.includes("masks") && exports?.mask) downloads.push({ uri: exports.mask.uri, path: join(outDir, "masks", `${id}.png`), sha256: exports.mask.sha256 });
  }

  const progress: PullProgress = { files: 0, totalFiles: downloads.length, bytes: 0 };
  options.onProgress?.({ ...progress });
  await downloadVerified(store, downloads, (_d, bytes) => {
    progress.files++;
    progress.bytes += bytes;
    options.onProgress?.({ ...progress });
  });

  const ontology = ontologyFromNames(manifest.classes);
  let cocoPath: string | null = null;
  if (formats.includes("coco")) {
    cocoPath = join(outDir, "annotations.json");
    await writeCocoFile(cocoPath, items.map((i) => ({ itemId: i.itemId, fileName: `images/${i.itemId}.png`, labelPath: join(outDir, "canonical", `${i.itemId}.json`) })), ontology);
  }
  if (formats.includes("yolo")) await writeFile(join(outDir, "data.yaml"), yoloDataYaml(ontology, { path: ".", train: "images", val: "images" }));
  return { versionId: options.versionId, manifest, items: items.length, files: downloads.length + checkedOut.files, bytes: progress.bytes + checkedOut.bytes, cocoPath };
}
