/**
 * The first image directory of a classic TIFF, read without geotiff.js.
 *
 * Loading geotiff.js (and its dependencies) is about 70 ms of a cold `mlops normalise`, and the
 * common layout (GDAL's default: striped, pixel-interleaved, little-endian) needs only a dozen
 * tags from it. This reader parses the header and first IFD of a classic (not Big) TIFF in either
 * byte order, strictly: anything it does not expect — BigTIFF, a tag of an unexpected type, a
 * value outside the file, more entries than a directory can sanely hold — gives null, and the
 * caller opens the file with geotiff.js as before, which then also reports what is wrong with it.
 *
 * Layout facts from the TIFF 6.0 specification: §2 (header, IFD entries, field types, values that
 * fit in four bytes are stored in the entry), §§8, 15 (baseline and tile tags), and GDAL's
 * GDAL_NODATA tag (42113, ASCII).
 */
import type { GeoTIFFImage } from "geotiff";
import type { ByteSource } from "../../ports.ts";

/** The part of geotiff.js's GeoTIFFImage the product path reads; both readers provide it. */
export type TiffImage = Pick<GeoTIFFImage, "littleEndian" | "isTiled" | "planarConfiguration" | "getWidth" | "getHeight" | "getSamplesPerPixel" | "getTileWidth" | "getTileHeight"> & {
  fileDirectory: Pick<GeoTIFFImage["fileDirectory"], "loadValue" | "hasTag">;
};
type Directory = TiffImage["fileDirectory"];

/** The tags read, by number; any other tag is skipped. */
const TAGS = new Map<number, string>([
  [256, "ImageWidth"],
  [257, "ImageLength"],
  [258, "BitsPerSample"],
  [259, "Compression"],
  [262, "PhotometricInterpretation"],
  [273, "StripOffsets"],
  [277, "SamplesPerPixel"],
  [278, "RowsPerStrip"],
  [279, "StripByteCounts"],
  [284, "PlanarConfiguration"],
  [317, "Predictor"],
  [322, "TileWidth"],
  [323, "TileLength"],
  [324, "TileOffsets"],
  [325, "TileByteCounts"],
  [339, "SampleFormat"],
  [42113, "GDAL_NODATA"],
]);

/** Field types read: 2 ASCII, 3 SHORT, 4 LONG (every tag above uses one of them). */
const TYPE_BYTES = new Map([
  [2, 1],
  [3, 2],
  [4, 4],
]);
const MAX_ENTRIES = 4096;
/** Tags geotiff.js always gives as a list, even of one value. */
const LIST_TAGS = new Set(["StripOffsets", "StripByteCounts", "TileOffsets", "TileByteCounts", "BitsPerSample", "SampleFormat"]);

/** The first IFD of a classic TIFF, or null when geotiff.js should read this file. */
export async function readFirstIfd(source: ByteSource, maxRead: number): Promise<TiffImage | null> {
  if (source.size < 8) return null;
  const head = new DataView(toArrayBuffer(await source.read(0, 8)));
  const order = head.getUint16(0, false);
  if (order !== 0x4949 && order !== 0x4d4d) return null;
  const little = order === 0x4949;
  if (head.getUint16(2, little) !== 42) return null; // 43 is BigTIFF
  const ifdOffset = head.getUint32(4, little);
  if (ifdOffset < 8 || ifdOffset + 2 > source.size) return null;
  const entryCount = new DataView(toArrayBuffer(await source.read(ifdOffset, 2))).getUint16(0, little);
  if (entryCount === 0 || entryCount > MAX_ENTRIES || ifdOffset + 2 + entryCount * 12 > source.size) return null;
  const entries = new DataView(toArrayBuffer(await source.read(ifdOffset + 2, entryCount * 12)));

  const values = new Map<string, number | number[] | string>();
  for (let i = 0; i < entryCount; i++) {
    const at = i * 12;
    const name = TAGS.get(entries.getUint16(at, little));
    if (name === undefined) continue;
    const type = entries.getUint16(at + 2, little);
    const count = entries.getUint32(at + 4, little);
    const size = TYPE_BYTES.get(type);
    if (size === undefined || count === 0 || values.has(name)) return null;
    const bytes = count * size;
    if (bytes > maxRead) return null;
    let view: DataView;
    if (bytes <= 4) {
      view = new DataView(entries.buffer, entries.byteOffset + at + 8, 4);
    } else {
      const offset = entries.getUint32(at + 8, little);
      if (offset + bytes > source.size) return null;
      view = new DataView(toArrayBuffer(await source.read(offset, bytes)));
    }
    if (type === 2) {
      values.set(name, String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset, count)));
      continue;
    }
    const list = Array.from({ length: count }, (_, k) => (type === 3 ? view.getUint16(k * 2, little) : view.getUint32(k * 4, little)));
    values.set(name, count === 1 && !LIST_TAGS.has(name) ? list[0]! : list);
  }

  const number = (name: string, fallback?: number): number | null => {
    const value = values.get(name) ?? fallback;
    return typeof value === "number" ? value : null;
  };
  const width = number("ImageWidth");
  const height = number("ImageLength");
  const samples = number("SamplesPerPixel", 1);
  const planar = number("PlanarConfiguration", 1);
  if (planar !== 1 && planar !== 2) return null;
  const tiled = values.has("TileWidth") || values.has("TileOffsets");
  const tileWidth = tiled ? number("TileWidth") : width;
  const tileHeight = tiled ? number("TileLength") : height;
  if (width === null || height === null || samples === null || planar === null || tileWidth === null || tileHeight === null) return null;
  if (!tiled && !values.has("StripOffsets")) return null;

  return {
    fileDirectory: {
      // Values as geotiff.js gives them: a number for one, a list for more, a string for ASCII.
      loadValue: (async (tag: string | number) => (typeof tag === "string" ? values.get(tag) : undefined)) as Directory["loadValue"],
      hasTag: (tag) => typeof tag === "string" && values.has(tag),
    },
    littleEndian: little,
    isTiled: tiled,
    planarConfiguration: planar,
    getWidth: () => width,
    getHeight: () => height,
    getSamplesPerPixel: () => samples,
    getTileWidth: () => tileWidth,
    getTileHeight: () => tileHeight,
  };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer;
}
