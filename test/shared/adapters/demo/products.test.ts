import { unzipSync } from "fflate";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { makeCorruptUploads, makeDemoProduct } from "../../../../shared/adapters/demo/products.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import { generateScene } from "../../../../shared/core/demo/scenes.ts";
import { PermanentError } from "../../../../shared/errors.ts";
import type { NormaliseOptions } from "../../../../shared/ports.ts";

const DEFAULTS: NormaliseOptions = { rgbBands: [3, 2, 1], nirBand: 4, stretchPercentiles: [2, 98], nodataValue: null };

async function readTiff(zip: Uint8Array, path: string) {
  const files = unzipSync(zip);
  const tiff = files[path];
  expect(tiff, `${path} in ${Object.keys(files).join(", ")}`).toBeDefined();
  const image = await (await fromArrayBuffer(tiff!.slice().buffer)).getImage();
  const bands = Array.from((await image.readRasters({ interleave: false })) as ArrayLike<Float32Array>);
  return { files, image, bands };
}

describe("makeDemoProduct", () => {
  it("packages the scene as <name>/<name>.tif (float32 B,G,R,NIR, deflate, NaN nodata) with MTD.xml, ground truth aside", async () => {
    const product = makeDemoProduct({ seed: 9, width: 48, height: 40, name: "DEMO_0009" });
    const scene = generateScene({ seed: 9, width: 48, height: 40 });
    const { files, image, bands } = await readTiff(product.zip, "DEMO_0009/DEMO_0009.tif");
    expect(Object.keys(files)).toContain("DEMO_0009/MTD.xml");
    expect(new TextDecoder().decode(files["DEMO_0009/MTD.xml"])).toContain('name="DEMO_0009"');
    expect([image.getWidth(), image.getHeight(), image.getSamplesPerPixel(), image.getSampleFormat()]).toEqual([48, 40, 4, 3]);
    expect(image.fileDirectory.getValue("Compression")).toBe(8);
    expect(image.getGDALNoData()).toBeNaN();
    expect(bands[0]).toEqual(scene.bands.blue);
    expect(bands[1]).toEqual(scene.bands.green);
    expect(bands[2]).toEqual(scene.bands.red);
    expect(bands[3]).toEqual(scene.bands.nir);
    expect(product.groundTruth).toEqual({ width: 48, height: 40, mask: scene.groundTruth });
  });

  it("writes a declared nodata value into the nodata pixels and the GDAL_NODATA tag", async () => {
    const product = makeDemoProduct({ seed: 4, width: 32, height: 32, name: "ND", nodataValue: -9999 });
    const { image, bands } = await readTiff(product.zip, "ND/ND.tif");
    expect(image.getGDALNoData()).toBe(-9999);
    const truth = product.groundTruth.mask;
    let nodata = 0;
    truth.forEach((cls, i) => {
      for (const band of bands) {
        if (cls === 0) expect(band[i]).toBe(-9999);
        else expect(Number.isNaN(band[i]) || band[i] === -9999).toBe(false);
      }
      if (cls === 0) nodata++;
    });
    expect(nodata).toBeGreaterThan(0);
  });

  it("normalises to a nodata mask that matches the ground truth's background", async () => {
    for (const nodataValue of [undefined, -9999]) {
      const product = makeDemoProduct({ seed: 3, width: 64, height: 48, name: "M", ...(nodataValue === undefined ? {} : { nodataValue }) });
      const out = await createNormaliser().normalise(product.zip, "M.zip", DEFAULTS);
      const background = product.groundTruth.mask.filter((c) => c === 0).length;
      expect(out).toMatchObject({ kind: "product", productName: "M", width: 64, height: 48, bandCount: 4, nodataPixels: background });
    }
  });
});

describe("makeCorruptUploads", () => {
  it("is deterministic and each case fails normalisation with its own code", async () => {
    const a = makeCorruptUploads(5);
    expect(makeCorruptUploads(5)).toEqual(a);
    expect(makeCorruptUploads(6).randomBytesZip).not.toEqual(a.randomBytesZip);
    const normaliser = createNormaliser();
    const codeOf = (bytes: Uint8Array, name: string) =>
      normaliser.normalise(bytes, name, DEFAULTS).then(
        () => "no error",
        (err: unknown) => (err instanceof PermanentError ? err.code : `raw ${String(err)}`),
      );
    expect(await codeOf(a.randomBytesZip, "upload.zip")).toBe("corrupt_zip");
    expect(await codeOf(a.truncatedTiff, "upload.tif")).toBe("corrupt_tiff");
    expect(await codeOf(a.zeroByte, "upload.zip")).toBe("empty_object");
  });
});
