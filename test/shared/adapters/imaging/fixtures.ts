import sharp from "sharp";
import { expect } from "vitest";
import { writeGeoTiff, type GeoTiffSpec } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { makeProductZip } from "../../../../shared/adapters/imaging/product-zip.ts";
import { PermanentError } from "../../../../shared/errors.ts";
import type { DecodedRaster, NormaliseOptions, NormalisedOutput } from "../../../../shared/ports.ts";

export const DEFAULT_OPTIONS: NormaliseOptions = { rgbBands: [3, 2, 1], nirBand: 4, stretchPercentiles: null, nodataValue: null };

export function options(overrides: Partial<NormaliseOptions> = {}): NormaliseOptions {
  return { ...DEFAULT_OPTIONS, ...overrides };
}

/** A product zip `<name>/<name>.tif` around a GeoTIFF written from `spec`. */
export function productZip(name: string, spec: GeoTiffSpec): Uint8Array {
  return makeProductZip(name, writeGeoTiff(spec), { "MTD.xml": "<Product/>" });
}

/**
 * Decodes a PNG keeping its own channel count: `channels` comes from the file's header, and grey
 * files are decoded as grey (sharp 0.35 otherwise expands them to sRGB on raw output).
 */
export async function decode(png: Uint8Array | null | undefined): Promise<DecodedRaster> {
  expect(png).toBeTruthy();
  const { channels } = await sharp(png!).metadata();
  const { data, info } = await sharp(png!)
    .toColourspace(channels === 1 ? "b-w" : "srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(channels);
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}

export function image(output: NormalisedOutput, role: "rgb" | "nir" | "image"): Buffer | undefined {
  return output.images.find((i) => i.role === role)?.png;
}

/** One channel of an interleaved raster as a plain array. */
export function channel(raster: DecodedRaster, c: number): number[] {
  return Array.from({ length: raster.width * raster.height }, (_, i) => raster.data[i * raster.channels + c]!);
}

/** The 8-bit value a linear map lo→0, hi→255 gives (the definition, written independently). */
export function linearByte(value: number, lo: number, hi: number): number {
  if (value <= lo) return 0;
  if (value >= hi) return 255;
  return Math.round(((value - lo) / (hi - lo)) * 255);
}

/** Rejects with a PermanentError carrying `code`; returns it for further checks. */
export async function expectPermanent(promise: Promise<unknown>, code: string): Promise<PermanentError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected PermanentError ${code}`).toBeInstanceOf(PermanentError);
  expect((err as PermanentError).code).toBe(code);
  expect((err as PermanentError).message.length).toBeGreaterThan(10);
  return err as PermanentError;
}
