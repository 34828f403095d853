import { fromArrayBuffer } from "geotiff";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { memorySource } from "../../../../shared/adapters/imaging/byte-source.ts";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { readFirstIfd } from "../../../../shared/adapters/imaging/tiff-ifd.ts";
import { openTiff } from "../../../../shared/adapters/imaging/tiff-raster.ts";

const TAGS = [
  "ImageWidth", "ImageLength", "BitsPerSample", "Compression", "PhotometricInterpretation", "StripOffsets", "SamplesPerPixel", "RowsPerStrip",
  "StripByteCounts", "PlanarConfiguration", "Predictor", "TileWidth", "TileLength", "TileOffsets", "TileByteCounts", "SampleFormat", "GDAL_NODATA",
] as const;

/** A tag value as plain data: lists of numbers (typed or not), numbers, strings. */
const plain = (value: unknown) => (value !== null && typeof value === "object" ? Array.from(value as ArrayLike<number>, Number) : value);

/** A minimal classic TIFF: header, one IFD of `entries` (tag, type, count, value-or-offset), then `extra`. */
function handMade(order: "II" | "MM", entries: [number, number, number, number][], extra = new Uint8Array(0), magic = 42): Uint8Array {
  const little = order === "II";
  const ifdBytes = 2 + entries.length * 12 + 4;
  const out = new Uint8Array(8 + ifdBytes + extra.length);
  const view = new DataView(out.buffer);
  out.set([order.charCodeAt(0), order.charCodeAt(1)]);
  view.setUint16(2, magic, little);
  view.setUint32(4, 8, little);
  view.setUint16(8, entries.length, little);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + i * 12;
    view.setUint16(at, tag, little);
    view.setUint16(at + 2, type, little);
    view.setUint32(at + 4, count, little);
    // A SHORT held in the entry sits in its first two bytes.
    if (type === 3 && count === 1) view.setUint16(at + 8, value, little);
    else view.setUint32(at + 8, value, little);
  });
  out.set(extra, 8 + ifdBytes);
  return out;
}

describe("readFirstIfd", () => {
  it("reads every tag the product path uses exactly as geotiff.js does (libtiff and our writer, striped and tiled)", async () => {
    const width = 70;
    const height = 50;
    const rgba = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37) % 256);
    const files: [string, Uint8Array][] = [];
    for (const compression of ["none", "deflate", "lzw"] as const) {
      for (const tile of [false, true]) {
        files.push([`libtiff ${compression} ${tile ? "tiled" : "striped"}`, await sharp(rgba, { raw: { width, height, channels: 4 } }).tiff({ compression, tile, tileWidth: 32, tileHeight: 32 }).toBuffer()]);
      }
    }
    const bands = Array.from({ length: 4 }, (_, b) => Float32Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i * (b + 1))));
    files.push(["ours float32 deflate", writeGeoTiff({ width: 300, height: 200, bands, nodata: -9999, compression: "deflate" })]);
    files.push(["ours float32 stored, nan nodata", writeGeoTiff({ width: 300, height: 200, bands, nodata: NaN })]);

    for (const [label, bytes] of files) {
      const ours = await readFirstIfd(memorySource(bytes), 1 << 30);
      expect(ours, label).not.toBeNull();
      const theirs = await (await fromArrayBuffer(new Uint8Array(bytes).buffer)).getImage();
      for (const tag of TAGS) {
        expect(ours!.fileDirectory.hasTag(tag), `${label} ${tag}`).toBe(theirs.fileDirectory.hasTag(tag));
        expect(plain(await ours!.fileDirectory.loadValue(tag)), `${label} ${tag}`).toEqual(plain(await theirs.fileDirectory.loadValue(tag)));
      }
      expect([ours!.getWidth(), ours!.getHeight(), ours!.getSamplesPerPixel(), ours!.isTiled, ours!.planarConfiguration, ours!.littleEndian], label).toEqual([
        theirs.getWidth(), theirs.getHeight(), theirs.getSamplesPerPixel(), theirs.isTiled, theirs.planarConfiguration, theirs.littleEndian,
      ]);
      if (theirs.isTiled) expect([ours!.getTileWidth(), ours!.getTileHeight()], label).toEqual([theirs.getTileWidth(), theirs.getTileHeight()]);
    }
  });

  it("reads a big-endian file, which then takes geotiff.js's path with the same pixels", async () => {
    // 2×2, one 8-bit band, uncompressed, one strip at byte 200.
    const pixels = Uint8Array.from([10, 20, 30, 40]);
    const entries: [number, number, number, number][] = [
      [256, 3, 1, 2], [257, 3, 1, 2], [258, 3, 1, 8], [259, 3, 1, 1], [262, 3, 1, 1], [273, 4, 1, 200], [277, 3, 1, 1], [278, 3, 1, 2], [279, 4, 1, 4],
    ];
    const head = handMade("MM", entries);
    const file = new Uint8Array(204);
    file.set(head);
    file.set(pixels, 200);
    const ifd = await readFirstIfd(memorySource(file), 1 << 20);
    expect(ifd?.littleEndian).toBe(false);
    expect([ifd!.getWidth(), ifd!.getHeight()]).toEqual([2, 2]);
    expect(await ifd!.fileDirectory.loadValue("StripOffsets")).toEqual([200]);
    const [band] = await (await openTiff(file)).readBands([0]);
    expect(Array.from(band!)).toEqual([10, 20, 30, 40]);
  });

  it("declines what it does not expect, so geotiff.js reads (or refuses) it", async () => {
    const basic: [number, number, number, number][] = [[256, 3, 1, 2], [257, 3, 1, 2], [273, 4, 1, 0], [279, 4, 1, 4]];
    expect(await readFirstIfd(memorySource(handMade("II", basic)), 1 << 20)).not.toBeNull();
    // BigTIFF (magic 43).
    expect(await readFirstIfd(memorySource(handMade("II", basic, undefined, 43)), 1 << 20)).toBeNull();
    // ImageWidth as a RATIONAL (type 5).
    expect(await readFirstIfd(memorySource(handMade("II", [[256, 5, 1, 0], ...basic.slice(1)])), 1 << 20)).toBeNull();
    // 1000 strip offsets stored past the end of the file.
    expect(await readFirstIfd(memorySource(handMade("II", [...basic.slice(0, 2), [273, 4, 1000, 60], [279, 4, 1, 4]])), 1 << 20)).toBeNull();
    // A value larger than one read may be.
    expect(await readFirstIfd(memorySource(handMade("II", [...basic.slice(0, 2), [273, 4, 8, 60], [279, 4, 1, 4]], new Uint8Array(64))), 16)).toBeNull();
    // No image size, and not a TIFF at all.
    expect(await readFirstIfd(memorySource(handMade("II", basic.slice(1))), 1 << 20)).toBeNull();
    expect(await readFirstIfd(memorySource(new TextEncoder().encode("GIF89a..")), 1 << 20)).toBeNull();
  });
});
