import { readFile } from "node:fs/promises";
import { PermanentError } from "../../../shared/errors.ts";
import { summariseIssues } from "../../../shared/messages/build.ts";
import { CanonicalAnnotationSchema } from "../../../shared/core/annotation/canonical.ts";
import { semanticMask } from "../../../shared/core/annotation/rasterise.ts";
import type { DatasetManifest, ManifestItem } from "../../../shared/core/datasets/manifest.ts";
import { readManifestFile } from "../../../shared/adapters/datasets/manifest-file.ts";
import type { BandName } from "../../../shared/core/models/model-card.ts";
import type { LabelledImage } from "../../../shared/core/training/sampling.ts";
import type { DecodedRaster, ImageCodec } from "../../../shared/ports.ts";
import { dataDirPaths } from "../train/data-dir.ts";

/** Reading the wrapper's DATA_DIR into labelled images (I/O side of the baseline trainer). */

/** Label value for pixels the trainer must not learn from (nodata). */
export const IGNORE_LABEL = 255;

/** DATA_DIR's manifest with its items (v3: from its pages); the version id is its SHA-256. */
export async function readManifest(dataDir: string): Promise<{ manifest: DatasetManifest; versionId: string }> {
  return readManifestFile(dataDirPaths.manifest(dataDir));
}

/** The bands the dataset can feed: NIR only when every training item has a NIR image. */
export function channelsFor(items: readonly ManifestItem[]): BandName[] {
  return items.every((i) => i.images.nir) ? ["red", "green", "blue", "nir"] : ["red", "green", "blue"];
}

async function decodeFile(path: string, codec: ImageCodec, what: string): Promise<DecodedRaster> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new PermanentError("missing_file", `${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return codec.decodePng(bytes);
}

/** One channel of an interleaved raster as a plane; grey images feed every colour channel. */
function plane(raster: DecodedRaster, channel: number): Uint8Array {
  const source = raster.channels >= 3 ? channel : 0;
  const out = new Uint8Array(raster.width * raster.height);
  for (let p = 0; p < out.length; p++) out[p] = raster.data[p * raster.channels + source]!;
  return out;
}

/**
 * Loads one training item: input planes in `channels` order (0–255) and a class id per pixel from
 * its canonical annotation, with nodata pixels set to IGNORE_LABEL.
 */
export async function loadLabelledImage(
  dataDir: string,
  item: ManifestItem,
  channels: readonly BandName[],
  numClasses: number,
  codec: ImageCodec,
): Promise<LabelledImage> {
  const id = item.itemId;
  const colourRole = item.images.rgb ? "rgb" : item.images.image ? "image" : null;
  if (!colourRole) throw new PermanentError("missing_image", `item ${id} has no rgb or image entry in the manifest`);
  const colour = await decodeFile(dataDirPaths.image(dataDir, id, colourRole), codec, `item ${id}`);

  let annotationJson: unknown;
  try {
    annotationJson = JSON.parse(await readFile(dataDirPaths.label(dataDir, id), "utf8"));
  } catch (err) {
    throw new PermanentError("invalid_label", `item ${id}: cannot read its label (${(err as Error).message})`);
  }
  const annotation = CanonicalAnnotationSchema.safeParse(annotationJson);
  if (!annotation.success) throw new PermanentError("invalid_label", `item ${id}: ${summariseIssues(annotation.error.issues)}`);
  const { width, height } = annotation.data.image;
  const checkSize = (r: DecodedRaster, what: string) => {
    if (r.width !== width || r.height !== height) {
      throw new PermanentError("size_mismatch", `item ${id}: ${what} is ${r.width}×${r.height} but its label is ${width}×${height}`);
    }
  };
  checkSize(colour, `${colourRole}.png`);

  const planes: Uint8Array[] = [];
  let nir: DecodedRaster | null = null;
  for (const band of channels) {
    if (band === "nir") {
      nir ??= await decodeFile(dataDirPaths.image(dataDir, id, "nir"), codec, `item ${id}`);
      checkSize(nir, "nir.png");
      planes.push(plane(nir, 0));
    } else {
      planes.push(plane(colour, band === "red" ? 0 : band === "green" ? 1 : 2));
    }
  }

  let ignore: Uint8Array | undefined;
  if (item.nodata) {
    const mask = await decodeFile(dataDirPaths.nodata(dataDir, id), codec, `item ${id} nodata mask`);
    checkSize(mask, "nodata mask");
    ignore = plane(mask, 0);
  }
  const labels = semanticMask(annotation.data, { ignore, ignoreValue: IGNORE_LABEL });
  for (const object of annotation.data.objects) {
    if (object.classId !== null && object.classId >= numClasses) {
      throw new PermanentError("unknown_class", `item ${id}: object ${object.id} has class id ${object.classId}, the dataset has ${numClasses} classes`);
    }
  }
  return { width, height, planes, labels };
}
