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
 *
 * The input is read by ranges (a zip's directory, one entry; a TIFF's tags and strips), so memory
 * follows the limits in `NormaliseOptions.limits`, not the size or claims of the upload: see
 * `docs/normalise-limits.md`. The normaliser writes nothing anywhere: entry names only name things.
 */
import * as z from "zod";
import { NORMALISE_LIMIT_DEFAULTS } from "../../config/schema.ts";
import { PermanentError } from "../../errors.ts";
import type { ByteSource, NormalisedOutput, Normaliser } from "../../ports.ts";
import { blockCachedSource, memorySource, readExactly } from "./byte-source.ts";
import { reencodeAsRgbPng, type PlainImagePng } from "./png.ts";
import { normaliseProduct, type ResolvedOptions } from "./product.ts";
import { openTiff, type TiffRaster } from "./tiff-raster.ts";
import { openZipEntry } from "./zip-entry.ts";
import { checkArchiveShape, listZipEntries, printable, type ZipEntry } from "./zip-reader.ts";

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
  singleValueImages: z.enum(["warn", "fail"]).default("warn"),
  output: z.enum(["png", "raw"]).default("png"),
  limits: z
    .object({
      maxInflatedBytes: z.number().int().positive(),
      maxRasterPixels: z.number().int().positive(),
      maxRasterBands: z.number().int().positive(),
      maxDecodeBytes: z.number().int().positive(),
    })
    .partial()
    .default({}),
});

export function createNormaliser(): Normaliser {
  return {
    async normalise(input, fileName, options) {
      const parsed = OptionsSchema.safeParse(options);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new PermanentError("bad_options", `invalid normalise options: ${issue?.path.join(".")}: ${issue?.message}`);
      }
      const resolved: ResolvedOptions = { ...(parsed.data as ResolvedOptions), limits: { ...NORMALISE_LIMIT_DEFAULTS, ...parsed.data.limits } };
      // Bytes in memory are read in place; anything else through a small block cache.
      const source = input instanceof Uint8Array ? memorySource(input) : blockCachedSource(input);
      return normaliseSource(source, fileName, resolved);
    },
  };
}

async function normaliseSource(source: ByteSource, fileName: string, options: ResolvedOptions): Promise<NormalisedOutput> {
  const displayName = printable(baseName(fileName)) || "upload";
  if (source.size === 0) throw new PermanentError("empty_object", `${displayName} is empty (0 bytes)`);
  const head = await source.read(0, 8);
  const format = detectFormat(head);
  switch (format) {
    case "zip": {
      const { tiff, entryName, verify } = await extractGeoTiff(source, displayName, options);
      return normaliseTiff(tiff, stem(entryName) || stem(displayName) || "product", options, verify);
    }
    case "tiff":
      return normaliseTiff(source, stem(displayName) || "product", options);
    case "png":
    case "jpeg": {
      const bytes = await holdWhole(source, `${displayName}`, options);
      const image = await reencodeAsRgbPng(bytes, "image", options);
      return plainOutput(stem(displayName) || "image", image);
    }
    case null:
      throw unrecognised(head, displayName);
  }
}

/** Decoders of plain images (libvips) want the whole file: only when it is within the cap. */
async function holdWhole(source: ByteSource, what: string, options: ResolvedOptions): Promise<Uint8Array> {
  if (source.size > options.limits.maxInflatedBytes) {
    throw new PermanentError("image_too_large", `${what} is ${source.size} bytes; images decoded whole may have at most MAX_INFLATED_BYTES=${options.limits.maxInflatedBytes}`);
  }
  return readExactly(source, 0, source.size, (got) => new PermanentError("truncated_object", `${what} ended after ${got} of ${source.size} bytes while being read`));
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

/** Entry names that say "another archive": a product must be uploaded as one zip, not nested. */
const ARCHIVE_NAME = /\.(zip|tar|tgz|gz|bz2|xz|7z|rar|zst)$/i;

async function extractGeoTiff(zip: ByteSource, displayName: string, options: ResolvedOptions): Promise<{ tiff: ByteSource; entryName: string; verify: () => Promise<void> }> {
  const listing = await listZipEntries(zip);
  checkArchiveShape(listing);
  const { entries } = listing;
  const tiffs = entries.filter(isGeoTiffEntry);
  if (tiffs.length === 0) {
    const nested = entries.find((e) => !e.isDirectory && ARCHIVE_NAME.test(e.name));
    if (nested) {
      throw new PermanentError("nested_archive", `${displayName} holds another archive (${printable(nested.name)}) instead of a .tif: upload the inner product itself`);
    }
    const names = entries.filter((e) => !e.isDirectory).map((e) => printable(e.name));
    const shown = names.length === 0 ? "no files" : `${names.slice(0, 5).join(", ")}${names.length > 5 ? ` and ${names.length - 5} more` : ""}`;
    throw new PermanentError("no_geotiff", `${displayName} holds no .tif/.tiff file (found ${shown})`);
  }
  // Products sometimes carry preview or quality TIFFs beside the image: the image is the largest.
  const chosen = tiffs.reduce((best, entry) => (entry.size > best.size ? entry : best));
  const entryName = printable(chosen.name);
  const opened = await openZipEntry(zip, chosen, {
    maxInflatedBytes: options.limits.maxInflatedBytes,
    // Refuse an entry that is not a TIFF from its first bytes, before inflating the rest of it.
    checkHead: (head) => {
      const format = detectFormat(head);
      if (format === "zip") throw new PermanentError("nested_archive", `${displayName}: ${entryName} is itself a zip archive, not a TIFF: upload the inner product itself`);
      if (format !== "tiff") {
        const hex = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
        throw new PermanentError("corrupt_tiff", `${displayName}: ${entryName} is not a TIFF (it starts with ${hex || "nothing"})`);
      }
    },
  });
  return { tiff: opened.source, entryName: chosen.name, verify: opened.verify };
}

function isGeoTiffEntry(entry: ZipEntry): boolean {
  const name = baseName(entry.name);
  // Skip macOS resource forks (`__MACOSX/…/._x.tif`), which share the name but hold no image.
  return !entry.isDirectory && /\.tiff?$/i.test(name) && !name.startsWith("._") && !entry.name.startsWith("__MACOSX/");
}

async function normaliseTiff(source: ByteSource, productName: string, options: ResolvedOptions, verify?: () => Promise<void>): Promise<NormalisedOutput> {
  const raster = await openTiff(source, options.limits);
  if (isPlainImage(raster)) {
    await verify?.();
    const bytes = await holdWhole(source, "the TIFF", options);
    const image = await reencodeAsRgbPng(bytes, "tiff", options);
    return plainOutput(productName, { ...image, sourceChannels: raster.bandCount });
  }
  return normaliseProduct(raster, productName, options, verify);
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

function plainOutput(name: string, image: PlainImagePng): NormalisedOutput {
  const { png, width, height, sourceChannels, warnings, bandStats, rgb } = image;
  return {
    kind: "image", productName: name, width, height, images: png ? [{ role: "image", png }] : [], nodataMask: null, nodataPixels: 0, bandCount: sourceChannels,
    bandStats: { bands: bandStats, nodataFraction: 0 },
    ...(rgb ? { raw: { image: { width, height, channels: 3, data: rgb }, nodata: null } } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
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
