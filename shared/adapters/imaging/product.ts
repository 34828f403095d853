/**
 * A multi-band (Geo)TIFF product → RGB PNG + NIR PNG (+ nodata mask) for annotators.
 *
 * Size, band count and the memory of the decode are checked before any pixel is read; an image with
 * no valid pixel is refused, and one whose valid pixels hold a single value in every output band
 * gets a `single_value` warning (or is refused, with `singleValueImages: "fail"`).
 */
import { PermanentError } from "../../errors.ts";
import type { NormaliseLimits, NormaliseOptions, NormalisedImage, NormalisedOutput } from "../../ports.ts";
import { statsOfHistogram } from "../../core/drift/stats.ts";
import { encodeRawPng } from "./png-encode.ts";
import { buildNodataMask, stretchRange, writeStretched, type StretchRange } from "./stretch.ts";
import type { BandSamples, TiffRaster } from "./tiff-raster.ts";

export type ResolvedOptions = NormaliseOptions & { limits: NormaliseLimits; singleValueImages: "warn" | "fail" };

export async function normaliseProduct(
  raster: TiffRaster, productName: string, options: ResolvedOptions, verify: () => Promise<void> = async () => undefined,
): Promise<NormalisedOutput> {
  const { width, height, bandCount } = raster;
  const { limits } = options;
  if (width < 1 || height < 1) throw new PermanentError("empty_raster", `the GeoTIFF has a zero-size raster (${width}×${height})`);
  if (bandCount > limits.maxRasterBands) {
    throw new PermanentError("too_many_bands", `the GeoTIFF has ${bandCount} bands; at most MAX_RASTER_BANDS=${limits.maxRasterBands} are supported`);
  }
  if (width * height > limits.maxRasterPixels) {
    throw new PermanentError("raster_too_large", `the GeoTIFF is ${width}×${height} pixels; at most MAX_RASTER_PIXELS=${limits.maxRasterPixels} pixels are supported`);
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
  const pixels = width * height;
  const outputChannels = 3 + (options.nirBand === null ? 0 : 1);
  // What is held besides the band arrays, phase by phase (the largest is the reserve): while
  // decoding, an inflated entry (released once decoded); while stretching, the mask and the 8-bit
  // outputs; while encoding, those and each PNG's filtered rows and zlib output (about their size).
  // When the band arrays, blocks in flight and all of that fit MAX_DECODE_BYTES together, each PNG
  // starts on zlib's thread pool as soon as its pixels are final, so the other core compresses
  // while this one stretches; otherwise the band arrays go first, as large products need. So
  // MAX_DECODE_BYTES bounds everything an upload makes ingest hold at once, inflated entry included.
  const outputs = pixels * (1 + outputChannels);
  const bandBytes = distinct.reduce((sum, band) => sum + pixels * raster.sampleBytes[band]!, 0);
  const reserveFor = (early: boolean) => Math.max(raster.heldBytes, early ? 3 * outputs : Math.max(outputs, 3 * outputs - bandBytes));
  let overlap = options.output === "png";
  let read: Awaited<ReturnType<TiffRaster["planRead"]>>;
  try {
    read = await raster.planRead(distinct, reserveFor(overlap));
  } catch (err) {
    if (!overlap || !(err instanceof PermanentError && err.code === "decode_too_large")) throw err;
    overlap = false;
    read = await raster.planRead(distinct, reserveFor(false));
  }
  await verify();
  const arrays = await read();
  // The bands are decoded strips or copies: an inflated entry (up to MAX_INFLATED_BYTES) can go
  // now (uncompressed strips read in place are views into it, and keep it).
  raster.release();
  const bandArray = (oneBased: number): BandSamples => arrays[distinct.indexOf(oneBased - 1)]!;

  const nodata = options.nodataValue ?? raster.nodata;
  const { mask, count: nodataPixels } = buildNodataMask(arrays, nodata, pixels);
  const validCount = pixels - nodataPixels;
  if (validCount === 0) {
    throw new PermanentError(
      "no_valid_pixels",
      `no valid pixel: every pixel of band${distinct.length === 1 ? "" : "s"} ${distinct.map((b) => b + 1).join(", ")} is nodata${nodata === null || Number.isNaN(nodata) ? "" : ` (${nodata})`}, NaN or infinite`,
    );
  }
  const ranges = new Map<number, StretchRange | null>();
  const rangeOf = (oneBased: number) => {
    if (!ranges.has(oneBased)) ranges.set(oneBased, stretchRange(bandArray(oneBased), mask, validCount, options.stretchPercentiles));
    return ranges.get(oneBased)!;
  };
  const warnings: string[] = [];
  const flat = requested.map((band) => ({ band, range: rangeOf(band)! }));
  if (flat.every(({ range }) => range.min === range.max)) {
    const values = [...new Map(flat.map(({ band, range }) => [band, `band ${band} = ${range.min}`])).values()].join(", ");
    const message = `every valid pixel holds the same value in each output band (${values}): the images are flat`;
    if (options.singleValueImages === "fail") throw new PermanentError("single_value", message);
    warnings.push(`single_value: ${message}`);
  }

  const png = options.output === "png";
  const encode = (data: Uint8Array, channels: 1 | 3) => {
    const encoding = encodeRawPng(data, width, height, channels);
    encoding.catch(() => undefined); // awaited below; this only keeps an early throw from orphaning it
    return encoding;
  };
  // Started now when memory allows (see `overlap`), else once the band arrays are gone.
  const encodeEarly = (data: Uint8Array, channels: 1 | 3) => (png && overlap ? encode(data, channels) : null);
  let maskPng = nodataPixels > 0 ? encodeEarly(mask, 1) : null;
  const rgb = new Uint8Array(pixels * 3);
  // Each write also counts its valid pixels' values: the drift statistics below.
  const rgbHistograms = options.rgbBands.map((band, channel) => writeStretched(bandArray(band), mask, rangeOf(band), rgb, channel, 3));
  let rgbPng = encodeEarly(rgb, 3);
  let nir: Uint8Array | null = null;
  let nirHistogram: Float64Array | null = null;
  if (options.nirBand !== null) {
    nir = new Uint8Array(pixels);
    nirHistogram = writeStretched(bandArray(options.nirBand), mask, rangeOf(options.nirBand), nir, 0, 1);
  }
  let nirPng = nir ? encodeEarly(nir, 1) : null;
  // Everything below works on the 8-bit outputs: the band arrays (the largest allocation) go.
  arrays.length = 0;
  if (png && !overlap) {
    maskPng = nodataPixels > 0 ? encode(mask, 1) : null;
    rgbPng = encode(rgb, 3);
    nirPng = nir ? encode(nir, 1) : null;
  }

  // What the model will see, over valid pixels: the input drift features.
  const bandStats = {
    bands: {
      red: statsOfHistogram(rgbHistograms[0]!),
      green: statsOfHistogram(rgbHistograms[1]!),
      blue: statsOfHistogram(rgbHistograms[2]!),
      ...(nirHistogram ? { nir: statsOfHistogram(nirHistogram) } : {}),
    },
    nodataFraction: nodataPixels / pixels,
  };
  if (!png) {
    const raw = {
      rgb: { width, height, channels: 3, data: rgb },
      ...(nir ? { nir: { width, height, channels: 1, data: nir } } : {}),
      nodata: nodataPixels > 0 ? { width, height, channels: 1, data: mask } : null,
    };
    return {
      kind: "product", productName, width, height, images: [], nodataMask: null, nodataPixels, bandCount, bandStats, raw, ...(warnings.length ? { warnings } : {}),
    };
  }

  const [rgbEncoded, nirEncoded, maskEncoded] = await Promise.all([rgbPng!, nirPng, maskPng]);
  const images: NormalisedImage[] = [{ role: "rgb", png: rgbEncoded }];
  if (nirEncoded) images.push({ role: "nir", png: nirEncoded });
  return {
    kind: "product", productName, width, height, images, nodataMask: maskEncoded, nodataPixels, bandCount, bandStats, ...(warnings.length ? { warnings } : {}),
  };
}
