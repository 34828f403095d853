/**
 * Opens a (Geo)TIFF held in memory and reads selected bands into one typed array each.
 *
 * geotiff.js parses the header and tags and is the fallback reader for every layout. Its
 * `readRasters` converts each sample through a DataView call and inflates with pako, about 0.35 s
 * for a 4-band 1024² float32 deflate GeoTIFF, most of the normaliser's budget. So the common layout
 * (striped, pixel-interleaved, little-endian, uncompressed or deflate, no predictor, one sample
 * type — what GDAL writes by default) takes a fast path: strips inflate in parallel on Node's zlib
 * thread pool and are de-interleaved through typed array views. Tiled, band-interleaved, LZW,
 * predictor and big-endian files still read correctly through geotiff.js, just slower.
 *
 * Every failure caused by the file's bytes becomes PermanentError("corrupt_tiff").
 */
import { endianness } from "node:os";
import { promisify } from "node:util";
import { inflate } from "node:zlib";
import { GeoTIFF, type GeoTIFFImage, type TypedArray } from "geotiff";
import { PermanentError } from "../../errors.ts";

const inflateAsync = promisify(inflate);

/** Matches libuv's default thread pool (4), which runs zlib's asynchronous inflates. */
const STRIPS_IN_FLIGHT = 4;

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
  /** The GDAL_NODATA tag, parsed; null when absent or unreadable. */
  nodata: number | null;
  /** Reads the given 0-based bands, each into its own array of the file's sample type. */
  readBands(bands: readonly number[]): Promise<SampleArray[]>;
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

export async function openTiff(bytes: Uint8Array): Promise<TiffRaster> {
  let image: GeoTIFFImage;
  try {
    image = await (await GeoTIFF.fromSource(viewSource(bytes))).getImage();
  } catch (err) {
    throw corruptTiff(`cannot parse the header or first image directory (${(err as Error).message})`, err);
  }
  const directory = image.fileDirectory;
  const width = image.getWidth();
  const height = image.getHeight();
  const bandCount = image.getSamplesPerPixel();
  const bits = toNumbers(directory.getValue("BitsPerSample"), bandCount, 1);
  const formats = toNumbers(directory.getValue("SampleFormat"), bandCount, 1);
  const uniform = bits.every((b) => b === bits[0]) && formats.every((f) => f === formats[0]);
  const photometric = directory.getValue("PhotometricInterpretation") as number | undefined;
  const nodata = parseGdalNodata(directory.getValue("GDAL_NODATA"));

  return {
    width,
    height,
    bandCount,
    bitsPerSample: bits[0]!,
    sampleFormat: formats[0]!,
    uniform,
    photometric,
    nodata,
    async readBands(bands) {
      try {
        const fast = await fastLayout(image, bits[0]!, formats[0]!, uniform);
        return fast ? await readStrips(bytes, image, fast, bands, nodata) : await readWithGeotiff(image, bands);
      } catch (err) {
        if (err instanceof PermanentError) throw err;
        throw corruptTiff(`pixel data is damaged or truncated (${(err as Error).message})`, err);
      }
    },
  };
}

/**
 * A geotiff.js source over bytes we already hold. `fromArrayBuffer` would need the file as its own
 * ArrayBuffer (a 16 MB copy when the TIFF is a view into an inflated zip); this copies only the
 * slices geotiff.js asks for: the header, tag arrays and, off the fast path, strips.
 */
function viewSource(bytes: Uint8Array): Parameters<typeof GeoTIFF.fromSource>[0] {
  const fetchSlice = async (slice: { offset: number; length: number }) => {
    // `new Uint8Array(view)` copies into an exactly-sized buffer; Buffer#slice would share memory.
    const data = new Uint8Array(bytes.subarray(slice.offset, slice.offset + slice.length)).buffer;
    return { ...slice, data };
  };
  return {
    fileSize: bytes.length,
    fetchSlice,
    fetch: async (slices: { offset: number; length: number }[]) => Promise.all(slices.map(async (slice) => (await fetchSlice(slice)).data)),
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

interface FastLayout {
  ArrayType: (typeof ARRAY_TYPES)[string];
  bytesPerSample: number;
  deflate: boolean;
  rowsPerStrip: number;
  offsets: number[];
  counts: number[];
}

async function fastLayout(image: GeoTIFFImage, bits: number, format: number, uniform: boolean): Promise<FastLayout | null> {
  const directory = image.fileDirectory;
  const compression = (directory.getValue("Compression") as number | undefined) ?? 1;
  const predictor = ((await directory.loadValue("Predictor")) as number | undefined) ?? 1;
  const ArrayType = ARRAY_TYPES[`${format}/${bits}`];
  const eligible =
    uniform &&
    ArrayType !== undefined &&
    !image.isTiled &&
    image.planarConfiguration === 1 &&
    image.littleEndian &&
    endianness() === "LE" &&
    predictor === 1 &&
    [1, 8, 32946].includes(compression);
  if (!eligible) return null;
  const height = image.getHeight();
  const rowsPerStrip = Math.min(height, Number(directory.getValue("RowsPerStrip") ?? height) || height);
  const offsets = Array.from((await directory.loadValue("StripOffsets")) as ArrayLike<number | bigint>, Number);
  const counts = Array.from((await directory.loadValue("StripByteCounts")) as ArrayLike<number | bigint>, Number);
  return { ArrayType, bytesPerSample: bits / 8, deflate: compression !== 1, rowsPerStrip, offsets, counts };
}

async function readStrips(bytes: Uint8Array, image: GeoTIFFImage, layout: FastLayout, bands: readonly number[], nodata: number | null): Promise<SampleArray[]> {
  const width = image.getWidth();
  const height = image.getHeight();
  const samples = image.getSamplesPerPixel();
  const { ArrayType, bytesPerSample, rowsPerStrip, offsets, counts } = layout;
  const strips = Math.ceil(height / rowsPerStrip);
  if (offsets.length < strips || counts.length < strips) {
    throw corruptTiff(`${strips} strips expected, the directory lists ${Math.min(offsets.length, counts.length)}`);
  }
  // Check the strip table against the file before allocating the output: a damaged or hostile
  // header must not get us to reserve memory for pixels the file cannot hold.
  for (let strip = 0; strip < strips; strip++) {
    const count = counts[strip]!;
    const stripBytes = Math.min(rowsPerStrip, height - strip * rowsPerStrip) * width * samples * bytesPerSample;
    if (offsets[strip]! + count > bytes.length) {
      throw corruptTiff(`truncated: strip ${strip + 1} ends at byte ${offsets[strip]! + count}, the file has ${bytes.length}`);
    }
    // Deflate expands at most ~1032:1; stored strips hold their bytes as they are.
    const capacity = layout.deflate ? count * 1032 + 64 : count;
    if (count > 0 && capacity < stripBytes) throw corruptTiff(`strip ${strip + 1} has ${count} bytes, too few for ${stripBytes} bytes of pixels`);
  }
  const out = bands.map(() => new ArrayType(new ArrayBuffer(width * height * bytesPerSample), 0, width * height));

  const readStrip = async (stripIndex: number, rows: number): Promise<SampleArray | null> => {
    const offset = offsets[stripIndex]!;
    const count = counts[stripIndex]!;
    if (count === 0) return null; // a sparse strip: GDAL reads it as nodata
    const fullBytes = rowsPerStrip * width * samples * bytesPerSample;
    const expected = rows * width * samples * bytesPerSample;
    let raw: Uint8Array = bytes.subarray(offset, offset + count);
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
    const source = await readStrip(strip, rows);
    bands.forEach((band, k) => {
      if (source) copySamples(source, samples, band, out[k]!, firstPixel, pixels);
      else out[k]!.fill(nodata ?? 0, firstPixel, firstPixel + pixels);
    });
  };

  // A few strips in flight keep zlib's thread pool busy while at most that many inflated strips
  // exist at once (all of them at once would hold the raster twice).
  let next = 0;
  const worker = async () => {
    while (next < strips) await readInto(next++);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(STRIPS_IN_FLIGHT, strips) }, worker));
  // allSettled, then rethrow: no strip promise is left rejecting after we have given up.
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) throw failure.reason;
  return out;
}

/** Copies sample `band` of `pixels` pixel-interleaved pixels into `target` from `offset` on. */
function copySamples(source: SampleArray, samples: number, band: number, target: SampleArray, offset: number, pixels: number): void {
  for (let p = 0, s = band; p < pixels; p++, s += samples) target[offset + p] = source[s]!;
}

async function readWithGeotiff(image: GeoTIFFImage, bands: readonly number[]): Promise<SampleArray[]> {
  const rasters = await image.readRasters({ samples: [...bands], interleave: false });
  return Array.from(rasters as ArrayLike<SampleArray>);
}
