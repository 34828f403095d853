import { zipSync } from "fflate";
import { writeArrayBuffer } from "geotiff";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCorruptUploads } from "../../../../shared/adapters/demo/products.ts";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import { makeProductZip } from "../../../../shared/adapters/imaging/product-zip.ts";
import { expectPermanent, options, productZip } from "./fixtures.ts";

const normaliser = createNormaliser();
const fourBands = (n: number) => [0, 1, 2, 3].map((k) => Float32Array.from({ length: n }, (_, i) => k + i / n));

/** Sets a LONG/SHORT tag's inline value in the first IFD of a little-endian TIFF. */
function patchTag(tiff: Uint8Array, tag: number, value: number): Uint8Array {
  const copy = tiff.slice();
  const view = new DataView(copy.buffer);
  const ifd = view.getUint32(4, true);
  const entries = view.getUint16(ifd, true);
  for (let k = 0; k < entries; k++) {
    const at = ifd + 2 + k * 12;
    if (view.getUint16(at, true) !== tag) continue;
    if (view.getUint16(at + 2, true) === 3) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
    return copy;
  }
  throw new Error(`tag ${tag} not found`);
}

// geotiff.js decodes strips in promises; a failure must reject our call, not float away unhandled.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

describe("normaliser: bad input is a PermanentError with a reason", () => {
  const corrupt = makeCorruptUploads(7);

  it("empty_object for zero bytes", async () => {
    const err = await expectPermanent(normaliser.normalise(corrupt.zeroByte, "in/x.zip", options()), "empty_object");
    expect(err.message).toContain("x.zip");
  });

  it("corrupt_zip for random bytes named .zip, a cut-off zip, a bad CRC and an entry larger than declared", async () => {
    await expectPermanent(normaliser.normalise(corrupt.randomBytesZip, "P.zip", options()), "corrupt_zip");

    const zip = productZip("P", { width: 16, height: 16, bands: fourBands(256) });
    await expectPermanent(normaliser.normalise(zip.subarray(0, Math.floor(zip.length / 2)), "P.zip", options()), "corrupt_zip");

    // A stored entry: flip one byte of its data (just past the 30-byte local header and name).
    const stored = makeProductZip("S", writeGeoTiff({ width: 4, height: 4, bands: fourBands(16) }), {}, { level: 0 });
    const flipped = stored.slice();
    const dataStart = 30 + "S/".length + 30 + "S/S.tif".length;
    flipped[dataStart + 100] = flipped[dataStart + 100]! ^ 0xff;
    const crcErr = await expectPermanent(normaliser.normalise(flipped, "S.zip", options()), "corrupt_zip");
    expect(crcErr.message).toMatch(/CRC/);

    // Lie about the inflated size in the central directory: inflating must stop at the declared size.
    const liar = zip.slice();
    const view = new DataView(liar.buffer);
    for (let at = liar.length - 22; at >= 0; at--) {
      if (view.getUint32(at, true) !== 0x02014b50) continue;
      const nameLength = view.getUint16(at + 28, true);
      const name = new TextDecoder().decode(liar.subarray(at + 46, at + 46 + nameLength));
      if (name.endsWith(".tif")) view.setUint32(at + 24, 1000, true);
    }
    await expectPermanent(normaliser.normalise(liar, "P.zip", options()), "corrupt_zip");
  });

  it("no_geotiff for a zip without a TIFF, naming what it found", async () => {
    const zip = zipSync({ "P/MTD.xml": new TextEncoder().encode("<x/>"), "P/readme.txt": new Uint8Array(3) });
    const err = await expectPermanent(normaliser.normalise(zip, "P.zip", options()), "no_geotiff");
    expect(err.message).toContain("P/MTD.xml");
    await expectPermanent(normaliser.normalise(zipSync({}), "empty.zip", options()), "no_geotiff");
  });

  it("corrupt_tiff for truncated, damaged and misnamed TIFFs, bare or zipped", async () => {
    const truncated = await expectPermanent(normaliser.normalise(corrupt.truncatedTiff, "T.tif", options()), "corrupt_tiff");
    expect(truncated.message).toMatch(/truncated/);

    // Deflate strips cut mid-stream, inside an intact zip.
    const deflated = writeGeoTiff({ width: 64, height: 64, bands: fourBands(64 * 64), compression: "deflate" });
    await expectPermanent(normaliser.normalise(makeProductZip("D", deflated.subarray(0, deflated.length - 500)), "D.zip", options()), "corrupt_tiff");

    // A header whose first directory lies beyond the end of the file.
    const header = Uint8Array.from([0x49, 0x49, 0x2a, 0x00, 0xff, 0xff, 0x00, 0x00, 1, 2, 3]);
    await expectPermanent(normaliser.normalise(header, "H.tif", options()), "corrupt_tiff");

    // Garbage in the deflate strips of an otherwise valid file.
    const garbage = deflated.slice();
    garbage.fill(0x55, 400, 2000);
    await expectPermanent(normaliser.normalise(garbage, "G.tif", options()), "corrupt_tiff");

    // Off the fast path: a big-endian file (read by geotiff.js itself) cut short.
    const bigEndian = new Uint8Array(writeArrayBuffer(new Float32Array(32 * 32 * 4).fill(1), { width: 32, height: 32 }));
    await expectPermanent(normaliser.normalise(bigEndian.subarray(0, bigEndian.length - 4000), "BE.tif", options()), "corrupt_tiff");

    await expectPermanent(normaliser.normalise(corrupt.randomBytesZip, "R.tif", options()), "corrupt_tiff");

    // A header that promises more pixels than its strips can hold is refused before allocating.
    const small = writeGeoTiff({ width: 2, height: 2, bands: fourBands(4) }); // one 64-byte strip
    const shortStrip = await expectPermanent(normaliser.normalise(patchTag(small, 279, 4), "S.tif", options()), "corrupt_tiff");
    expect(shortStrip.message).toMatch(/strip 1 has 4 bytes, too few for 64/);
    const tall = await expectPermanent(normaliser.normalise(patchTag(small, 257, 40_000), "T.tif", options()), "corrupt_tiff");
    expect(tall.message).toMatch(/strips expected/);
  });

  it("empty_raster for a zero-size raster", async () => {
    const tiff = writeGeoTiff({ width: 2, height: 2, bands: fourBands(4) });
    await expectPermanent(normaliser.normalise(patchTag(tiff, 256, 0), "Z.tif", options()), "empty_raster");
    await expectPermanent(normaliser.normalise(makeProductZip("Z", patchTag(tiff, 257, 0)), "Z.zip", options()), "empty_raster");
  });

  it("decode_too_large counts an inflated entry with the band arrays it is decoded into", async () => {
    // The same 256² 4-band float32 raster (1 MiB of samples, uncompressed), stored in one zip and
    // deflated in the other: only the deflated one makes the normaliser hold the entry's bytes too.
    const tiff = writeGeoTiff({ width: 256, height: 256, bands: fourBands(256 * 256), compression: "none" });
    const limits = { maxDecodeBytes: Math.round(3.6 * 1024 * 1024) };
    const stored = await normaliser.normalise(makeProductZip("S", tiff, {}, { level: 0 }), "S.zip", options({ limits }));
    expect(stored.width).toBe(256);
    const err = await expectPermanent(normaliser.normalise(makeProductZip("D", tiff, {}, { level: 6 }), "D.zip", options({ limits })), "decode_too_large");
    expect(err.message).toMatch(/inflated entry/);
    // With the budget for both, the deflated one normalises to the same images.
    const deflated = await normaliser.normalise(makeProductZip("D", tiff, {}, { level: 6 }), "D.zip", options({ limits: { maxDecodeBytes: Math.round(4.5 * 1024 * 1024) } }));
    expect(deflated.images.map((i) => i.png)).toEqual(stored.images.map((i) => i.png));
  });

  it("bad_band_mapping names the band count", async () => {
    const zip = productZip("B", { width: 2, height: 2, bands: fourBands(4) });
    const rgb = await expectPermanent(normaliser.normalise(zip, "B.zip", options({ rgbBands: [5, 2, 1] })), "bad_band_mapping");
    expect(rgb.message).toMatch(/band 5 .*4 bands/);
    const nir = await expectPermanent(normaliser.normalise(zip, "B.zip", options({ nirBand: 9 })), "bad_band_mapping");
    expect(nir.message).toMatch(/band 9 .*4 bands/);
  });

  it("unsupported_format for unknown content, corrupt_image for a broken PNG", async () => {
    const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00");
    const err = await expectPermanent(normaliser.normalise(gif, "anim.gif", options()), "unsupported_format");
    expect(err.message).toMatch(/47 49 46 38/);
    await expectPermanent(normaliser.normalise(corrupt.randomBytesZip, "blob", options()), "unsupported_format");

    const brokenPng = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);
    await expectPermanent(normaliser.normalise(brokenPng, "x.png", options()), "corrupt_image");
  });

  it("bad_options for nonsense options", async () => {
    const zip = productZip("O", { width: 2, height: 2, bands: fourBands(4) });
    await expectPermanent(normaliser.normalise(zip, "O.zip", options({ rgbBands: [0, 1, 2] })), "bad_options");
    await expectPermanent(normaliser.normalise(zip, "O.zip", options({ stretchPercentiles: [98, 2] })), "bad_options");
  });
});
