/**
 * A small GeoTIFF writer for demo products, fixtures and benchmarks: baseline little-endian TIFF,
 * pixel-interleaved strips, optional deflate, with the GeoTIFF and GDAL tags a normaliser (ours or
 * GDAL) needs — pixel scale, tiepoint, GeoKey directory with the EPSG code, and GDAL_NODATA.
 *
 * Hand-written rather than geotiff.js's writer because that one writes neither deflate strips nor
 * GDAL_NODATA; the format itself is a few dozen lines.
 */
import { zlibSync } from "fflate";

export type BandArray = Float32Array | Uint16Array | Uint8Array;

export interface GeoTiffSpec {
  width: number;
  height: number;
  /** One array per band, each `width * height` samples, all of the same type. */
  bands: Float32Array[] | Uint16Array[] | Uint8Array[];
  /** Written as the GDAL_NODATA tag; NaN is written as "nan". */
  nodata?: number;
  compression?: "none" | "deflate";
  /** Default 32631 (WGS 84 / UTM zone 31N). Codes 4000–4999 are written as geographic. */
  epsg?: number;
  /** Model coordinates of the upper-left corner of the upper-left pixel. */
  origin?: [x: number, y: number];
  /** Pixel size in model units (both positive; y grows downwards in the raster). */
  pixelSize?: [sx: number, sy: number];
}

// TIFF field types
const SHORT = 3;
const LONG = 4;
const ASCII = 2;
const DOUBLE = 12;
const TYPE_SIZE: Record<number, number> = { [ASCII]: 1, [SHORT]: 2, [LONG]: 4, [DOUBLE]: 8 };

/** Strips of about this many bytes: big enough to compress well, small enough to decode lazily. */
const TARGET_STRIP_BYTES = 256 * 1024;

interface Entry {
  tag: number;
  type: number;
  values: number[] | string;
}

export function writeGeoTiff(spec: GeoTiffSpec): Uint8Array {
  const { width, height, bands } = spec;
  validate(spec);
  const first = bands[0]!;
  const samples = bands.length;
  const bytesPerSample = first.BYTES_PER_ELEMENT;
  const sampleFormat = first instanceof Float32Array ? 3 : 1;
  const rowBytes = width * samples * bytesPerSample;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(TARGET_STRIP_BYTES / rowBytes)));
  const deflate = spec.compression === "deflate";

  const strips: Uint8Array[] = [];
  for (let row = 0; row < height; row += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, height - row);
    const raw = interleaveRows(bands, width, row, rows);
    strips.push(deflate ? zlibSync(raw, { level: 6 }) : raw);
  }

  const epsg = spec.epsg ?? 32631;
  const [originX, originY] = spec.origin ?? [500_000, 5_000_000];
  const [sizeX, sizeY] = spec.pixelSize ?? [10, 10];
  const geographic = epsg >= 4000 && epsg < 5000;
  const geoKeys = [
    1, 1, 0, 3, // version 1.1.0, three keys
    1024, 0, 1, geographic ? 2 : 1, // GTModelTypeGeoKey: projected (1) or geographic (2)
    1025, 0, 1, 1, // GTRasterTypeGeoKey: PixelIsArea
    geographic ? 2048 : 3072, 0, 1, epsg, // GeographicTypeGeoKey / ProjectedCSTypeGeoKey
  ];

  const entries: Entry[] = [
    { tag: 256, type: LONG, values: [width] },
    { tag: 257, type: LONG, values: [height] },
    { tag: 258, type: SHORT, values: new Array<number>(samples).fill(bytesPerSample * 8) },
    { tag: 259, type: SHORT, values: [deflate ? 8 : 1] },
    { tag: 262, type: SHORT, values: [1] }, // BlackIsZero: bands are measurements, not colours
    { tag: 273, type: LONG, values: new Array<number>(strips.length).fill(0) }, // StripOffsets, patched below
    { tag: 277, type: SHORT, values: [samples] },
    { tag: 278, type: LONG, values: [rowsPerStrip] },
    { tag: 279, type: LONG, values: strips.map((s) => s.length) },
    { tag: 284, type: SHORT, values: [1] }, // PlanarConfiguration: pixel-interleaved
    ...(samples > 1 ? [{ tag: 338, type: SHORT, values: new Array<number>(samples - 1).fill(0) }] : []),
    { tag: 339, type: SHORT, values: new Array<number>(samples).fill(sampleFormat) },
    { tag: 33550, type: DOUBLE, values: [sizeX, sizeY, 0] },
    { tag: 33922, type: DOUBLE, values: [0, 0, 0, originX, originY, 0] },
    { tag: 34735, type: SHORT, values: geoKeys },
    ...(spec.nodata === undefined ? [] : [{ tag: 42113, type: ASCII, values: `${formatNodata(spec.nodata)}\0` }]),
  ];

  // Layout: header, IFD, out-of-line tag values, strips.
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let cursor = ifdOffset + ifdSize;
  const valueOffsets = entries.map((entry) => {
    const size = valueCount(entry) * TYPE_SIZE[entry.type]!;
    if (size <= 4) return -1;
    cursor += cursor % 2; // values start on a word boundary
    const at = cursor;
    cursor += size;
    return at;
  });
  cursor += cursor % 2;
  const stripOffsets: number[] = [];
  for (const strip of strips) {
    stripOffsets.push(cursor);
    cursor += strip.length;
  }
  if (cursor > 0xffff_ffff) throw new RangeError("writeGeoTiff: output over 4 GiB needs BigTIFF, which this writer does not write");
  entries.find((e) => e.tag === 273)!.values = stripOffsets;

  const out = new Uint8Array(cursor);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0], 0); // "II*\0": little-endian TIFF
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, entries.length, true);
  entries.forEach((entry, k) => {
    const at = ifdOffset + 2 + k * 12;
    view.setUint16(at, entry.tag, true);
    view.setUint16(at + 2, entry.type, true);
    view.setUint32(at + 4, valueCount(entry), true);
    const valueAt = valueOffsets[k]!;
    if (valueAt === -1) {
      writeValues(view, at + 8, entry);
    } else {
      view.setUint32(at + 8, valueAt, true);
      writeValues(view, valueAt, entry);
    }
  });
  view.setUint32(ifdOffset + 2 + entries.length * 12, 0, true); // no next IFD
  strips.forEach((strip, k) => out.set(strip, stripOffsets[k]!));
  return out;
}

function validate(spec: GeoTiffSpec): void {
  const { width, height, bands } = spec;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`writeGeoTiff: size must be positive whole pixels (got ${width}×${height})`);
  }
  if (bands.length < 1 || bands.length > 0xffff) throw new RangeError(`writeGeoTiff: needs 1..65535 bands (got ${bands.length})`);
  const type = bands[0]!.constructor;
  for (const [k, band] of bands.entries()) {
    if (band.constructor !== type) throw new TypeError("writeGeoTiff: every band must have the same sample type");
    if (band.length !== width * height) {
      throw new RangeError(`writeGeoTiff: band ${k + 1} has ${band.length} samples, expected ${width * height}`);
    }
  }
}

/** Pixel-interleaves `rows` rows starting at `firstRow` into little-endian bytes. */
function interleaveRows(bands: readonly BandArray[], width: number, firstRow: number, rows: number): Uint8Array {
  const samples = bands.length;
  const first = bands[0]!;
  const count = rows * width * samples;
  const start = firstRow * width;
  const pixels = rows * width;
  // Typed arrays use the platform's byte order; every supported Node platform is little-endian.
  const target: BandArray =
    first instanceof Float32Array ? new Float32Array(count) : first instanceof Uint16Array ? new Uint16Array(count) : new Uint8Array(count);
  for (let s = 0; s < samples; s++) {
    const band = bands[s]!;
    for (let p = 0; p < pixels; p++) target[p * samples + s] = band[start + p]!;
  }
  return new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
}

function valueCount(entry: Entry): number {
  return typeof entry.values === "string" ? entry.values.length : entry.values.length;
}

function writeValues(view: DataView, at: number, entry: Entry): void {
  if (typeof entry.values === "string") {
    for (let i = 0; i < entry.values.length; i++) view.setUint8(at + i, entry.values.charCodeAt(i));
    return;
  }
  const size = TYPE_SIZE[entry.type]!;
  entry.values.forEach((value, i) => {
    const offset = at + i * size;
    if (entry.type === SHORT) view.setUint16(offset, value, true);
    else if (entry.type === LONG) view.setUint32(offset, value, true);
    else view.setFloat64(offset, value, true);
  });
}

/** GDAL writes NaN nodata as "nan" and numbers in their shortest round-trip form. */
function formatNodata(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}
