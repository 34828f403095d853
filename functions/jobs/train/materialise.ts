import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DatasetManifest } from "../../../shared/core/datasets/manifest.ts";
import { checkOutManifest } from "../../../shared/adapters/datasets/manifest-file.ts";
import { joinUri } from "../../../shared/core/uri.ts";
import type { Logger, ObjectStore } from "../../../shared/ports.ts";
import { ontologyFromNames } from "../../../shared/core/annotation/ontology.ts";
import { yoloDataYaml } from "../../../shared/core/annotation/yolo.ts";
import type { ManifestItem } from "../../../shared/core/datasets/manifest.ts";
import { writeCocoFile } from "../../../shared/adapters/datasets/coco-file.ts";
import { downloadVerified, type Download } from "../../../shared/adapters/datasets/download.ts";
import { assertSafeItemId, dataDirPaths } from "./data-dir.ts";

/**
 * Fills DATA_DIR (layout in data-dir.ts) from a dataset version: the manifest (and its pages) byte for byte, the
 * train-split images, labels and nodata masks (each checked against the manifest's SHA-256: a
 * frozen version whose objects changed underneath it must not train silently), and the exports:
 * a v1 version's export folder as stored, or, for v2/v3, each train item's YOLO txt and mask PNG plus
 * the YOLO data.yaml and a COCO file of the train items (evaluation samples stay out of reach).
 */
export async function materialiseDataset(store: ObjectStore, datasetUri: string, dataDir: string, log: Logger): Promise<DatasetManifest> {
  const { manifest } = await checkOutManifest(store, datasetUri, dataDir);

  const downloads: Download[] = [];
  for (const item of manifest.items) {
    if (item.split !== "train") continue;
    for (const role of ["rgb", "nir", "image"] as const) {
      const ref = item.images[role];
      if (ref) downloads.push({ uri: ref.uri, path: dataDirPaths.image(dataDir, item.itemId, role), sha256: ref.sha256 });
    }
    downloads.push({ uri: item.label.uri, path: dataDirPaths.label(dataDir, item.itemId), sha256: item.label.sha256 });
    if (item.nodata) downloads.push({ uri: item.nodata.uri, path: dataDirPaths.nodata(dataDir, item.itemId), sha256: item.nodata.sha256 });
  }

  const exportsDir = dataDirPaths.exports(dataDir);
  if (manifest.schema === "dataset-manifest/v1") {
    // v1 versions kept their exports next to the manifest: <line>/<version>/exports/.
    const versionPrefix = datasetUri.slice(0, datasetUri.lastIndexOf("/") + 1);
    const exportsPrefix = `${joinUri(versionPrefix, "exports")}/`;
    for (const info of await store.list(exportsPrefix)) {
      const relative = info.uri.slice(exportsPrefix.length);
      if (!relative || relative.split("/").some((part) => part === ".." || part === "")) continue;
      downloads.push({ uri: info.uri, path: join(exportsDir, ...relative.split("/")), sha256: null });
    }
  } else {
    // v2, v3: each item names its content-addressed exports; they land under the item's id.
    for (const item of manifest.items) {
      if (item.split !== "train") continue;
      if (item.exports.yolo) downloads.push({ uri: item.exports.yolo.uri, path: join(exportsDir, "yolo", "labels", `${assertSafeItemId(item.itemId)}.txt`), sha256: item.exports.yolo.sha256 });
      if (item.exports.mask) downloads.push({ uri: item.exports.mask.uri, path: join(exportsDir, "masks", `${assertSafeItemId(item.itemId)}.png`), sha256: item.exports.mask.sha256 });
    }
  }

  await downloadVerified(store, downloads);
  if (manifest.schema !== "dataset-manifest/v1") {
    // The dataset-wide exports are written here, for exactly the items materialised.
    const train = manifest.items.filter((i) => i.split === "train");
    const ontology = ontologyFromNames(manifest.classes);
    await mkdir(join(exportsDir, "yolo"), { recursive: true });
    await writeFile(join(exportsDir, "yolo", "data.yaml"), yoloDataYaml(ontology));
    await writeCocoFile(join(exportsDir, "coco.json"), train.map((i) => ({ itemId: i.itemId, fileName: fileNameOf(i), labelPath: dataDirPaths.label(dataDir, i.itemId) })), ontology);
  }
  const trainItems = manifest.items.filter((i) => i.split === "train").length;
  log.info("dataset materialised", { datasetUri, trainItems, evalItemsWithheld: manifest.items.length - trainItems, files: downloads.length });
  return manifest;
}

function fileNameOf(item: ManifestItem): string {
  const uri = item.images.rgb?.uri ?? item.images.image?.uri ?? item.itemId;
  return uri.slice(uri.lastIndexOf("/") + 1);
}

/**
 * Downloads a base model (model.onnx + model.json) for warm-starting. BASE_MODEL_URI is a model's
 * prefix (what the models table stores) or its model.onnx. Returns null when it is incomplete:
 * a trainer can always start from scratch, so a missing base model is a warning, not a failure.
 */
export async function downloadBaseModel(store: ObjectStore, baseModelUri: string, dir: string, log: Logger): Promise<string | null> {
  const prefix = baseModelUri.endsWith(".onnx") ? baseModelUri.slice(0, baseModelUri.lastIndexOf("/") + 1) : joinUri(baseModelUri, "");
  for (const name of ["model.onnx", "model.json"]) {
    const uri = joinUri(prefix, name);
    if (!(await store.head(uri))) {
      log.warn("base model incomplete; the trainer starts from scratch", { baseModelUri, missing: uri });
      return null;
    }
    await store.download(uri, join(dir, name));
  }
  return dir;
}
