/**
 * Opens a (Geo)TIFF from a byte source and reads selected bands into one typed array each.
 *
 * The file is read by ranges: geotiff.js parses the header and tags through a source that refuses
 * oversized reads, and strips or tiles are fetched one by one. Before anything large is allocated,
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
import { endianness } from "node:os";
import { promisify } from "node:util";
import { inflate } from "node:zlib";
import { GeoTIFF, type GeoTIFFImage, type TypedArray } from "geotiff";
import { NORMALISE_LIMIT_DEFAULTS } from "../../config/schema.ts";
import { PermanentError } from "../../errors.ts";
import type { ByteSource, NormaliseLimits } from "../../ports.ts";
import { memorySource } from "./byte-source.ts";
import { SUPPORTED_COMPRESSIONS, blockBytes } from "./tiff-decoders.ts";

const inflateAsync = promisify(inflate);

/** Matches libuv's default thread pool (4), which runs zlib's asynchronous inflates. */
const STRIPS_IN_FLIGHT = 4;
/** Strips in flight hold at most about this much, unless one strip alone is larger. */
const IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** geotiff.js reads this many bytes of decoded blocks per call (at least one row of blocks). */
const WINDOW_BYTES = 32 * 1024 * 1024;
/** More strips or tiles than any sane layout (a 10980² image in one-row strips has 10980). */
const MAX_BLOCKS = 1 << 20;

export type SampleArray = TypedArray;

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
  planRead(bands: readonly number[], reserveBytes: number): Promise<() => Promise<SampleArray[]>>;
  /** Reads the given 0-based bands, each into its own array of the file's sample type. */
  readBands(bands: readonly number[], reserveBytes?: number): Promise<SampleArray[]>;
}

export function corruptTiff(message: string, cause?: unknown): PermanentError {
  return new PermanentError("corrupt_tiff", `not a readable TIFF: ${message}`, cause === undefined ? undefined : { cause });
}

const ARRAY_TYPES: Record<string, new (buffer: ArrayBufferLike, byteOffset: number, length: number) => SampleArray> = {
  "1/8": Uint8Array,
  "2/8": Int8Array,
  "1/16": Uint16Array,
  "2/16": Int16Array,
  "1/32": Uint32Array,
  "2/32": Int32Array,
  "3/32": Float32Array,
  "3/64": Float64Array,
};

/** The array element size geotiff.js (or the fast path) decodes a sample of this type into. */
function sampleBytesOf(bits: number, format: number): number {
  if (format === 3) return bits <= 32 ? 4 : 8;
  return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8;
}

export async function openTiff(input: ByteSource | Uint8Array, limits: Pick<NormaliseLimits, "maxDecodeBytes"> = NORMALISE_LIMIT_DEFAULTS): Promise<TiffRaster> {
  const source = input instanceof Uint8Array ? memorySource(input) : input;
  let image: GeoTIFFImage;
  let header: Header & { bandCount: number; photometric: number | undefined };
  try {
    image = await (await GeoTIFF.fromSource(geotiffSource(source, limits.maxDecodeBytes))).getImage();
    header = await readHeader(image);
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    throw corruptTiff(`cannot parse the header or first image directory (${(err as Error).message})`, err);
  }
  const { width, height, bandCount, bits, formats, uniform, photometric, compression, nodata, sampleBytes } = header;
  const badBits = bits.find((b) => !(b >= 1 && b <= 64));
  if (badBits !== undefined) throw corruptTiff(`bits per sample ${badBits} is not between 1 and 64`);

  const planRead = async (bands: readonly number[], reserveBytes: number) => {
    try {
      return await plan(source, image, header, bands, reserveBytes, limits.maxDecodeBytes);
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
      return (await planRead(bands, reserveBytes))();
    },
  };
}

async function readHeader(image: GeoTIFFImage): Promise<Header & { bandCount: number; photometric: number | undefined }> {
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

interface Header {
  width: number;
  height: number;
  bits: number[];
  formats: number[];
  uniform: boolean;
  compression: number;
  nodata: number | null;
  sampleBytes: number[];
  /** 0 when absent (one strip). */
  rowsPerStrip: number;
  predictor: number;
}

/** Where every strip or tile is, checked against the file. */
interface BlockTable {
  tiled: boolean;
  blockWidth: number;
  blockHeight: number;
  /** Blocks across and down one plane. */
  across: number;
  down: number;
  /** Bytes of a full decoded block. */
  rawBytes: number;
  offsets: number[];
  counts: number[];
  maxCount: number;
}

async function plan(
  source: ByteSource, image: GeoTIFFImage, header: Header, bands: readonly number[], reserveBytes: number, maxDecodeBytes: number,
): Promise<() => Promise<SampleArray[]>> {
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
        `(band arrays ${mb(arrays)}, strips/tiles ${mb(blocks)}, outputs ${mb(reserveBytes)}), above MAX_DECODE_BYTES=${maxDecodeBytes}`,
    );
  // The arrays and outputs alone decide most refusals, before the block table is even loaded.
  if (arrays + reserveBytes > maxDecodeBytes) throw tooLarge(arrays + reserveBytes, 0);
  const table = await blockTable(source, image, header);
  const fast = fastLayout(image, header);

  let blocks: number;
  let inFlight = 1;
  let windowBlockRows = 1;
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
      return fast ? await readStrips(source, fast, table, header, bands, inFlight) : await readWithGeotiff(image, header, table, bands, windowBlockRows);
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      throw corruptTiff(`pixel data is damaged or truncated (${(err as Error).message})`, err);
    }
  };
}

async function blockTable(source: ByteSource, image: GeoTIFFImage, header: Header): Promise<BlockTable> {
  const { width, height, bits } = header;
  const directory = image.fileDirectory;
  const tiled = image.isTiled;
  const blockWidth = tiled ? image.getTileWidth() : width;
  const blockHeight = tiled ? image.getTileHeight() : Math.min(height, header.rowsPerStrip || height);
  const kind = tiled ? "tile" : "strip";
  if (!(blockWidth >= 1 && blockHeight >= 1)) throw corruptTiff(`${kind}s of ${blockWidth}×${blockHeight} pixels`);
  const planar = image.planarConfiguration === 2;
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const total = across * down * (planar ? bits.length : 1);
  if (total > MAX_BLOCKS) throw corruptTiff(`${total} ${kind}s; at most ${MAX_BLOCKS} are read`);
  const rawBytes = blockBytes({ tileWidth: blockWidth, tileHeight: blockHeight, planarConfiguration: planar ? 2 : 1, bitsPerSample: bits });

  const offsets = Array.from((await directory.loadValue(tiled ? "TileOffsets" : "StripOffsets")) as ArrayLike<number | bigint>, Number);
  const counts = Array.from((await directory.loadValue(tiled ? "TileByteCounts" : "StripByteCounts")) as ArrayLike<number | bigint>, Number);
  if (offsets.length < total || counts.length < total) throw corruptTiff(`${total} ${kind}s expected, the directory lists ${Math.min(offsets.length, counts.length)}`);

  const compressed = header.compression !== 1;
  const deflate = header.compression === 8 || header.compression === 32946;
  let maxCount = 0;
  for (let k = 0; k < total; k++) {
    const offset = offsets[k]!;
    const count = counts[k]!;
    if (!(offset >= 0 && count >= 0) || offset + count > source.size) {
      throw corruptTiff(`truncated: ${kind} ${k + 1} ends at byte ${offset + count}, the file has ${source.size}`);
    }
    maxCount = Math.max(maxCount, count);
    if (count === 0) continue; // a sparse block: GDAL reads it as nodata
    // The last strip of a plane may be shorter; tiles are always whole.
    const row = Math.floor(k / across) % down;
    const rows = tiled ? blockHeight : Math.min(blockHeight, height - row * blockHeight);
    const needed = (rawBytes / blockHeight) * rows;
    // Stored blocks hold their bytes as they are; deflate expands at most ~1032:1.
    const capacity = !compressed ? count : deflate ? count * 1032 + 64 : Infinity;
    if (capacity < needed) throw corruptTiff(`${kind} ${k + 1} has ${count} bytes, too few for ${needed} bytes of pixels`);
  }
  return { tiled, blockWidth, blockHeight, across, down, rawBytes, offsets, counts, maxCount };
}

interface FastLayout {
  ArrayType: (typeof ARRAY_TYPES)[string];
  bytesPerSample: number;
  deflate: boolean;
}

function fastLayout(image: GeoTIFFImage, header: Header): FastLayout | null {
  const { bits, formats, uniform, compression, predictor } = header;
  const ArrayType = ARRAY_TYPES[`${formats[0]}/${bits[0]}`];
  const eligible =
    uniform &&
    ArrayType !== undefined &&
    !image.isTiled &&
    image.planarConfiguration === 1 &&
    image.littleEndian &&
    endianness() === "LE" &&
    predictor === 1 &&
    [1, 8, 32946].includes(compression);
  return eligible ? { ArrayType, bytesPerSample: bits[0]! / 8, deflate: compression !== 1 } : null;
}

async function readStrips(
  source: ByteSource, layout: FastLayout, table: BlockTable, header: Header, bands: readonly number[], inFlight: number,
): Promise<SampleArray[]> {
  const { width, height, nodata } = header;
  const samples = header.bits.length;
  const { ArrayType, bytesPerSample } = layout;
  const { blockHeight: rowsPerStrip, offsets, counts, down: strips } = table;
  const out = bands.map(() => new ArrayType(new ArrayBuffer(width * height * bytesPerSample), 0, width * height));

  const readStrip = async (stripIndex: number, rows: number): Promise<SampleArray | null> => {
    const offset = offsets[stripIndex]!;
    const count = counts[stripIndex]!;
    if (count === 0) return null;
    const fullBytes = rowsPerStrip * width * samples * bytesPerSample;
    const expected = rows * width * samples * bytesPerSample;
    let raw: Uint8Array = await source.read(offset, count);
    if (raw.length < count) throw corruptTiff(`strip ${stripIndex + 1} is cut short (${raw.length} of ${count} bytes)`);
    if (layout.deflate) {
      try {
        // One output chunk a byte larger than the strip: zlib then returns it without a concat copy.
        raw = await inflateAsync(raw, { maxOutputLength: fullBytes, chunkSize: Math.max(64, fullBytes + 1) });
      } catch (err) {
        throw corruptTiff(`strip ${stripIndex + 1} does not inflate (${(err as Error).message})`, err);
      }
    }
    if (raw.length < expected) throw corruptTiff(`strip ${stripIndex + 1} holds ${raw.length} bytes, ${expected} expected`);
    // Typed views need aligned offsets; uncompressed strips inside the file may not be.
    if (raw.byteOffset % bytesPerSample !== 0) raw = new Uint8Array(raw.subarray(0, expected));
    return new ArrayType(raw.buffer, raw.byteOffset, rows * width * samples);
  };

  const readInto = async (strip: number): Promise<void> => {
    const firstPixel = strip * rowsPerStrip * width;
    const rows = Math.min(rowsPerStrip, height - strip * rowsPerStrip);
    const pixels = rows * width;
    const data = await readStrip(strip, rows);
    bands.forEach((band, k) => {
      if (data) copySamples(data, samples, band, out[k]!, firstPixel, pixels);
      else out[k]!.fill(nodata ?? 0, firstPixel, firstPixel + pixels);
    });
  };

  // A few strips in flight keep zlib's thread pool busy while at most that many inflated strips
  // exist at once (all of them at once would hold the raster twice).
  let next = 0;
  const worker = async () => {
    while (next < strips) await readInto(next++);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(inFlight, strips) }, worker));
  // allSettled, then rethrow: no strip promise is left rejecting after we have given up.
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) throw failure.reason;
  return out;
}

/** Copies sample `band` of `pixels` pixel-interleaved pixels into `target` from `offset` on. */
function copySamples(source: SampleArray, samples: number, band: number, target: SampleArray, offset: number, pixels: number): void {
  for (let p = 0, s = band; p < pixels; p++, s += samples) target[offset + p] = source[s]!;
}

/** geotiff.js reads every block of a window at once: a few rows of blocks per call bound that. */
async function readWithGeotiff(image: GeoTIFFImage, header: Header, table: BlockTable, bands: readonly number[], windowBlockRows: number): Promise<SampleArray[]> {
  const { width, height } = header;
  const rowsPerWindow = windowBlockRows * table.blockHeight;
  let out: SampleArray[] | null = null;
  for (let top = 0; top < height; top += rowsPerWindow) {
    const bottom = Math.min(height, top + rowsPerWindow);
    const part = Array.from((await image.readRasters({ window: [0, top, width, bottom], samples: [...bands], interleave: false })) as ArrayLike<SampleArray>);
    out ??= part.map((array) => new (array.constructor as new (length: number) => SampleArray)(width * height));
    part.forEach((array, k) => out![k]!.set(array as never, top * width));
  }
  return out ?? [];
}
