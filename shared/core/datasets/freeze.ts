import type { AnnotationRow } from "../../db/queries/annotations.ts";
import type { ItemRow } from "../../db/queries/items.ts";
import type { Deps } from "../../ports.ts";
import type { CanonicalAnnotation } from "../annotation/canonical.ts";
import { toCoco } from "../annotation/coco.ts";
import { toSemanticRaster } from "../annotation/mask-png.ts";
import { ontologyFromNames } from "../annotation/ontology.ts";
import { toYolo, yoloDataYaml } from "../annotation/yolo.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import { objectUri } from "../uri.ts";
import { DatasetManifestSchema, versionPrefix, type DatasetManifest, type ManifestItem } from "./manifest.ts";
import { splitOf } from "./split.ts";

export interface VersionMemberInput {
  item: ItemRow;
  annotation: AnnotationRow;
}

export interface ManifestInput {
  line: string;
  seq: number;
  parentId: string | null;
  task: DatasetManifest["task"];
  classes: string[];
  evalSplitPercent: number;
  members: VersionMemberInput[];
  datasetsBucket: string;
}

/** Canonical label JSON and its content address (labels are shared across versions). */
export function labelDocument(annotation: CanonicalAnnotation, datasetsBucket: string): { json: string; sha256: string; uri: string } {
  const json = canonicalJson(annotation);
  const sha256 = sha256Hex(json);
  return { json, sha256, uri: objectUri(datasetsBucket, `labels/${sha256}.json`) };
}

/** The manifest of a version: every sample with its image and label URIs, hashes, split and provenance. */
export function buildManifest(input: ManifestInput): DatasetManifest {
  const items: ManifestItem[] = [];
  for (const { item, annotation } of [...input.members].sort((a, b) => a.item.id.localeCompare(b.item.id))) {
    if (!annotation.canonical) continue;
    const width = item.width ?? annotation.canonical.image.width;
    const height = item.height ?? annotation.canonical.image.height;
    const images: ManifestItem["images"] = {};
    for (const role of ["rgb", "nir", "image"] as const) {
      const asset = item.assets[role];
      if (asset) images[role] = { uri: asset.uri, sha256: asset.sha256, width, height };
    }
    const label = labelDocument(annotation.canonical, input.datasetsBucket);
    items.push({
      itemId: item.id,
      split: splitOf(item.split_key, input.evalSplitPercent),
      images,
      nodata: item.assets.nodata ? { uri: item.assets.nodata.uri, sha256: item.assets.nodata.sha256 } : null,
      label: { uri: label.uri, sha256: label.sha256 },
      provenance: annotation.canonical.provenance,
    });
  }
  return DatasetManifestSchema.parse({
    schema: "dataset-manifest/v1",
    line: input.line,
    seq: input.seq,
    parentId: input.parentId,
    task: input.task,
    classes: input.classes,
    evalSplitPercent: input.evalSplitPercent,
    items,
  });
}

export function manifestId(manifest: DatasetManifest): string {
  return sha256Hex(canonicalJson(manifest));
}

/**
 * Writes labels, exports (COCO JSON, YOLO txt, mask PNGs — images without objects included) and,
 * last, the manifest. Every write is idempotent, and a present manifest means the rest is there.
 */
export async function writeVersionFiles(
  manifest: DatasetManifest,
  members: VersionMemberInput[],
  deps: Pick<Deps, "store" | "codec" | "config">,
): Promise<{ versionId: string; manifestUri: string; exports: Record<string, string> }> {
  const versionId = manifestId(manifest);
  const bucket = deps.config.buckets.datasets;
  const prefix = versionPrefix(manifest.line, versionId);
  const manifestUri = objectUri(bucket, `${prefix}manifest.json`);
  const exports = {
    coco: objectUri(bucket, `${prefix}exports/coco.json`),
    yolo: objectUri(bucket, `${prefix}exports/yolo/`),
    masks: objectUri(bucket, `${prefix}exports/masks/`),
  };
  if (await deps.store.head(manifestUri)) return { versionId, manifestUri, exports };

  const byItem = new Map(members.map((m) => [m.item.id, m]));
  const ontology = ontologyFromNames(manifest.classes);
  const annotations: CanonicalAnnotation[] = [];
  const codec = await deps.codec();
  for (const entry of manifest.items) {
    const canonical = byItem.get(entry.itemId)?.annotation.canonical;
    if (!canonical) continue;
    annotations.push(canonical);
    const label = labelDocument(canonical, bucket);
    await deps.store.put(label.uri, label.json, { contentType: "application/json", ifAbsent: true });
    const yolo = toYolo(canonical);
    await deps.store.put(objectUri(bucket, `${prefix}exports/yolo/labels/${entry.itemId}.txt`), yolo.text, { contentType: "text/plain" });
    if (manifest.task === "segmentation") {
      const raster = toSemanticRaster(canonical);
      const png = await codec.encodePng({ width: raster.width, height: raster.height, channels: 1, data: raster.data });
      await deps.store.put(objectUri(bucket, `${prefix}exports/masks/${entry.itemId}.png`), png, { contentType: "image/png" });
    }
  }
  await deps.store.put(objectUri(bucket, `${prefix}exports/yolo/data.yaml`), yoloDataYaml(ontology), { contentType: "text/yaml" });
  const coco = toCoco(annotations, ontology, manifest.items.map((i) => ({ itemId: i.itemId, fileName: fileNameOf(i) })));
  await deps.store.put(exports.coco, JSON.stringify(coco), { contentType: "application/json" });
  // The file is the canonical JSON itself, so `sha256sum manifest.json` equals the version id.
  await deps.store.put(manifestUri, canonicalJson(manifest), { contentType: "application/json" });
  return { versionId, manifestUri, exports };
}

function fileNameOf(item: ManifestItem): string {
  const uri = item.images.rgb?.uri ?? item.images.image?.uri ?? item.itemId;
  return uri.slice(uri.lastIndexOf("/") + 1);
}
