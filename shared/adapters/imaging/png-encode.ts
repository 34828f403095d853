/**
 * PNG encoding of 8-bit grey or RGB samples on Node's own zlib, for the normaliser's outputs.
 *
 * The format is small enough to write directly (PNG specification, W3C 2003, §5 datastream, §11.2
 * IHDR/IDAT/IEND, §10 zlib compression, §9 filtering): a signature, an IHDR chunk, one IDAT chunk
 * holding the zlib stream of the rows, each prefixed with its filter type, and IEND; every chunk
 * ends with the CRC-32 of its type and data. Doing it here instead of through sharp means a
 * GeoTIFF product never loads libvips: that load (the native library and sharp's JavaScript) was
 * a large share of a cold `mlops normalise` and of every cold `ingest`.
 *
 * Compression level 1 with filter type 0 (None), what the sharp path used: on a 1024² demo scene
 * about two thirds of the time of level 6 (a quarter of level 6 with adaptive filtering) for ~20 %
 * more bytes. The PNGs stay lossless; they are working copies for annotators, not archives (the
 * archive bucket keeps the original upload). The deflate runs on libuv's thread pool, so the
 * RGB, NIR and nodata PNGs of a product compress in parallel.
 */
import { crc32, createDeflate } from "node:zlib";
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** IHDR colour types (§11.2.2): 0 greyscale, 2 truecolour. */
const COLOUR_TYPE = { 1: 0, 3: 2 } as const;

/** Encodes interleaved 8-bit samples (1 = grey, 3 = RGB) as PNG. */
export async function encodeRawPng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new RangeError(`PNG size must be whole pixels from 1 to 2^31 − 1 (got ${width}×${height})`);
  }
  const stride = width * channels;
  if (data.length !== stride * height) throw new RangeError(`PNG samples: ${data.length} bytes for ${width}×${height}×${channels}`);
  // Each row is its filter-type byte (0, None) followed by its samples.
  const rows = Buffer.allocUnsafe((stride + 1) * height);
  for (let y = 0, src = 0, dst = 0; y < height; y++, src += stride, dst += stride + 1) {
    rows[dst] = 0;
    rows.set(data.subarray(src, src + stride), dst + 1);
  }
  // One output chunk larger than any level-1 stream of these rows (zlib's deflateBound: the input
  // plus 5 bytes per 16 KiB stored block, plus the header), so zlib hands it back without a concat.
  const idat = await deflateChunks(rows, rows.length + 5 * Math.ceil(rows.length / 16_384) + 64);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOUR_TYPE[channels];
  // compression method 0, filter method 0, interlace method 0 (bytes 10–12, already zero)
  // The file is assembled in one buffer: the compressed rows are copied once.
  const idatLength = idat.reduce((n, chunk) => n + chunk.length, 0);
  const out = Buffer.allocUnsafe(SIGNATURE.length + (12 + ihdr.length) + (12 + idatLength) + 12);
  let at = SIGNATURE.copy(out, 0);
  at = writeChunk(out, at, "IHDR", ihdr);
  at = writeChunk(out, at, "IDAT", idat);
  writeChunk(out, at, "IEND", Buffer.alloc(0));
  return out;
}

/**
 * The zlib stream of `rows` as the chunks zlib produced. The one-shot `deflate()` joins them into
 * a new buffer (it makes at least two, even when one is large enough), and the PNG is assembled
 * from them anyway: one copy of the compressed bytes instead of two.
 */
async function deflateChunks(rows: Buffer, chunkSize: number): Promise<Buffer[]> {
  const deflater = createDeflate({ level: 1, chunkSize });
  const chunks: Buffer[] = [];
  deflater.on("data", (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    deflater.once("end", resolve);
    deflater.once("error", reject);
    deflater.end(rows);
  });
  return chunks;
}

/** Writes one chunk (length, type, data, CRC-32 of type and data) at `at`; returns the end. */
function writeChunk(out: Buffer, at: number, type: string, data: Buffer | readonly Buffer[]): number {
  const parts = Buffer.isBuffer(data) ? [data] : data;
  const length = parts.reduce((n, part) => n + part.length, 0);
  out.writeUInt32BE(length, at);
  out.write(type, at + 4, "latin1");
  let write = at + 8;
  for (const part of parts) write += part.copy(out, write);
  const end = at + 8 + length;
  out.writeUInt32BE(crc32(out.subarray(at + 4, end)), end);
  return end + 4;
}
