/**
 * The Normaliser port: turns an upload into what annotators see.
 *
 * - a product zip (any depth, largest `.tif`/`.tiff` inside) or a multi-band / non-8-bit GeoTIFF
 *   → `<product>_rgb.png`, `<product>_nir.png` and a nodata mask, stretched to 8 bits;
 * - a PNG, JPEG or plain 8-bit TIFF → one RGB PNG.
 *
 * The format comes from the leading bytes, never from the file name; the name only picks the
 * product name and the wording of an error. Every problem with the input is a PermanentError with
 * its own code; nothing the input does lets a raw exception escape.
 */
import { z } from "zod";
import { PermanentError } from "../../errors.ts";
import type { NormaliseOptions, NormalisedOutput, Normaliser } from "../../ports.ts";
import { reencodeAsRgbPng } from "./png.ts";
import { normaliseProduct } from "./product.ts";
import { openTiff, type TiffRaster } from "./tiff-raster.ts";
import { listZipEntries, readZipEntry, type ZipEntry } from "./zip-reader.ts";

export type DetectedFormat = "zip" | "tiff" | "png" | "jpeg";

/** Recognises the formats we accept from their magic bytes. */
export function detectFormat(bytes: Uint8Array): DetectedFormat | null {
  const starts = (...signature: number[]) => signature.every((b, i) => bytes[i] === b);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) return "zip"; // PK: local header / empty archive
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff"; // II*\0 / MM\0*
  if (starts(0x49, 0x49, 0x2b, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2b)) return "tiff"; // BigTIFF
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  return null;
}

const Band = z.number().int().min(1, "bands are numbered from 1");
const OptionsSchema = z.object({
  rgbBands: z.tuple([Band, Band, Band]),
  nirBand: Band.nullable(),
  stretchPercentiles: z
    .tuple([z.number().min(0).max(100), z.number().min(0).max(100)])
    .refine(([lo, hi]) => lo < hi, "the low percentile must be below the high one")
    .nullable(),
  nodataValue: z.union([z.number(), z.nan()]).nullable(),
});

export function createNormaliser(): Normaliser {
  return {
    async normalise(input, fileName, options) {
      const parsed = OptionsSchema.safeParse(options);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new PermanentError("bad_options", `invalid normalise options: ${issue?.path.join(".")}: ${issue?.message}`);
      }
      return normaliseBytes(input, fileName, parsed.data as NormaliseOptions);
    },
  };
}

async function normaliseBytes(input: Uint8Array, fileName: string, options: NormaliseOptions): Promise<NormalisedOutput> {
  const displayName = baseName(fileName) || "upload";
  if (input.length === 0) throw new PermanentError("empty_object", `${displayName} is empty (0 bytes)`);
  const format = detectFormat(input);
  switch (format) {
    case "zip": {
      const { tiff, entryName } = await extractGeoTiff(input, displayName);
      return normaliseTiff(tiff, stem(entryName) || stem(displayName) || "product", options);
    }
    case "tiff":
      return normaliseTiff(input, stem(displayName) || "product", options);
    case "png":
    case "jpeg": {
      const image = await reencodeAsRgbPng(input, "image");
      return plainOutput(stem(displayName) || "image", image.png, image.width, image.height, image.sourceChannels);
    }
    case null:
      throw unrecognised(input, displayName);
  }
}

/** Unknown leading bytes: the file name only chooses which complaint is most helpful. */
function unrecognised(input: Uint8Array, displayName: string): PermanentError {
  const head = Array.from(input.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  const extension = displayName.toLowerCase().split(".").pop();
  if (displayName.includes(".") && extension === "zip") {
    return new PermanentError("corrupt_zip", `${displayName} is named .zip but is not a zip archive (it starts with ${head}, not PK 03 04)`);
  }
  if (displayName.includes(".") && (extension === "tif" || extension === "tiff")) {
    return new PermanentError("corrupt_tiff", `${displayName} is named .${extension} but is not a TIFF (it starts with ${head})`);
  }
  if (displayName.includes(".") && (extension === "png" || extension === "jpg" || extension === "jpeg")) {
    return new PermanentError("corrupt_image", `${displayName} is named .${extension} but its content is not ${extension === "png" ? "a PNG" : "a JPEG"} (it starts with ${head})`);
  }
  return new PermanentError("unsupported_format", `${displayName}: unrecognised content (starts with ${head}); expected a product zip, a GeoTIFF, a PNG or a JPEG`);
}

async function extractGeoTiff(zip: Uint8Array, displayName: string): Promise<{ tiff: Uint8Array; entryName: string }> {
  const entries = listZipEntries(zip);
  const tiffs = entries.filter(isGeoTiffEntry);
  if (tiffs.length === 0) {
    const names = entries.filter((e) => !e.isDirectory).map((e) => e.name);
    const shown = names.length === 0 ? "no files" : `${names.slice(0, 5).join(", ")}${names.length > 5 ? ` and ${names.length - 5} more` : ""}`;
    throw new PermanentError("no_geotiff", `${displayName} holds no .tif/.tiff file (found ${shown})`);
  }
  // Products sometimes carry preview or quality TIFFs beside the image: the image is the largest.
  const chosen = tiffs.reduce((best, entry) => (entry.size > best.size ? entry : best));
  return { tiff: await readZipEntry(zip, chosen), entryName: chosen.name };
}

function isGeoTiffEntry(entry: ZipEntry): boolean {
  const name = baseName(entry.name);
  // Skip macOS resource forks (`__MACOSX/…/._x.tif`), which share the name but hold no image.
  return !entry.isDirectory && /\.tiff?$/i.test(name) && !name.startsWith("._") && !entry.name.startsWith("__MACOSX/");
}

async function normaliseTiff(bytes: Uint8Array, productName: string, options: NormaliseOptions): Promise<NormalisedOutput> {
  const raster = await openTiff(bytes);
  if (isPlainImage(raster)) {
    const image = await reencodeAsRgbPng(bytes, "tiff");
    return plainOutput(productName, image.png, image.width, image.height, raster.bandCount);
  }
  return normaliseProduct(raster, productName, options);
}

/**
 * A TIFF is a plain picture when every sample is 8-bit unsigned and it is grey (one band), a
 * palette, or declares itself RGB(A). An 8-bit 4-band file with BlackIsZero photometry is a
 * B,G,R,NIR product, not RGBA, so it stays a product.
 */
function isPlainImage(raster: TiffRaster): boolean {
  if (!raster.uniform || raster.bitsPerSample !== 8 || raster.sampleFormat !== 1) return false;
  if (raster.bandCount === 1 || raster.photometric === 3) return true;
  return (raster.bandCount === 3 || raster.bandCount === 4) && (raster.photometric === 2 || raster.photometric === 6);
}

function plainOutput(name: string, png: Buffer, width: number, height: number, bandCount: number): NormalisedOutput {
  return { kind: "image", productName: name, width, height, images: [{ role: "image", png }], nodataMask: null, nodataPixels: 0, bandCount };
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? "";
}

/** `a/b/S2A_X.tif` → `S2A_X`; `scene.TIFF` → `scene`. */
function stem(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}
