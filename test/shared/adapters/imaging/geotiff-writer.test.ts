import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";

async function readBack(tiff: Uint8Array) {
  const image = await (await fromArrayBuffer(tiff.slice().buffer)).getImage();
  const rasters = await image.readRasters({ interleave: false });
  return { image, bands: Array.from(rasters as ArrayLike<ArrayLike<number>>, (b) => Array.from(b)) };
}

/** Band k, pixel i → a value unique to both, so a swapped band or pixel shows. */
const sample = (k: number, i: number) => k * 1000 + i * 0.5;

describe("writeGeoTiff", () => {
  it("round-trips float32 bands through geotiff.js, uncompressed and deflate, across several strips", async () => {
    // 300 px × 4 float32 = 4800 bytes a row: about 54 rows per 256 KiB strip, so 3 strips.
    const width = 300;
    const height = 120;
    const bands = [0, 1, 2, 3].map((k) => Float32Array.from({ length: width * height }, (_, i) => sample(k, i)));
    bands[2]![17] = NaN;
    for (const compression of ["none", "deflate"] as const) {
      const { image, bands: read } = await readBack(writeGeoTiff({ width, height, bands, compression }));
      expect(image.getWidth()).toBe(width);
      expect(image.getHeight()).toBe(height);
      expect(image.getSamplesPerPixel()).toBe(4);
      expect(image.getSampleFormat()).toBe(3);
      expect(image.getBitsPerSample()).toBe(32);
      expect(image.fileDirectory.getValue("Compression")).toBe(compression === "deflate" ? 8 : 1);
      expect((await image.fileDirectory.loadValue("StripOffsets"))?.length).toBe(3);
      for (let k = 0; k < 4; k++) {
        for (const i of [0, 1, 17, width * 54, width * height - 1]) {
          if (k === 2 && i === 17) expect(read[k]![i]).toBeNaN();
          else expect(read[k]![i]).toBe(Math.fround(sample(k, i)));
        }
      }
    }
  });

  it("writes uint16 and uint8 bands with unsigned sample format", async () => {
    const u16 = [Uint16Array.from([0, 1, 65535, 300]), Uint16Array.from([5, 6, 7, 8])];
    const { image, bands } = await readBack(writeGeoTiff({ width: 2, height: 2, bands: u16, compression: "deflate" }));
    expect(image.getBitsPerSample()).toBe(16);
    expect(image.getSampleFormat()).toBe(1);
    expect(bands).toEqual([[0, 1, 65535, 300], [5, 6, 7, 8]]);

    const u8 = writeGeoTiff({ width: 3, height: 1, bands: [Uint8Array.from([9, 0, 255])] });
    const back = await readBack(u8);
    expect(back.image.getBitsPerSample()).toBe(8);
    expect(back.image.getSamplesPerPixel()).toBe(1);
    expect(back.bands).toEqual([[9, 0, 255]]);
  });

  it("declares GDAL_NODATA as text, including nan", async () => {
    const band = Float32Array.from([1, 2, 3, 4]);
    const declared = await readBack(writeGeoTiff({ width: 2, height: 2, bands: [band], nodata: -9999 }));
    expect(declared.image.fileDirectory.getValue("GDAL_NODATA")).toBe("-9999\0");
    expect(declared.image.getGDALNoData()).toBe(-9999);
    const nan = await readBack(writeGeoTiff({ width: 2, height: 2, bands: [band], nodata: NaN }));
    expect(nan.image.getGDALNoData()).toBeNaN();
    const none = await readBack(writeGeoTiff({ width: 2, height: 2, bands: [band] }));
    expect(none.image.getGDALNoData()).toBeNull();
  });

  it("writes the georeferencing: pixel scale, tiepoint and the EPSG code as a GeoKey", async () => {
    const band = new Float32Array(6);
    const projected = await readBack(writeGeoTiff({ width: 3, height: 2, bands: [band], epsg: 32633, origin: [400_000, 6_000_000], pixelSize: [20, 20] }));
    expect(projected.image.getGeoKeys()).toMatchObject({ GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, ProjectedCSTypeGeoKey: 32633 });
    expect(projected.image.getOrigin()).toEqual([400_000, 6_000_000, 0]);
    // geotiff.js reports the y resolution negative: rows go south.
    expect(projected.image.getResolution()).toEqual([20, -20, 0]);
    expect(projected.image.getBoundingBox()).toEqual([400_000, 6_000_000 - 40, 400_060, 6_000_000]);

    const geographic = await readBack(writeGeoTiff({ width: 3, height: 2, bands: [band], epsg: 4326, origin: [10, 50], pixelSize: [0.5, 0.25] }));
    expect(geographic.image.getGeoKeys()).toMatchObject({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4326 });
  });

  it("refuses inconsistent input with a clear message", () => {
    expect(() => writeGeoTiff({ width: 2, height: 2, bands: [new Float32Array(3)] })).toThrow(/band 1 has 3 samples, expected 4/);
    expect(() => writeGeoTiff({ width: 0, height: 2, bands: [new Float32Array(0)] })).toThrow(/positive whole pixels/);
    expect(() => writeGeoTiff({ width: 1, height: 1, bands: [] })).toThrow(/1\.\.65535 bands/);
    const mixed = [new Float32Array(1), new Uint16Array(1)] as unknown as Float32Array[];
    expect(() => writeGeoTiff({ width: 1, height: 1, bands: mixed })).toThrow(/same sample type/);
  });
});
