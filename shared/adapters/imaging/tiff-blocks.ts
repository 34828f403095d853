/**
 * Strips and tiles: the block table checked against the file, and the two readers (the fast path
 * for GDAL's default layout, geotiff.js a few rows of blocks at a time for everything else).
 */
import { endianness } from "node:os";
import { promisify } from "node:util";
import { inflate } from "node:zlib";
import type { GeoTIFFImage, TypedArray } from "geotiff";
import { PermanentError } from "../../errors.ts";
import type { ByteSource } from "../../ports.ts";
import type { TiffImage } from "./tiff-ifd.ts";

const inflateAsync = promisify(inflate);

export interface BlockParameters {
  tileWidth: number;
  tileHeight: number;
  planarConfiguration: number;
  bitsPerSample: number[];
  predictor: number;
}

/** Compressions read by the product path: none, LZW, deflate, Adobe deflate, PackBits. */
export const SUPPORTED_COMPRESSIONS: ReadonlyMap<number, string> = new Map([
  [1, "none"],
  [5, "LZW"],
  [8, "deflate"],
  [32946, "deflate"],
  [32773, "PackBits"],
]);

/** The bytes one decoded strip or tile holds (all samples for chunky, one for planar data). */
export function blockBytes(p: Pick<BlockParameters, "tileWidth" | "tileHeight" | "planarConfiguration" | "bitsPerSample">): number {
  const bits = p.planarConfiguration === 2 ? Math.max(...p.bitsPerSample) : p.bitsPerSample.reduce((a, b) => a + b, 0);
  return Math.ceil((p.tileWidth * bits) / 8) * p.tileHeight;
}


export type SampleArray = TypedArray;

/** Pixels [firstPixel, firstPixel + pixels) of one band: data[start], data[start + stride], … */
export interface SampleRun {
  data: SampleArray;
  start: number;
  stride: number;
  firstPixel: number;
  pixels: number;
}

/** One band's samples, every pixel once, in runs (a band array is one run of stride 1). */
export type BandSamples = readonly SampleRun[];

export function wholeBand(data: SampleArray): BandSamples {
  return [{ data, start: 0, stride: 1, firstPixel: 0, pixels: data.length }];
}

/** The band as one array of `pixels` samples of its type (tests and small consumers). */
export function bandArray(band: BandSamples, pixels: number): SampleArray {
  if (band.length === 1 && band[0]!.stride === 1 && band[0]!.data.length === pixels) return band[0]!.data;
  const out = new (band[0]!.data.constructor as new (length: number) => SampleArray)(pixels);
  for (const { data, start, stride, firstPixel, pixels: n } of band) {
    for (let i = 0, s = start; i < n; i++, s += stride) out[firstPixel + i] = data[s]!;
  }
  return out;
}

/** More strips or tiles than any sane layout (a 10980² image in one-row strips has 10980). */
const MAX_BLOCKS = 1 << 20;

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

export interface Header {
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
export interface BlockTable {
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

export async function blockTable(source: ByteSource, image: TiffImage, header: Header): Promise<BlockTable> {
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

export interface FastLayout {
  ArrayType: (typeof ARRAY_TYPES)[string];
  bytesPerSample: number;
  deflate: boolean;
}

export function fastLayout(image: TiffImage, header: Header): FastLayout | null {
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

/**
 * The fast path. When every sample of a pixel is read (the common case: RGB and NIR of a 4-band
 * product), the decoded strips are kept and each band is a run per strip over them, with no copy.
 * Otherwise the wanted samples are copied into band arrays, so unread bands are not held.
 */
export async function readStrips(
  source: ByteSource, layout: FastLayout, table: BlockTable, header: Header, bands: readonly number[], inFlight: number,
): Promise<BandSamples[]> {
  const { width, height, nodata } = header;
  const samples = header.bits.length;
  const { ArrayType, bytesPerSample } = layout;
  const { blockHeight: rowsPerStrip, offsets, counts, down: strips } = table;
  const inPlace = new Set(bands).size === samples;
  const out = inPlace ? [] : bands.map(() => new ArrayType(new ArrayBuffer(width * height * bytesPerSample), 0, width * height));
  const runs: SampleRun[][] = inPlace ? bands.map(() => new Array<SampleRun>(strips)) : [];

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
      if (inPlace) {
        // A sparse strip reads as nodata, as GDAL reads it.
        runs[k]![strip] = data
          ? { data, start: band, stride: samples, firstPixel, pixels }
          : { data: new ArrayType(new ArrayBuffer(pixels * bytesPerSample), 0, pixels).fill(nodata ?? 0), start: 0, stride: 1, firstPixel, pixels };
      } else if (data) {
        copySamples(data, samples, band, out[k]!, firstPixel, pixels);
      } else {
        out[k]!.fill(nodata ?? 0, firstPixel, firstPixel + pixels);
      }
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
  return inPlace ? runs : out.map(wholeBand);
}

/**
 * Copies sample `band` of `pixels` pixel-interleaved pixels into `target` from `offset` on. Its
 * cost in a cold process is the first touch of the fresh band arrays (page faults), not the loop:
 * integer views or per-type loops measured the same.
 */
function copySamples(source: SampleArray, samples: number, band: number, target: SampleArray, offset: number, pixels: number): void {
  if (samples === 1) {
    target.set(source.subarray(0, pixels) as never, offset);
    return;
  }
  for (let p = 0, s = band; p < pixels; p++, s += samples) target[offset + p] = source[s]!;
}

/** geotiff.js reads every block of a window at once: a few rows of blocks per call bound that. */
export async function readWithGeotiff(image: GeoTIFFImage, header: Header, table: BlockTable, bands: readonly number[], windowBlockRows: number): Promise<BandSamples[]> {
  const { width, height } = header;
  const rowsPerWindow = windowBlockRows * table.blockHeight;
  let out: SampleArray[] | null = null;
  for (let top = 0; top < height; top += rowsPerWindow) {
    const bottom = Math.min(height, top + rowsPerWindow);
    const part = Array.from((await image.readRasters({ window: [0, top, width, bottom], samples: [...bands], interleave: false })) as ArrayLike<SampleArray>);
    out ??= part.map((array) => new (array.constructor as new (length: number) => SampleArray)(width * height));
    part.forEach((array, k) => out![k]!.set(array as never, top * width));
  }
  return (out ?? []).map(wholeBand);
}
