import type { Deps } from "../../ports.ts";
import type { CanonicalAnnotation } from "../annotation/canonical.ts";
import { semanticMask } from "../annotation/rasterise.ts";
import { toYolo } from "../annotation/yolo.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import { objectUri } from "../uri.ts";
import { MASK_IGNORE_VALUE, type ContentRef } from "./manifest.ts";

/**
 * The files a dataset version points at for one accepted label, each named after the SHA-256 of
 * its bytes and shared by every version (and every line) that holds the label: the canonical label
 * JSON, the YOLO txt and, for segmentation, the mask PNG (class id per pixel, MASK_IGNORE_VALUE
 * where the source had nodata, as the evaluator reads it). Written once, when the label is taken
 * in; a freeze only writes them for labels that have none yet.
 */
export interface SampleExports {
  label: ContentRef;
  yolo: ContentRef;
  mask?: ContentRef;
}

export type ExportDeps = Pick<Deps, "store" | "codec" | "config">;

/** Canonical label JSON and its content address (labels are shared across versions). */
export function labelDocument(annotation: CanonicalAnnotation, datasetsBucket: string): { json: string; sha256: string; uri: string } {
  const json = canonicalJson(annotation);
  const sha256 = sha256Hex(json);
  return { json, sha256, uri: objectUri(datasetsBucket, `labels/${sha256}.json`) };
}

/**
 * The label's class-id mask at the image's size, MASK_IGNORE_VALUE where the source had no data
 * (`nodata`: the item's decoded nodata mask, 255 = no data, or null): the mask file's pixels, and
 * what a pre-label is compared with.
 */
export function labelMask(annotation: CanonicalAnnotation, nodata: Uint8Array | null): Uint8Array {
  const { width, height } = annotation.image;
  const ignore = nodata && nodata.length === width * height ? nodata : undefined;
  return semanticMask(annotation, { background: 0, ignoreValue: MASK_IGNORE_VALUE, ...(ignore ? { ignore } : {}) });
}

/**
 * Writes (if absent) the label, YOLO and mask files of an accepted label. `nodata` is the item's
 * decoded nodata mask (255 = no data), or null when the image had none; `mask`, the label's
 * `labelMask` when the caller already has it (it is not rasterised twice).
 */
export async function writeSampleExports(annotation: CanonicalAnnotation, nodata: Uint8Array | null, deps: ExportDeps, mask?: Uint8Array): Promise<SampleExports> {
  const bucket = deps.config.buckets.datasets;
  const label = labelDocument(annotation, bucket);
  await deps.store.put(label.uri, label.json, { contentType: "application/json", ifAbsent: true });

  const yoloText = toYolo(annotation).text;
  const yolo = { sha256: sha256Hex(yoloText), uri: "" };
  yolo.uri = objectUri(bucket, `exports/yolo/${yolo.sha256}.txt`);
  await deps.store.put(yolo.uri, yoloText, { contentType: "text/plain", ifAbsent: true });

  const out: SampleExports = { label: { uri: label.uri, sha256: label.sha256 }, yolo };
  if (deps.config.annotation.task === "segmentation") {
    const { width, height } = annotation.image;
    const data = mask ?? labelMask(annotation, nodata);
    const png = await (await deps.codec()).encodePng({ width, height, channels: 1, data });
    const sha256 = sha256Hex(png);
    const uri = objectUri(bucket, `exports/masks/${sha256}.png`);
    await deps.store.put(uri, png, { contentType: "image/png", ifAbsent: true });
    out.mask = { uri, sha256 };
  }
  return out;
}

/** Whether stored exports are complete for the configured task. */
export function exportsComplete(exports: Partial<SampleExports> | null | undefined, task: string): exports is SampleExports {
  return Boolean(exports?.label && exports.yolo && (task !== "segmentation" || exports.mask));
}

/** The nodata mask as one byte per pixel (255 = no data), decoded through the codec port. */
export async function loadNodataMask(uri: string, deps: Pick<Deps, "store" | "codec">): Promise<Uint8Array> {
  const raster = await (await deps.codec()).decodePng(await deps.store.get(uri));
  if (raster.channels === 1) return raster.data;
  const out = new Uint8Array(raster.width * raster.height);
  for (let i = 0; i < out.length; i++) out[i] = raster.data[i * raster.channels]!;
  return out;
}
