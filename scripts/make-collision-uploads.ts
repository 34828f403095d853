/**
 * Uploads that used to collide, for checking item identity by hand and in
 * test/integration/collisions.test.ts:
 *
 * - 7 product zips under different names, each holding `L1B/L1B.tif` (as real products do), with
 *   different pixels;
 * - 6 images whose names sanitise alike or nearly (`scene 1.png`, `scene_1.png`, `scene#1.png`,
 *   `scene%201.png`, `Scene 1.png`, `scene-1.png`), with different pixels and sizes;
 * - one product under two names (same bytes).
 *
 * 15 uploads → 14 annotation tasks and one `duplicate` item.
 *
 *   node --import tsx scripts/make-collision-uploads.ts /tmp/collisions
 *   node bin/mlops.js upload /tmp/collisions/*
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import { sharpCodec } from "../shared/adapters/imaging/codec.ts";

export interface CollisionUpload {
  /** File name (no folder): what `mlops upload` keeps as the object's base name. */
  name: string;
  bytes: Uint8Array;
  /** Width and height annotators must see for this upload. */
  width: number;
  height: number;
  /** Uploads with the same `content` carry the same bytes. */
  content: string;
}

export const COLLIDING_IMAGE_NAMES = ["scene 1.png", "scene_1.png", "scene#1.png", "scene%201.png", "Scene 1.png", "scene-1.png"];

export async function makeCollisionUploads(): Promise<CollisionUpload[]> {
  const uploads: CollisionUpload[] = [];
  for (let i = 0; i < 7; i++) {
    // Sizes differ too, so an image shown for the wrong item is caught by its size alone.
    const width = 24 + i * 4;
    const height = 20 + i * 2;
    const product = makeDemoProduct({ seed: 4100 + i, width, height, name: "L1B" });
    uploads.push({ name: `S2A_MSIL1C_2024010${i}T103021_N0510_R108.zip`, bytes: product.zip, width, height, content: `product-${i}` });
  }
  for (const [i, name] of COLLIDING_IMAGE_NAMES.entries()) {
    const width = 10 + i;
    const height = 8 + i;
    const data = new Uint8Array(width * height * 3).map((_, p) => (p * (7 + i) + i * 31) % 256);
    const png = await sharpCodec.encodePng({ width, height, channels: 3, data });
    uploads.push({ name, bytes: png, width, height, content: `image-${i}` });
  }
  const copied = makeDemoProduct({ seed: 4200, width: 30, height: 26, name: "S2B_MSIL1C_20240201T101019" });
  uploads.push({ name: "S2B_MSIL1C_20240201T101019.zip", bytes: copied.zip, width: 30, height: 26, content: "copied" });
  uploads.push({ name: "S2B_MSIL1C_20240201T101019 (copy).zip", bytes: copied.zip, width: 30, height: 26, content: "copied" });
  return uploads;
}

async function main(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const upload of await makeCollisionUploads()) await writeFile(join(dir, upload.name), upload.bytes);
  process.stdout.write(`wrote 15 uploads to ${dir}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: node --import tsx scripts/make-collision-uploads.ts <folder>\n");
    process.exit(2);
  }
  await main(resolve(dir));
}
