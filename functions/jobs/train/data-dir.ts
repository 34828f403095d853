import { join } from "node:path";
import { assertSafeItemId } from "../../../shared/adapters/datasets/download.ts";

export { assertSafeItemId };

/**
 * The DATA_DIR a trainer receives from the training wrapper (docs/jobs.md "The trainer process"):
 *
 *   DATA_DIR/
 *     manifest.json                 the dataset version's manifest, byte for byte as stored
 *     manifest-pages/<sha256>.json  its pages (dataset-manifest/v3), byte for byte
 *     images/<itemId>/rgb.png       products: RGB and NIR renderings
 *     images/<itemId>/nir.png
 *     images/<itemId>/image.png     plain images
 *     labels/<itemId>.json          canonical annotation (shared/core/annotation/canonical.ts)
 *     nodata/<itemId>.png           8-bit, 255 where the source had no data (only when it had some)
 *     exports/                      COCO JSON (coco.json), YOLO txt (yolo/labels/<itemId>.txt, yolo/data.yaml)
 *                                   and mask PNGs (masks/<itemId>.png, 255 = nodata) of the train items
 *
 * Only items of the `train` split are materialised: evaluation samples stay out of reach of the
 * trainer, so no trainer can tune on the split that decides its promotion. The manifest still lists
 * them (it is the version's identity), without files.
 */
export type ImageRole = "rgb" | "nir" | "image";

export const dataDirPaths = {
  manifest: (dataDir: string) => join(dataDir, "manifest.json"),
  image: (dataDir: string, itemId: string, role: ImageRole) => join(dataDir, "images", assertSafeItemId(itemId), `${role}.png`),
  label: (dataDir: string, itemId: string) => join(dataDir, "labels", `${assertSafeItemId(itemId)}.json`),
  nodata: (dataDir: string, itemId: string) => join(dataDir, "nodata", `${assertSafeItemId(itemId)}.png`),
  exports: (dataDir: string) => join(dataDir, "exports"),
};
