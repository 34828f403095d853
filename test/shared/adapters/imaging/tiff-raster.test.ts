import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { openTiff, parseGdalNodata } from "../../../../shared/adapters/imaging/tiff-raster.ts";
import { generateScene } from "../../../../shared/core/demo/scenes.ts";

describe("openTiff", () => {
  it("reads the same bands as geotiff.js's own reader, in the requested order", async () => {
    const scene = generateScene({ seed: 31, width: 333, height: 170 }); // several strips, odd sizes
    const bands = [scene.bands.blue, scene.bands.green, scene.bands.red, scene.bands.nir];
    for (const compression of ["none", "deflate"] as const) {
      const tiff = writeGeoTiff({ width: 333, height: 170, bands, nodata: NaN, compression });
      // Offset the TIFF inside a larger buffer, as a zip entry view would be: strips start unaligned.
      const padded = new Uint8Array(tiff.length + 3);
      padded.set(tiff, 3);
      const raster = await openTiff(padded.subarray(3));
      expect(raster).toMatchObject({ width: 333, height: 170, bandCount: 4, bitsPerSample: 32, sampleFormat: 3, uniform: true, photometric: 1 });
      expect(raster.nodata).toBeNaN();
      const ours = await raster.readBands([3, 0, 2]);
      const reference = await (await (await fromArrayBuffer(tiff.slice().buffer)).getImage()).readRasters({ samples: [3, 0, 2], interleave: false });
      expect(ours.map((a) => a.constructor.name)).toEqual(["Float32Array", "Float32Array", "Float32Array"]);
      ours.forEach((band, k) => expect(band).toEqual(reference[k]));
      expect(ours[0]).toEqual(scene.bands.nir);
    }
  });
});

describe("parseGdalNodata", () => {
  it("reads GDAL's text forms and ignores what it cannot parse", () => {
    expect(parseGdalNodata("-9999\0")).toBe(-9999);
    expect(parseGdalNodata(" 0 ")).toBe(0);
    expect(parseGdalNodata("1e-3")).toBe(0.001);
    expect(parseGdalNodata("nan\0")).toBeNaN();
    expect(parseGdalNodata("-inf")).toBe(-Infinity);
    expect(parseGdalNodata("inf")).toBe(Infinity);
    expect(parseGdalNodata("none")).toBeNull();
    expect(parseGdalNodata("")).toBeNull();
    expect(parseGdalNodata(undefined)).toBeNull();
  });
});
