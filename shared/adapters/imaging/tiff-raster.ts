/**
 * Opens a (Geo)TIFF from a byte source and reads selected bands into one typed array each.
 *
 * The file is read by ranges: the header and tags are parsed by `tiff-ifd.ts` (or, for what it
 * declines and for every layout but the fast one, by geotiff.js, loaded only then) through reads
 * that refuse oversized requests, and strips or tiles are fetched one by one. Before anything large is allocated,
 * the strip/tile table is checked against the file (every block inside it, plausible sizes) and
 * the memory the read will take (band arrays, blocks in flight, plus what the caller will add) is
 * checked against `maxDecodeBytes`.
 *
 * geotiff.js is the reader for every layout, but its `readRasters` converts each sample through a
 * DataView call, about 0.35 s for a 4-band 1024² float32 deflate GeoTIFF. So the common layout
 * (striped, pixel-interleaved, little-endian, uncompressed or deflate, no predictor, one sample
 * type: what GDAL writes by default) takes a fast path: strips inflate in parallel on Node's zlib
 * thread pool and are de-interleaved through typed array views. Tiled, band-interleaved, LZW,
 * PackBits, predictor and big-endian files read through geotiff.js, a few rows of blocks at a time,
 * with the bounded decoders of `tiff-decoders.ts`.
 *
 * Every failure caused by the file's bytes becomes a PermanentError (`corrupt_tiff` unless a more
 * precise code applies).
 */
import type { GeoTIFF, GeoTIFFImage } from "geotiff";
import { NORMALISE_LIMIT_DEFAULTS } from "../../config/schema.ts";
import { PermanentError } from "../../errors.ts";
import type { ByteSource, NormaliseLimits } from "../../ports.ts";
import { memorySource } from "./byte-source.ts";
import { bandArray, blockTable, corruptTiff, fastLayout, readStrips, readWithGeotiff, SUPPORTED_COMPRESSIONS, type BandSamples, type Header, type SampleArray } from "./tiff-blocks.ts";
import { readFirstIfd, type TiffImage } from "./tiff-ifd.ts";

export { corruptTiff, type BandSamples, type SampleArray };

/** Matches libuv's default thread pool (4), which runs zlib's asynchronous inflates. */
const STRIPS_IN_FLIGHT = 4;
/** Strips in flight hold at most about this much, unless one strip alone is larger. */
const IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** geotiff.js reads this many bytes of decoded blocks per call (at least one row of blocks). */
const WINDOW_BYTES = 32 * 1024 * 1024;

export interface TiffRaster {
  width: number;
  height: number;
  bandCount: number;
  /** Bits per sample of the first band; `uniform` says whether every band shares it and the format. */
  bitsPerSample: number;
  /** TIFF SampleFormat: 1 unsigned integer, 2 signed integer, 3 floating point. */
  sampleFormat: number;
  uniform: boolean;
  /** TIFF PhotometricInterpretation (1 BlackIsZero, 2 RGB, 3 palette, 6 YCbCr …). */
  photometric: number | undefined;
  /** TIFF Compression (1 none, 5 LZW, 7 JPEG, 8 deflate …). */
  compression: number;
  /** The GDAL_NODATA tag, parsed; null when absent or unreadable. */
  nodata: number | null;
  /** Bytes per sample of the array each band decodes into. */
  sampleBytes: readonly number[];
  /**
   * Checks the strip/tile table and that reading `bands` plus `reserveBytes` (what the caller
   * allocates besides the band arrays) fits `maxDecodeBytes`; returns the read itself.
   */
  planRead(bands: readonly number[], reserveBytes: number): Promise<() => Promise<BandSamples[]>>;
  /** Reads the given 0-based bands, each as one array of the file's sample type. */
  readBands(bands: readonly number[], reserveBytes?: number): Promise<SampleArray[]>;
  /** Bytes of the file this process holds in memory for the decode (an inflated zip entry), else 0. */
  heldBytes: number;
  /** Lets go of the file's bytes when they are held in memory (an inflated entry); reads after it fail. */
  release(): void;
}

/** The array element size geotiff.js (or the fast path) decodes a sample of this type into. */
function sampleBytesOf(bits: number, format: number): number {
  if (format === 3) return bits <= 32 ? 4 : 8;
  return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8;
}

export async function openTiff(input: ByteSource | Uint8Array, limits: Pick<NormaliseLimits, "maxDecodeBytes"> = NORMALISE_LIMIT_DEFAULTS): Promise<TiffRaster> {
  const source = input instanceof Uint8Array ? memorySource(input) : input;
  let image: TiffImage;
  // Set when geotiff.js opened the file: every layout but the fast one reads through it.
  let geotiffImage: GeoTIFFImage | null = null;
  let header: Header & { bandCount: number; photometric: number | undefined };
  try {
    const own = await readFirstIfd(source, limits.maxDecodeBytes);
    const ownHeader = own && (await readHeader(own));
    if (own && ownHeader && fastLayout(own, ownHeader)) {
      image = own;
      header = ownHeader;
    } else {
      geotiffImage = await openWithGeotiff(source, limits.maxDecodeBytes);
      image = geotiffImage;
      header = await readHeader(geotiffImage);
    }
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    throw corruptTiff(`cannot parse the header or first image directory (${(err as Error).message})`, err);
  }
  const { width, height, bandCount, bits, formats, uniform, photometric, compression, nodata, sampleBytes } = header;
  const badBits = bits.find((b) => !(b >= 1 && b <= 64));
  if (badBits !== undefined) throw corruptTiff(`bits per sample ${badBits} is not between 1 and 64`);

  const planRead = async (bands: readonly number[], reserveBytes: number) => {
    try {
      return await plan(source, image, geotiffImage, header, bands, reserveBytes, limits.maxDecodeBytes);
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      throw corruptTiff(`the strip or tile table is damaged (${(err as Error).message})`, err);
    }
  };
  return {
    width,
    height,
    bandCount,
    bitsPerSample: bits[0]!,
    sampleFormat: formats[0]!,
    uniform,
    photometric,
    compression,
    nodata,
    sampleBytes,
    planRead,
    async readBands(bands, reserveBytes = 0) {
      return (await (await planRead(bands, reserveBytes))()).map((band) => bandArray(band, width * height));
    },
    heldBytes: source.release ? source.size : 0,
    release: () => source.release?.(),
  };
}

/** geotiff.js, loaded on first use, with the bounded block decoders registered. */
async function openWithGeotiff(source: ByteSource, maxRead: number): Promise<GeoTIFFImage> {
  const [{ GeoTIFF }] = await Promise.all([import("geotiff"), import("./tiff-decoders.ts")]);
  return (await GeoTIFF.fromSource(geotiffSource(source, maxRead))).getImage();
}

async function readHeader(image: TiffImage): Promise<Header & { bandCount: number; photometric: number | undefined }> {
  const directory = image.fileDirectory;
  const bandCount = image.getSamplesPerPixel();
  const bits = toNumbers(await directory.loadValue("BitsPerSample"), bandCount, 1);
  const formats = toNumbers(await directory.loadValue("SampleFormat"), bandCount, 1);
  return {
    width: image.getWidth(),
    height: image.getHeight(),
    bandCount,
    bits,
    formats,
    uniform: bits.every((b) => b === bits[0]) && formats.every((f) => f === formats[0]),
    photometric: (await directory.loadValue("PhotometricInterpretation")) as number | undefined,
    compression: Number((await directory.loadValue("Compression")) ?? 1),
    nodata: parseGdalNodata(await directory.loadValue("GDAL_NODATA")),
    sampleBytes: bits.map((b, k) => sampleBytesOf(b, formats[k]!)),
    rowsPerStrip: Number((await directory.loadValue("RowsPerStrip")) ?? 0),
    predictor: Number((await directory.loadValue("Predictor")) ?? 1),
  };
}

/**
 * A geotiff.js source over a ByteSource. Reads are clamped to the file; a single read larger than
 * the decode budget (a tag claiming billions of values, a monstrous strip) is refused outright.
 * Each slice is copied into its own ArrayBuffer, as geotiff.js keeps and views them.
 */
function geotiffSource(source: ByteSource, maxRead: number): Parameters<typeof GeoTIFF.fromSource>[0] {
  const fetchSlice = async (slice: { offset: number; length: number }): Promise<ArrayBuffer> => {
    const length = Math.min(slice.length, source.size - slice.offset);
    if (!(slice.offset >= 0) || !(length > 0)) return new ArrayBuffer(0);
    if (length > maxRead) {
      throw new PermanentError("decode_too_large", `the TIFF asks to read ${length} bytes at once (a tag or a strip), above MAX_DECODE_BYTES=${maxRead}`);
    }
    return new Uint8Array(await source.read(slice.offset, length)).buffer;
  };
  return {
    fileSize: source.size,
    fetchSlice: async (slice: { offset: number; length: number }) => ({ ...slice, data: await fetchSlice(slice) }),
    fetch: async (slices: { offset: number; length: number }[]) => Promise.all(slices.map(fetchSlice)),
    close: async () => undefined,
  };
}

/** GDAL writes nodata as text: "-9999", "nan", "inf"; an unparseable value counts as absent. */
export function parseGdalNodata(raw: unknown): number | null {
  if (typeof raw !== "string") return null;
  const text = raw.replace(/\0/g, "").trim().toLowerCase();
  if (text === "") return null;
  if (text === "nan" || text === "-nan") return NaN;
  if (text === "inf" || text === "+inf" || text === "infinity") return Infinity;
  if (text === "-inf" || text === "-infinity") return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

function toNumbers(value: unknown, count: number, fallback: number): number[] {
  const list = value === undefined || value === null ? [] : typeof value === "number" ? [value] : Array.from(value as ArrayLike<number>);
  return Array.from({ length: count }, (_, k) => Number(list[k] ?? list[0] ?? fallback));
}

async function plan(
  source: ByteSource,
  image: TiffImage,
  geotiffImage: GeoTIFFImage | null,
  header: Header,
  bands: readonly number[],
  reserveBytes: number,
  maxDecodeBytes: number,
): Promise<() => Promise<BandSamples[]>> {
  const { width, height, compression } = header;
  const compressionName = SUPPORTED_COMPRESSIONS.get(compression);
  if (compressionName === undefined) {
    throw new PermanentError("unsupported_tiff", `TIFF compression ${compression} is not supported for products; write it uncompressed or with DEFLATE, LZW or PackBits`);
  }
  const pixels = width * height;
  const arrays = bands.reduce((sum, band) => sum + pixels * header.sampleBytes[band]!, 0);
  const mb = (n: number) => `${Math.ceil(n / 1024 / 1024)} MiB`;
  const tooLarge = (total: number, blocks: number) =>
    new PermanentError(
      "decode_too_large",
      `decoding ${bands.length} band${bands.length === 1 ? "" : "s"} of this ${width}×${height} raster needs about ${mb(total)} ` +
        `(band arrays ${mb(arrays)}, strips/tiles ${mb(blocks)}, besides them at most ${mb(reserveBytes)} of inflated entry or outputs), above MAX_DECODE_BYTES=${maxDecodeBytes}`,
    );
  // The arrays and outputs alone decide most refusals, before the block table is even loaded.
  if (arrays + reserveBytes > maxDecodeBytes) throw tooLarge(arrays + reserveBytes, 0);
  const table = await blockTable(source, image, header);
  const fast = fastLayout(image, header);

  let blocks: number;
  let inFlight = 1;
  let windowBlockRows = 1;
  // Only the fast layout is ever kept on tiff-ifd.ts's directory; the rest comes from geotiff.js.
  if (!fast && geotiffImage === null) throw new Error("a layout geotiff.js must read was opened without it");
  if (fast) {
    const perStrip = table.rawBytes + table.maxCount;
    inFlight = Math.max(1, Math.min(STRIPS_IN_FLIGHT, table.down, Math.floor(IN_FLIGHT_BYTES / perStrip)));
    blocks = inFlight * perStrip;
  } else {
    const planes = image.planarConfiguration === 2 ? bands.length : 1;
    const perBlockRow = table.across * planes * (2 * table.rawBytes + table.maxCount);
    windowBlockRows = Math.max(1, Math.floor(WINDOW_BYTES / perBlockRow));
    const windowArrays = width * Math.min(height, windowBlockRows * table.blockHeight) * bands.reduce((sum, band) => sum + header.sampleBytes[band]!, 0);
    blocks = windowBlockRows * perBlockRow + windowArrays;
  }
  const total = arrays + blocks + reserveBytes;
  if (total > maxDecodeBytes) throw tooLarge(total, blocks);
  return async () => {
    try {
      return fast ? await readStrips(source, fast, table, header, bands, inFlight) : await readWithGeotiff(geotiffImage!, header, table, bands, windowBlockRows);
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      throw corruptTiff(`pixel data is damaged or truncated (${(err as Error).message})`, err);
    }
  };
}

