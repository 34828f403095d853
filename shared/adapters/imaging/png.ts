/**
 * Plain images (PNG, JPEG, 8-bit TIFF) decoded through sharp (libvips) and written as RGB PNG.
 * sharp is imported when a plain image arrives, not when this module loads: a GeoTIFF product
 * never needs libvips (its PNGs are written by ./png-encode.ts).
 */
import { PermanentError } from "../../errors.ts";
import { bandStatistics, type BandStats } from "../../core/drift/stats.ts";
import type { NormaliseLimits } from "../../ports.ts";
import { encodeRawPng } from "./png-encode.ts";

export interface PlainImagePng {
  /** Null with `output: "raw"`: `rgb` holds the samples instead. */
  png: Buffer | null;
  rgb?: Uint8Array;
  width: number;
  height: number;
  /** Channels of the source image (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA/CMYK …). */
  sourceChannels: number;
  warnings: string[];
  /** Per-channel statistics of the RGB output (the input drift features). */
  bandStats: { red: BandStats; green: BandStats; blue: BandStats };
}

export interface PlainImageOptions {
  limits: Pick<NormaliseLimits, "maxRasterPixels" | "maxDecodeBytes">;
  singleValueImages: "warn" | "fail";
  output?: "png" | "raw";
}

/**
 * Re-encodes a PNG, JPEG or 8-bit TIFF as an RGB PNG: EXIF orientation applied (annotators must
 * see the image upright, and labels refer to these pixels), alpha dropped, grey expanded to RGB,
 * 16-bit samples reduced to 8.
 *
 * The header's dimensions are checked against the limits before decoding (a 40-byte PNG can claim
 * 200 000² pixels). A fully transparent image has no valid pixel and is refused; one whose visible
 * pixels are all one colour gets a `single_value` warning (or is refused).
 */
export async function reencodeAsRgbPng(input: Uint8Array, what: "image" | "tiff", options: PlainImageOptions): Promise<PlainImagePng> {
  const code = what === "tiff" ? "corrupt_tiff" : "corrupt_image";
  const noun = what === "tiff" ? "TIFF" : "image";
  const { limits } = options;
  const { default: sharp } = await import("sharp");
  const failed = (err: unknown) => new PermanentError(code, `cannot decode the ${noun}: ${(err as Error).message}`, { cause: err });
  const metadata = await sharp(input, { limitInputPixels: false })
    .metadata()
    .catch((err: unknown) => {
      throw failed(err);
    });
  const { width = 0, height = 0 } = metadata;
  if (width < 1 || height < 1) throw new PermanentError(code, `cannot decode the ${noun}: it declares ${width}×${height} pixels`);
  const pixels = width * height;
  if (pixels > limits.maxRasterPixels) {
    throw new PermanentError("image_too_large", `the ${noun} is ${width}×${height} pixels; at most MAX_RASTER_PIXELS=${limits.maxRasterPixels} pixels are supported`);
  }
  const channels = metadata.hasAlpha ? 4 : 3;
  // libvips' decoded copy (16-bit at worst), our 8-bit copy, the RGB buffer and its PNG.
  const decodeBytes = pixels * (channels * 2 + channels + 3 + 3);
  if (decodeBytes > limits.maxDecodeBytes) {
    throw new PermanentError("decode_too_large", `decoding this ${width}×${height} ${noun} needs about ${Math.ceil(decodeBytes / 1024 ** 2)} MiB, above MAX_DECODE_BYTES=${limits.maxDecodeBytes}`);
  }
  const { data, info } = await sharp(input, { failOn: "error", limitInputPixels: limits.maxRasterPixels })
    .rotate()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => {
      throw failed(err);
    });
  if (info.channels !== 3 && info.channels !== 4) throw new PermanentError(code, `cannot decode the ${noun}: decoded to ${info.channels} channels, expected 3 or 4`);
  const { rgb, valid, flat } = visiblePixels(data, info.width * info.height, info.channels);
  if (valid === 0) throw new PermanentError("no_valid_pixels", `no valid pixel: every pixel of the ${noun} is fully transparent`);
  const warnings: string[] = [];
  if (flat) {
    const message = `every visible pixel of the ${noun} has the colour rgb(${flat.join(", ")}): the image is flat`;
    if (options.singleValueImages === "fail") throw new PermanentError("single_value", message);
    warnings.push(`single_value: ${message}`);
  }
  const png = options.output === "raw" ? null : await encodeRawPng(rgb, info.width, info.height, 3);
  const n = info.width * info.height;
  const bandStats = { red: bandStatistics(rgb, 3, 0, n, null), green: bandStatistics(rgb, 3, 1, n, null), blue: bandStatistics(rgb, 3, 2, n, null) };
  return {
    png, width: info.width, height: info.height, sourceChannels: metadata.channels ?? info.channels, warnings, bandStats, ...(png ? {} : { rgb }),
  };
}

/** The RGB samples, how many pixels are not fully transparent, and their colour if they share one. */
function visiblePixels(data: Uint8Array, pixels: number, channels: 3 | 4): { rgb: Uint8Array; valid: number; flat: [number, number, number] | null } {
  const rgb = channels === 3 ? data : new Uint8Array(pixels * 3);
  let valid = 0;
  let first = -1;
  let same = true;
  for (let i = 0, s = 0, o = 0; i < pixels; i++, s += channels, o += 3) {
    if (channels === 4) {
      rgb[o] = data[s]!;
      rgb[o + 1] = data[s + 1]!;
      rgb[o + 2] = data[s + 2]!;
      if (data[s + 3] === 0) continue;
    }
    valid++;
    if (first < 0) first = s;
    else if (same && (data[s] !== data[first] || data[s + 1] !== data[first + 1] || data[s + 2] !== data[first + 2])) same = false;
  }
  const flat: [number, number, number] | null = valid > 0 && same ? [data[first]!, data[first + 1]!, data[first + 2]!] : null;
  return { rgb, valid, flat };
}
