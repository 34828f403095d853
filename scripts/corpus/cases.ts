/**
 * The imaging part of the hostile-upload corpus: archives, rasters and images, each with what the
 * ingest path must do with it. `scripts/make-corpus.ts` writes the files and `cases.json`.
 */
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { writePng } from "./png.ts";
import { field, writeTiff } from "./tiff.ts";
import { concat, crcOfZeros, deflated, deflatedZeros, stored, writeZip, type RawEntry } from "./zip.ts";

export interface CorpusCase {
  id: string;
  category: "archive" | "raster" | "image";
  file: string;
  expect: { state: "failed" | "normalised"; reason?: string; warning?: "single_value" };
  why: string;
  make: () => Uint8Array | Promise<Uint8Array>;
}

const W = 48;
const H = 40;
const fourBands = (w = W, h = H): Float32Array[] => [0, 1, 2, 3].map((b) => field(w, h, b));
/** A legitimate 4-band float32 product GeoTIFF (deflate strips, GDAL's layout). */
const product = (): Uint8Array => writeTiff({ width: W, height: H, bands: fourBands(), compression: "deflate", rowsPerStrip: 8, nodata: "nan" });
const productZip = (name = "P/P.tif", entry: (n: string, c: Uint8Array) => RawEntry = deflated): Uint8Array =>
  writeZip([entry(name, product()), deflated("P/MTD.xml", new TextEncoder().encode("<Product/>"))]);
const prng = (seed: number) => () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) & 0xff);
const randomBytes = (n: number, seed: number): Uint8Array => {
  const next = prng(seed);
  return Uint8Array.from({ length: n }, () => next());
};
const ok = { state: "normalised" } as const;
const failed = (reason: string) => ({ state: "failed" as const, reason });
const MiB = 1024 * 1024;

/** Many stored entries whose data overlap: each spans the headers of all entries after it. */
function overlapBomb(): Uint8Array {
  const kernel = product();
  const names = Array.from({ length: 12 }, (_, k) => `P/overlap${String(k).padStart(2, "0")}.tif`);
  // Entry k's data is every later local header plus the kernel: built back to front.
  let tail = kernel;
  const headers: Uint8Array[] = [];
  for (let k = names.length - 1; k >= 0; k--) {
    const name = new TextEncoder().encode(names[k]);
    const header = new DataView(new ArrayBuffer(30));
    header.setUint32(0, 0x04034b50, true);
    header.setUint16(4, 20, true);
    header.setUint16(12, 0x21, true);
    header.setUint32(14, crc32(tail), true);
    header.setUint32(18, tail.length, true);
    header.setUint32(22, tail.length, true);
    header.setUint16(26, name.length, true);
    const local = concat([new Uint8Array(header.buffer), name]);
    headers.unshift(local);
    tail = concat([local, tail]);
  }
  let offset = 0;
  const entries: RawEntry[] = names.map((name, k) => {
    const size = tail.length - offset - headers[k]!.length;
    const data = tail.subarray(offset + headers[k]!.length);
    const entry: RawEntry = { name, data, method: 0, size, crc: crc32(data), localHeaderOffset: offset, centralOnly: true };
    offset += headers[k]!.length;
    return entry;
  });
  // The archive body is `tail` itself; writeZip only adds the directory, which starts after it.
  const directoryOnly = writeZip(entries, { patchEnd: (end) => end.setUint32(16, tail.length, true) });
  return concat([tail, directoryOnly]);
}

function jpeg(width: number, height: number): Promise<Buffer> {
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + Math.floor(i / (width * 3)) * 13) % 256);
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

const rgbImage = (w: number, h: number): Uint8Array => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 5 + (i % 3) * 60) % 256);

export const CASES: CorpusCase[] = [
  // ---------------------------------------------------------------- archives
  { id: "zip-product-deflated", category: "archive", file: "archive/zip-product-deflated.zip", expect: ok, why: "a legitimate product zip: deflated TIFF and side files", make: () => productZip() },
  { id: "zip-product-stored", category: "archive", file: "archive/zip-product-stored.zip", expect: ok, why: "a stored (method 0) TIFF entry is read in place, by ranges", make: () => productZip("P/P.tif", stored) },
  {
    id: "zip-bomb-honest", category: "archive", file: "archive/zip-bomb-honest.zip", expect: failed("zip_entry_too_large"),
    why: "1 GiB of zeros behind a TIFF header, declared honestly: refused from the directory, nothing inflated",
    make: () => {
      const head = product().subarray(0, 512);
      return writeZip([{ name: "P/P.tif", data: deflatedZeros(head, 1024), method: 8, size: head.length + 1024 * MiB, crc: crcOfZeros(head, 1024) }]);
    },
  },
  {
    id: "zip-bomb-lying", category: "archive", file: "archive/zip-bomb-lying.zip", expect: failed("corrupt_zip"),
    why: "declares a 4 KiB TIFF but inflates to 256 MiB: inflating stops at the declared size",
    make: () => {
      const tiff = product();
      return writeZip([{ name: "P/P.tif", data: deflatedZeros(tiff, 256), method: 8, size: 4096, crc: crc32(tiff.subarray(0, 4096)) }]);
    },
  },
  { id: "zip-overlapping-entries", category: "archive", file: "archive/zip-overlapping-entries.zip", expect: failed("zip_overlapping_entries"), why: "twelve entries whose stored data overlap (the non-recursive zip bomb)", make: overlapBomb },
  {
    id: "zip-overlapping-same-offset", category: "archive", file: "archive/zip-overlapping-same-offset.zip", expect: failed("zip_overlapping_entries"),
    why: "many directory entries pointing at one local header",
    make: () => {
      const first = deflated("P/P.tif", product());
      const copies = Array.from({ length: 50 }, (_, k): RawEntry => ({ ...first, name: `P/copy${k}.tif`, localHeaderOffset: 0, centralOnly: true }));
      return writeZip([first, ...copies]);
    },
  },
  { id: "zip-nested", category: "archive", file: "archive/zip-nested.zip", expect: failed("nested_archive"), why: "a zip holding only another product zip", make: () => writeZip([stored("outer/P.zip", productZip())]) },
  { id: "zip-nested-named-tif", category: "archive", file: "archive/zip-nested-named-tif.zip", expect: failed("nested_archive"), why: "the .tif entry is itself a zip", make: () => writeZip([deflated("P/P.tif", productZip())]) },
  { id: "zip-path-traversal", category: "archive", file: "archive/zip-path-traversal.zip", expect: failed("zip_path_traversal"), why: "entry ../evil.tif climbs out of the archive", make: () => writeZip([deflated("../evil.tif", product())]) },
  { id: "zip-path-traversal-nested", category: "archive", file: "archive/zip-path-traversal-nested.zip", expect: failed("zip_path_traversal"), why: "P/../../../tmp/evil.tif next to a valid product", make: () => writeZip([deflated("P/P.tif", product()), deflated("P/../../../tmp/evil.tif", product())]) },
  { id: "zip-path-traversal-backslash", category: "archive", file: "archive/zip-path-traversal-backslash.zip", expect: failed("zip_path_traversal"), why: "Windows separators: ..\\..\\evil.tif", make: () => writeZip([deflated("..\\..\\evil.tif", product())]) },
  { id: "zip-absolute-unix", category: "archive", file: "archive/zip-absolute-unix.zip", expect: failed("zip_absolute_path"), why: "entry /etc/evil.tif is absolute", make: () => writeZip([deflated("/etc/evil.tif", product())]) },
  { id: "zip-absolute-windows", category: "archive", file: "archive/zip-absolute-windows.zip", expect: failed("zip_absolute_path"), why: "entry C:\\Windows\\evil.tif has a drive letter", make: () => writeZip([deflated("C:\\Windows\\evil.tif", product())]) },
  { id: "zip-encrypted", category: "archive", file: "archive/zip-encrypted.zip", expect: failed("unsupported_zip"), why: "traditional PKWARE encryption flag set", make: () => writeZip([{ ...deflated("P/P.tif", product()), flags: 1 }]) },
  { id: "zip-method-bzip2", category: "archive", file: "archive/zip-method-bzip2.zip", expect: failed("unsupported_zip"), why: "compression method 12 (bzip2)", make: () => writeZip([{ ...stored("P/P.tif", product()), method: 12 }]) },
  { id: "zip-truncated", category: "archive", file: "archive/zip-truncated.zip", expect: failed("corrupt_zip"), why: "an upload cut off at 60 %", make: () => { const z = productZip(); return z.subarray(0, Math.floor(z.length * 0.6)); } },
  { id: "zip-without-tiff", category: "archive", file: "archive/zip-without-tiff.zip", expect: failed("no_geotiff"), why: "metadata only, no .tif", make: () => writeZip([deflated("P/MTD.xml", new TextEncoder().encode("<Product/>")), stored("P/readme.txt", new TextEncoder().encode("hello"))]) },
  { id: "zip-empty", category: "archive", file: "archive/zip-empty.zip", expect: failed("no_geotiff"), why: "an end record and nothing else", make: () => writeZip([]) },
  { id: "zip64-product", category: "archive", file: "archive/zip64-product.zip", expect: ok, why: "ZIP64 sizes, offsets and end record around a stored product", make: () => writeZip([{ ...stored("P/P.tif", product()), zip64: true }], { zip64End: true }) },
  {
    id: "zip64-missing-locator", category: "archive", file: "archive/zip64-missing-locator.zip", expect: failed("corrupt_zip"), why: "the end record says ZIP64 but there is no locator",
    make: () => writeZip([stored("P/P.tif", product())], { patchEnd: (end) => { end.setUint16(8, 0xffff, true); end.setUint16(10, 0xffff, true); } }),
  },
  {
    id: "zip64-huge-declared-size", category: "archive", file: "archive/zip64-huge-declared-size.zip", expect: failed("zip_entry_too_large"), why: "a ZIP64 extra field declaring 2^50 bytes",
    make: () => writeZip([{ ...deflated("P/P.tif", product()), size: 2 ** 50, zip64: true }], { zip64End: true }),
  },
  {
    id: "zip-directory-outside", category: "archive", file: "archive/zip-directory-outside.zip", expect: failed("corrupt_zip"), why: "the central directory offset points past the end of the file",
    make: () => writeZip([stored("P/P.tif", product())], { patchEnd: (end) => end.setUint32(16, 0x7fff0000, true) }),
  },
  {
    id: "zip-entry-count-lie", category: "archive", file: "archive/zip-entry-count-lie.zip", expect: failed("corrupt_zip"), why: "the end record claims 65 000 entries in a one-entry directory",
    make: () => writeZip([stored("P/P.tif", product())], { patchEnd: (end) => { end.setUint16(8, 65000, true); end.setUint16(10, 65000, true); } }),
  },
  { id: "zip-bad-crc", category: "archive", file: "archive/zip-bad-crc.zip", expect: failed("corrupt_zip"), why: "a stored entry whose bytes do not match its CRC-32", make: () => writeZip([{ ...stored("P/P.tif", product()), crc: 0x12345678 }]) },
  {
    id: "zip-local-header-missing", category: "archive", file: "archive/zip-local-header-missing.zip", expect: failed("corrupt_zip"),
    why: "100 bytes of junk before the archive, and offsets that ignore them: the directory points at junk",
    make: () => {
      const zip = writeZip([stored("P/P.tif", product())]);
      const junk = concat([Uint8Array.from([0x50, 0x4b, 0x05, 0x06]), randomBytes(96, 7)]);
      const out = concat([junk, zip]);
      const end = new DataView(out.buffer, out.length - 22);
      end.setUint32(16, end.getUint32(16, true) + junk.length, true);
      return out;
    },
  },
  { id: "zip-random-bytes", category: "archive", file: "archive/zip-random-bytes.zip", expect: failed("corrupt_zip"), why: "random bytes named .zip", make: () => randomBytes(4096, 11) },

  // ---------------------------------------------------------------- rasters
  { id: "tiff-float32-deflate", category: "raster", file: "raster/tiff-float32-deflate.tif", expect: ok, why: "GDAL's default layout, fast path", make: product },
  { id: "tiff-uint16", category: "raster", file: "raster/tiff-uint16.tif", expect: ok, why: "16-bit unsigned reflectance", make: () => writeTiff({ width: W, height: H, bands: fourBands().map((b) => Uint16Array.from(b, (v) => Math.round(v * 10000))), rowsPerStrip: 16 }) },
  { id: "tiff-tiled-float32", category: "raster", file: "raster/tiff-tiled-float32.tif", expect: ok, why: "16×16 deflate tiles, read through geotiff.js with bounded decoders", make: () => writeTiff({ width: W, height: H, bands: fourBands(), tile: { width: 16, height: 16 }, compression: "deflate" }) },
  { id: "tiff-big-endian-uint16", category: "raster", file: "raster/tiff-big-endian-uint16.tif", expect: ok, why: "Motorola byte order", make: () => writeTiff({ width: W, height: H, bands: fourBands().map((b) => Uint16Array.from(b, (v) => Math.round(v * 5000))), bigEndian: true, rowsPerStrip: 10 }) },
  { id: "tiff-planar-float32", category: "raster", file: "raster/tiff-planar-float32.tif", expect: ok, why: "band-interleaved (PlanarConfiguration 2)", make: () => writeTiff({ width: W, height: H, bands: fourBands(), planar: true, rowsPerStrip: 20, compression: "deflate" }) },
  { id: "tiff-single-value", category: "raster", file: "raster/tiff-single-value.tif", expect: { state: "normalised", warning: "single_value" }, why: "every pixel 0.25 in every band: normalised, with a warning", make: () => writeTiff({ width: W, height: H, bands: [0, 1, 2, 3].map(() => new Float32Array(W * H).fill(0.25)) }) },
  { id: "tiff-all-nan", category: "raster", file: "raster/tiff-all-nan.tif", expect: failed("no_valid_pixels"), why: "every sample NaN", make: () => writeTiff({ width: W, height: H, bands: [0, 1, 2, 3].map(() => new Float32Array(W * H).fill(NaN)), nodata: "nan" }) },
  { id: "tiff-all-nodata", category: "raster", file: "raster/tiff-all-nodata.tif", expect: failed("no_valid_pixels"), why: "every sample equals GDAL_NODATA -9999", make: () => writeTiff({ width: W, height: H, bands: [0, 1, 2, 3].map(() => new Float32Array(W * H).fill(-9999)), nodata: "-9999" }) },
  { id: "tiff-huge-dimensions", category: "raster", file: "raster/tiff-huge-dimensions.tif", expect: failed("raster_too_large"), why: "a 200 000 × 200 000 header over a few bytes", make: () => writeTiff({ width: 200_000, height: 200_000, bands: { count: 4, bits: 32, format: 3 }, rowsPerStrip: 200_000, block: () => new Uint8Array(16) }) },
  { id: "tiff-too-many-bands", category: "raster", file: "raster/tiff-too-many-bands.tif", expect: failed("too_many_bands"), why: "SamplesPerPixel 1000", make: () => writeTiff({ width: 8, height: 8, bands: { count: 1000, bits: 8, format: 1 }, block: () => new Uint8Array(16) }) },
  { id: "tiff-decode-too-large", category: "raster", file: "raster/tiff-decode-too-large.tif", expect: failed("decode_too_large"), why: "11 000² float32 × 4 bands fits the pixel limit but not the decode budget", make: () => writeTiff({ width: 11_000, height: 11_000, bands: { count: 4, bits: 32, format: 3 }, rowsPerStrip: 11_000, block: () => new Uint8Array(16) }) },
  { id: "tiff-truncated", category: "raster", file: "raster/tiff-truncated.tif", expect: failed("corrupt_tiff"), why: "cut off at 60 %: the directory at the end is gone", make: () => { const t = product(); return t.subarray(0, Math.floor(t.length * 0.6)); } },
  {
    id: "tiff-strip-outside-file", category: "raster", file: "raster/tiff-strip-outside-file.tif", expect: failed("corrupt_tiff"), why: "a strip offset beyond the end of the file",
    make: () => writeTiff({ width: W, height: H, bands: fourBands(), rowsPerStrip: 8, tags: (tags) => tags.map((t) => (t.tag === 273 ? { ...t, values: (t.values as number[]).map((v, k) => (k === 2 ? 0x7fff0000 : v)) } : t)) }),
  },
  { id: "tiff-zero-size", category: "raster", file: "raster/tiff-zero-size.tif", expect: failed("empty_raster"), why: "ImageWidth 0", make: () => writeTiff({ width: W, height: H, bands: fourBands(), tags: (tags) => tags.map((t) => (t.tag === 256 ? { ...t, values: [0] } : t)) }) },
  {
    id: "tiff-strip-deflate-bomb", category: "raster", file: "raster/tiff-strip-deflate-bomb.tif", expect: failed("corrupt_tiff"), why: "one strip inflates to 64 MiB instead of its 6 KiB",
    make: () => writeTiff({ width: W, height: H, bands: fourBands(), compression: "deflate", rowsPerStrip: 8, block: (k, b) => (k === 1 ? zlibZeros(64) : b) }),
  },
  {
    id: "tiff-tile-deflate-bomb", category: "raster", file: "raster/tiff-tile-deflate-bomb.tif", expect: failed("corrupt_tiff"), why: "one tile inflates to 64 MiB (the geotiff.js path)",
    make: () => writeTiff({ width: W, height: H, bands: fourBands(), tile: { width: 16, height: 16 }, compression: "deflate", block: (k, b) => (k === 3 ? zlibZeros(64) : b) }),
  },
  {
    id: "tiff-huge-tag-count", category: "raster", file: "raster/tiff-huge-tag-count.tif", expect: failed("corrupt_tiff"), why: "StripByteCounts claims 2^30 values",
    make: () => writeTiff({ width: W, height: H, bands: fourBands(), rowsPerStrip: 8, tags: (tags) => tags.map((t) => (t.tag === 279 ? { ...t, count: 2 ** 30 } : t)) }),
  },
  {
    id: "tiff-jpeg-compressed-product", category: "raster", file: "raster/tiff-jpeg-compressed-product.tif", expect: failed("unsupported_tiff"), why: "a 16-bit product declaring JPEG compression",
    make: () => writeTiff({ width: W, height: H, bands: fourBands().map((b) => Uint16Array.from(b, (v) => Math.round(v * 1000))), tags: (tags) => tags.map((t) => (t.tag === 259 ? { ...t, values: [7] } : t)) }),
  },
  { id: "tiff-ifd-outside-file", category: "raster", file: "raster/tiff-ifd-outside-file.tif", expect: failed("corrupt_tiff"), why: "the first directory offset points past the end", make: () => Uint8Array.from([0x49, 0x49, 0x2a, 0, 0xf0, 0xff, 0xff, 0x0f, 1, 2, 3, 4]) },
  { id: "tiff-random-bytes", category: "raster", file: "raster/tiff-random-bytes.tif", expect: failed("corrupt_tiff"), why: "random bytes named .tif", make: () => randomBytes(2048, 23) },

  // ---------------------------------------------------------------- images
  { id: "png-rgb", category: "image", file: "image/png-rgb.png", expect: ok, why: "a plain RGB PNG", make: () => writePng({ width: 32, height: 24, colourType: 2, samples: rgbImage(32, 24) }) },
  { id: "png-grey16", category: "image", file: "image/png-grey16.png", expect: ok, why: "16-bit greyscale", make: () => writePng({ width: 20, height: 20, colourType: 0, bitDepth: 16, samples: Uint16Array.from({ length: 400 }, (_, i) => i * 150) }) },
  { id: "jpeg-rgb", category: "image", file: "image/jpeg-rgb.jpg", expect: ok, why: "a plain JPEG", make: () => jpeg(40, 30) },
  { id: "png-named-jpg", category: "image", file: "image/png-named-jpg.jpg", expect: ok, why: "wrong extension: the content decides", make: () => writePng({ width: 16, height: 16, colourType: 2, samples: rgbImage(16, 16) }) },
  { id: "jpeg-named-tif", category: "image", file: "image/jpeg-named-tif.tif", expect: ok, why: "a JPEG named .tif is still a JPEG", make: () => jpeg(24, 24) },
  { id: "png-single-colour", category: "image", file: "image/png-single-colour.png", expect: { state: "normalised", warning: "single_value" }, why: "one colour everywhere", make: () => writePng({ width: 16, height: 16, colourType: 2, samples: Uint8Array.from({ length: 768 }, (_, i) => [120, 130, 140][i % 3]!) }) },
  { id: "png-all-transparent", category: "image", file: "image/png-all-transparent.png", expect: failed("no_valid_pixels"), why: "alpha 0 everywhere", make: () => writePng({ width: 16, height: 16, colourType: 6, samples: Uint8Array.from({ length: 1024 }, (_, i) => (i % 4 === 3 ? 0 : i % 256)) }) },
  { id: "png-huge-dimensions", category: "image", file: "image/png-huge-dimensions.png", expect: failed("image_too_large"), why: "an IHDR claiming 200 000 × 200 000 over 100 bytes", make: () => writePng({ width: 200_000, height: 200_000, colourType: 2, samples: null }) },
  { id: "png-truncated", category: "image", file: "image/png-truncated.png", expect: failed("corrupt_image"), why: "cut off inside the image data", make: () => { const p = writePng({ width: 64, height: 64, colourType: 2, samples: randomBytes(64 * 64 * 3, 5) }); return p.subarray(0, Math.floor(p.length / 2)); } },
  { id: "jpeg-truncated", category: "image", file: "image/jpeg-truncated.jpg", expect: failed("corrupt_image"), why: "cut off inside the entropy-coded data", make: async () => { const j = await jpeg(64, 64); return j.subarray(0, Math.floor(j.length / 2)); } },
  { id: "zero-byte", category: "image", file: "image/zero-byte.png", expect: failed("empty_object"), why: "an empty upload", make: () => new Uint8Array(0) },
  { id: "random-bytes", category: "image", file: "image/random-bytes.bin", expect: failed("unsupported_format"), why: "nothing we recognise", make: () => randomBytes(1000, 3) },
  { id: "gif", category: "image", file: "image/anim.gif", expect: failed("unsupported_format"), why: "a GIF header: not a format we accept", make: () => new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;") },
];

function zlibZeros(mib: number): Uint8Array {
  // zlib framing (78 DA) around the raw stream; the Adler-32 of zeros is 1 + 0 … mod 65521.
  const raw = deflatedZeros(new Uint8Array(0), mib);
  const n = mib * MiB;
  const b = (n % 65521) >>> 0;
  const adler = new DataView(new ArrayBuffer(4));
  adler.setUint32(0, ((b << 16) | 1) >>> 0);
  return concat([Uint8Array.from([0x78, 0xda]), raw, new Uint8Array(adler.buffer)]);
}
