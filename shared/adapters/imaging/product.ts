/**
 * A multi-band (Geo)TIFF product → RGB PNG + NIR PNG (+ nodata mask) for annotators.
 */
import { PermanentError } from "../../errors.ts";
import type { NormaliseOptions, NormalisedImage, NormalisedOutput } from "../../ports.ts";
import { encodeRawPng } from "./png.ts";
import { buildNodataMask, stretchRange, writeStretched, type StretchRange } from "./stretch.ts";
import type { SampleArray, TiffRaster } from "./tiff-raster.ts";

/**
 * Refuse rasters above this many pixels before allocating anything: 2^27 px covers a full
 * 10980² Sentinel-2 tile; beyond that the function would run out of memory instead of failing
 * with a reason.
 */
export const MAX_PRODUCT_PIXELS = 2 ** 27;

export async function normaliseProduct(raster: TiffRaster, productName: string, options: NormaliseOptions): Promise<NormalisedOutput> {
  const { width, height, bandCount } = raster;
  if (width < 1 || height < 1) throw new PermanentError("empty_raster", `the GeoTIFF has a zero-size raster (${width}×${height})`);
  if (width * height > MAX_PRODUCT_PIXELS) {
    throw new PermanentError("raster_too_large", `the GeoTIFF is ${width}×${height} pixels; at most ${MAX_PRODUCT_PIXELS} pixels are supported`);
  }
  const requested = [...options.rgbBands, ...(options.nirBand === null ? [] : [options.nirBand])];
  const outside = requested.filter((band) => band > bandCount);
  if (outside.length > 0) {
    throw new PermanentError(
      "bad_band_mapping",
      `band ${outside.join(", ")} requested (rgb=${options.rgbBands.join(",")} nir=${options.nirBand ?? "none"}) but the GeoTIFF has ${bandCount} band${bandCount === 1 ? "" : "s"}`,
    );
  }

  // Read each distinct band once (0-based for the reader), even if it feeds several channels.
  const distinct = [...new Set(requested.map((band) => band - 1))];
  const arrays = await raster.readBands(distinct);
  const bandArray = (oneBased: number): SampleArray => arrays[distinct.indexOf(oneBased - 1)]!;

  const pixels = width * height;
  const nodata = options.nodataValue ?? raster.nodata;
  const { mask, count: nodataPixels } = buildNodataMask(arrays, nodata, pixels);
  const validCount = pixels - nodataPixels;
  const ranges = new Map<number, StretchRange | null>();
  const rangeOf = (oneBased: number) => {
    if (!ranges.has(oneBased)) ranges.set(oneBased, stretchRange(bandArray(oneBased), mask, validCount, options.stretchPercentiles));
    return ranges.get(oneBased)!;
  };

  const rgb = new Uint8Array(pixels * 3);
  options.rgbBands.forEach((band, channel) => writeStretched(bandArray(band), mask, rangeOf(band), rgb, channel, 3));
  let nir: Uint8Array | null = null;
  if (options.nirBand !== null) {
    nir = new Uint8Array(pixels);
    writeStretched(bandArray(options.nirBand), mask, rangeOf(options.nirBand), nir, 0, 1);
  }

  // libvips encodes on its own threads: the three PNGs compress in parallel.
  const [rgbPng, nirPng, maskPng] = await Promise.all([
    encodeRawPng(rgb, width, height, 3),
    nir ? encodeRawPng(nir, width, height, 1) : null,
    nodataPixels > 0 ? encodeRawPng(mask, width, height, 1) : null,
  ]);
  const images: NormalisedImage[] = [{ role: "rgb", png: rgbPng }];
  if (nirPng) images.push({ role: "nir", png: nirPng });
  return { kind: "product", productName, width, height, images, nodataMask: maskPng, nodataPixels, bandCount };
}
