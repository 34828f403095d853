import { writeArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { bandStatistics } from "../../../../shared/core/drift/stats.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { makeProductZip } from "../../../../shared/adapters/imaging/product-zip.ts";
import { channel, decode, expectPermanent, image, linearByte, options, productZip } from "./fixtures.ts";

const normaliser = createNormaliser();

/** 4×2 pixels, four bands with patterns no two of which agree, so a swapped band shows. */
function patternedBands() {
  const px = [0, 1, 2, 3, 4, 5, 6, 7];
  return {
    blue: Float32Array.from(px, (p) => p * 10), // rising ramp 0..70
    green: Float32Array.from(px, (p) => (7 - p) * 3), // falling ramp 21..0
    red: Float32Array.from(px, (p) => (p === 7 ? 5 : 0)), // one bright pixel
    nir: Float32Array.from(px, (p) => (p % 2) * 2 + 1), // alternating 1, 3
  };
}

/** Expected bytes of a band under a linear stretch over the pixels not in `masked`. */
function expectedLinear(values: ArrayLike<number>, masked: Set<number> = new Set()): number[] {
  const valid = Array.from(values).filter((_, i) => !masked.has(i));
  const lo = Math.min(...valid);
  const hi = Math.max(...valid);
  return Array.from(values, (v, i) => (masked.has(i) ? 0 : linearByte(v, lo, hi)));
}

describe("normaliser: products", () => {
  it("reads strips in place or copies bands to the same images, with drift statistics of what it wrote", async () => {
    // 5 bands over several strips (of ~256 KiB), with nodata: RGB + NIR read 4 of the 5 samples
    // (copied into band arrays), a 4-band file has all of them read (strips kept in place).
    const width = 300;
    const height = 700;
    const bands = Array.from({ length: 5 }, (_, b) =>
      Float32Array.from({ length: width * height }, (_, i) => (i % 97 === 0 ? -9999 : Math.sin(i * 0.001 * (b + 1)) * 100 + b)),
    );
    const five = await normaliser.normalise(productZip("FIVE", { width, height, bands, nodata: -9999, compression: "deflate" }), "FIVE.zip", options());
    const four = await normaliser.normalise(productZip("FOUR", { width, height, bands: bands.slice(0, 4), nodata: -9999, compression: "deflate" }), "FOUR.zip", options());
    expect(four.images.map((i) => i.png)).toEqual(five.images.map((i) => i.png));
    expect(four.bandStats).toEqual(five.bandStats);
    // The statistics are those of the written PNGs over valid pixels.
    const rgb = await decode(four.images[0]!.png);
    const nir = await decode(four.images[1]!.png);
    const mask = (await decode(four.nodataMask)).data;
    expect(four.nodataPixels).toBe(Math.ceil((width * height) / 97));
    expect(four.bandStats!.bands).toEqual({
      red: bandStatistics(rgb.data, 3, 0, width * height, mask),
      green: bandStatistics(rgb.data, 3, 1, width * height, mask),
      blue: bandStatistics(rgb.data, 3, 2, width * height, mask),
      nir: bandStatistics(nir.data, 1, 0, width * height, mask),
    });
  });

  it("maps bands to channels as configured and writes RGB + NIR PNGs of the raster's size", async () => {
    const b = patternedBands();
    const zip = productZip("S2_TEST", { width: 4, height: 2, bands: [b.blue, b.green, b.red, b.nir], compression: "deflate" });
    const out = await normaliser.normalise(zip, "uploads/whatever.zip", options());

    expect(out).toMatchObject({ kind: "product", productName: "S2_TEST", width: 4, height: 2, bandCount: 4, nodataPixels: 0, nodataMask: null });
    const rgb = await decode(image(out, "rgb"));
    const nir = await decode(image(out, "nir"));
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([4, 2, 3]);
    expect([nir.width, nir.height, nir.channels]).toEqual([4, 2, 1]);
    expect(channel(rgb, 0)).toEqual(expectedLinear(b.red));
    expect(channel(rgb, 1)).toEqual(expectedLinear(b.green));
    expect(channel(rgb, 2)).toEqual(expectedLinear(b.blue));
    expect(channel(nir, 0)).toEqual(expectedLinear(b.nir));
    // Spot-check the definition itself: the falling ramp's first pixel is its maximum.
    expect(channel(rgb, 1)[0]).toBe(255);
    expect(channel(rgb, 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 255]);

    const swapped = await normaliser.normalise(zip, "p.zip", options({ rgbBands: [1, 4, 2], nirBand: null }));
    const rgb2 = await decode(image(swapped, "rgb"));
    expect(channel(rgb2, 0)).toEqual(expectedLinear(b.blue));
    expect(channel(rgb2, 1)).toEqual(expectedLinear(b.nir));
    expect(channel(rgb2, 2)).toEqual(expectedLinear(b.green));
    expect(image(swapped, "nir")).toBeUndefined();
  });

  it("turns NaN and infinities in any band into 0 everywhere and 255 in the nodata mask", async () => {
    const b = patternedBands();
    b.green[5] = NaN;
    b.nir[3] = NaN; // NIR is read (nir=4), so its nodata masks the RGB pixel too
    b.blue[6] = Infinity;
    const zip = productZip("P", { width: 4, height: 2, bands: [b.blue, b.green, b.red, b.nir], nodata: NaN });
    const out = await normaliser.normalise(zip, "P.zip", options());
    const masked = new Set([3, 5, 6]);
    expect(out.nodataPixels).toBe(3);
    const mask = await decode(out.nodataMask);
    expect(mask.channels).toBe(1);
    expect(Array.from(mask.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((p) => (masked.has(p) ? 255 : 0)));
    const rgb = await decode(image(out, "rgb"));
    const nir = await decode(image(out, "nir"));
    expect(channel(rgb, 0)).toEqual(expectedLinear(b.red, masked));
    expect(channel(rgb, 1)).toEqual(expectedLinear(b.green, masked));
    expect(channel(rgb, 2)).toEqual(expectedLinear(b.blue, masked));
    expect(channel(nir, 0)).toEqual(expectedLinear(b.nir, masked));
  });

  it("honours the declared GDAL_NODATA value, and options.nodataValue overrides it", async () => {
    const b = patternedBands();
    b.blue[0] = -9999;
    const zip = productZip("P", { width: 4, height: 2, bands: [b.blue, b.green, b.red, b.nir], nodata: -9999 });

    const declared = await normaliser.normalise(zip, "P.zip", options());
    expect(declared.nodataPixels).toBe(1);
    expect(Array.from((await decode(declared.nodataMask)).data)).toEqual([255, 0, 0, 0, 0, 0, 0, 0]);
    // The nodata value does not take part in the stretch: the ramp 10..70 spans 0..255.
    expect(channel(await decode(image(declared, "rgb")), 2)).toEqual(expectedLinear(b.blue, new Set([0])));

    const overridden = await normaliser.normalise(zip, "P.zip", options({ nodataValue: 70 }));
    expect(overridden.nodataPixels).toBe(1);
    expect(Array.from((await decode(overridden.nodataMask)).data)).toEqual([0, 0, 0, 0, 0, 0, 0, 255]);
    // −9999 is an ordinary value now, so pixel 0 is the blue band's minimum.
    expect(channel(await decode(image(overridden, "rgb")), 2)).toEqual(expectedLinear(b.blue, new Set([7])));
  });

  it("stretches between the chosen percentiles (nearest rank over valid pixels), clamping outliers", async () => {
    // 10×10: the values 0..99 in a scrambled order, with two outliers and one nodata pixel.
    const values = Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
    values[values.indexOf(99)] = 1000;
    values[values.indexOf(0)] = -500;
    const nodataAt = values.indexOf(50);
    values[nodataAt] = -9999;
    const valid = values.filter((_, i) => i !== nodataAt).sort((a, b) => a - b);
    const rank = (p: number) => Math.max(1, Math.ceil((p / 100) * valid.length));
    const lo = valid[rank(2) - 1]!;
    const hi = valid[rank(98) - 1]!;
    // By hand: 99 valid values sorted are −500, 1, …, 49, 51, …, 98, 1000; ranks 2 and 98 are 1 and 98.
    expect([lo, hi]).toEqual([1, 98]);

    const float = productZip("F", { width: 10, height: 10, bands: [Float32Array.from(values)], nodata: -9999 });
    const out = await normaliser.normalise(float, "F.zip", options({ rgbBands: [1, 1, 1], nirBand: null, stretchPercentiles: [2, 98] }));
    const red = channel(await decode(image(out, "rgb")), 0);
    values.forEach((v, i) => {
      if (i === nodataAt) return expect(red[i]).toBe(0);
      // A float histogram locates a percentile to within one of 65536 bins: allow one grey level.
      expect(Math.abs(red[i]! - linearByte(v, lo, hi)), `pixel ${i} value ${v}`).toBeLessThanOrEqual(1);
    });
    expect(red[values.indexOf(lo)]).toBe(0);
    expect(red[values.indexOf(hi)]).toBe(255);
    expect(red[values.indexOf(-500)]).toBe(0);
    expect(red[values.indexOf(1000)]).toBe(255);

    // Integers get one histogram bin per value: exact.
    const shifted = values.map((v) => (v === -9999 ? 0 : v + 600)); // all valid values positive
    const ints = productZip("U", { width: 10, height: 10, bands: [Uint16Array.from(shifted)], nodata: 0 });
    const outInt = await normaliser.normalise(ints, "U.zip", options({ rgbBands: [1, 1, 1], nirBand: null, stretchPercentiles: [2, 98] }));
    const green = channel(await decode(image(outInt, "rgb")), 1);
    expect(green).toEqual(shifted.map((v, i) => (i === nodataAt ? 0 : linearByte(v, lo + 600, hi + 600))));
  });

  it("assembles multi-strip deflate rasters in order", async () => {
    const width = 300;
    const height = 130; // several 256 KiB strips, the last one short
    const n = width * height;
    const bands = [0, 1, 2, 3].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001 * (k + 1)) + (i % width) / width));
    const zip = productZip("S", { width, height, bands, compression: "deflate" });
    const out = await normaliser.normalise(zip, "S.zip", options());
    expect(channel(await decode(image(out, "nir")), 0)).toEqual(expectedLinear(bands[3]!));
    expect(channel(await decode(image(out, "rgb")), 0)).toEqual(expectedLinear(bands[2]!));
  });

  it("reads a sparse strip (byte count 0, as GDAL writes with SPARSE_OK) as nodata", async () => {
    const width = 300;
    const height = 120; // three strips of 54, 54 and 12 rows
    const bands = [0, 1, 2, 3].map((k) => new Float32Array(width * height).fill(k + 1));
    const tiff = writeGeoTiff({ width, height, bands, nodata: -9999 });
    // Zero the second entry of StripByteCounts (tag 279, three LONGs stored out of line).
    const view = new DataView(tiff.buffer);
    const ifd = view.getUint32(4, true);
    for (let k = 0; k < view.getUint16(ifd, true); k++) {
      const at = ifd + 2 + k * 12;
      if (view.getUint16(at, true) === 279) view.setUint32(view.getUint32(at + 8, true) + 4, 0, true);
    }
    const out = await normaliser.normalise(tiff, "sparse.tif", options());
    expect(out.nodataPixels).toBe(54 * width);
    const mask = (await decode(out.nodataMask)).data;
    expect([mask[0], mask[53 * width], mask[54 * width], mask[108 * width - 1], mask[108 * width]]).toEqual([0, 0, 255, 255, 0]);
  });

  it("reads layouts off the fast path (big-endian, via geotiff.js) to the same pixels", async () => {
    const b = patternedBands();
    const bands = [b.blue, b.green, b.red, b.nir];
    const interleaved = new Float32Array(8 * 4);
    for (let p = 0; p < 8; p++) for (let k = 0; k < 4; k++) interleaved[p * 4 + k] = bands[k]![p]!;
    const bigEndian = new Uint8Array(writeArrayBuffer(interleaved, { width: 4, height: 2 }));
    expect(String.fromCharCode(bigEndian[0]!, bigEndian[1]!)).toBe("MM");

    const slow = await normaliser.normalise(makeProductZip("P", bigEndian), "P.zip", options());
    const fast = await normaliser.normalise(productZip("P", { width: 4, height: 2, bands }), "P.zip", options());
    expect(slow.kind).toBe("product");
    expect((await decode(image(slow, "rgb"))).data).toEqual((await decode(image(fast, "rgb"))).data);
    expect((await decode(image(slow, "nir"))).data).toEqual((await decode(image(fast, "nir"))).data);
  });

  it("gives a constant band 0 with a single_value warning, and refuses an all-nodata product", async () => {
    const flat = productZip("C", { width: 2, height: 2, bands: [Float32Array.from([4, 4, 4, 4])] });
    const out = await normaliser.normalise(flat, "C.zip", options({ rgbBands: [1, 1, 1], nirBand: null, stretchPercentiles: [2, 98] }));
    expect(Array.from((await decode(image(out, "rgb"))).data)).toEqual(new Array(12).fill(0));
    expect(out.warnings).toEqual([expect.stringMatching(/^single_value: .*band 1 = 4/)]);
    await expectPermanent(normaliser.normalise(flat, "C.zip", options({ rgbBands: [1, 1, 1], nirBand: null, singleValueImages: "fail" })), "single_value");

    // One band constant is not a flat image: the others still show something.
    const varied = productZip("V", { width: 2, height: 2, bands: [Float32Array.from([4, 4, 4, 4]), Float32Array.from([1, 2, 3, 4])] });
    expect((await normaliser.normalise(varied, "V.zip", options({ rgbBands: [1, 2, 1], nirBand: null }))).warnings).toBeUndefined();

    const empty = productZip("E", { width: 2, height: 2, bands: [Float32Array.from([NaN, NaN, NaN, NaN])], nodata: NaN });
    const err = await expectPermanent(normaliser.normalise(empty, "E.zip", options({ rgbBands: [1, 1, 1], nirBand: 1 })), "no_valid_pixels");
    expect(err.message).toMatch(/every pixel of band 1 is nodata/);
    const sentinel = productZip("S", { width: 2, height: 2, bands: [Float32Array.from([-9999, -9999, -9999, -9999])], nodata: -9999 });
    await expectPermanent(normaliser.normalise(sentinel, "S.zip", options({ rgbBands: [1, 1, 1], nirBand: 1 })), "no_valid_pixels");
  });
});
