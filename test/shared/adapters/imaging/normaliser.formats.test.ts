import { zipSync } from "fflate";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { createNormaliser, detectFormat } from "../../../../shared/adapters/imaging/normaliser.ts";
import { channel, decode, image, options, productZip } from "./fixtures.ts";

const normaliser = createNormaliser();

/** 3×2 RGBA pixels with distinct values in every channel. */
const RGBA = Uint8Array.from([10, 20, 30, 255, 40, 50, 60, 128, 70, 80, 90, 0, 100, 110, 120, 255, 130, 140, 150, 255, 160, 170, 180, 255]);
const rgbOf = (rgba: Uint8Array) => Array.from(rgba).filter((_, i) => i % 4 !== 3);

function rawImage(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4) {
  return sharp(Buffer.from(data), { raw: { width, height, channels } });
}

describe("normaliser: plain images", () => {
  it("re-encodes an RGBA PNG as RGB, dropping alpha and keeping every colour", async () => {
    const png = await rawImage(RGBA, 3, 2, 4).png().toBuffer();
    const out = await normaliser.normalise(png, "shots/photo.png", options());
    expect(out).toMatchObject({ kind: "image", productName: "photo", width: 3, height: 2, bandCount: 4, nodataMask: null, nodataPixels: 0 });
    expect(out.images.map((i) => i.role)).toEqual(["image"]);
    const decoded = await decode(image(out, "image"));
    expect(decoded.channels).toBe(3);
    expect(Array.from(decoded.data)).toEqual(rgbOf(RGBA));
  });

  it("expands a greyscale PNG to RGB", async () => {
    const grey = Uint8Array.from([0, 64, 128, 255]);
    const png = await rawImage(grey, 2, 2, 1).toColourspace("b-w").png().toBuffer();
    const out = await normaliser.normalise(png, "g.png", options());
    const decoded = await decode(image(out, "image"));
    expect(decoded.channels).toBe(3);
    for (let c = 0; c < 3; c++) expect(channel(decoded, c)).toEqual(Array.from(grey));
  });

  it("re-encodes a JPEG as PNG, applying its EXIF orientation", async () => {
    const solid = new Uint8Array(16 * 8 * 3).fill(0).map((_, i) => [200, 100, 50][i % 3]!);
    const jpeg = await rawImage(solid, 16, 8, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const out = await normaliser.normalise(jpeg, "cam/IMG_1.JPG", options());
    // Orientation 6 means "rotate 90° clockwise to view": 16×8 stored, 8×16 shown.
    expect(out).toMatchObject({ kind: "image", productName: "IMG_1", width: 8, height: 16 });
    const decoded = await decode(image(out, "image"));
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([8, 16, 3]);
    const [r, g, b] = [0, 1, 2].map((c) => channel(decoded, c)[40]!);
    expect(Math.abs(r! - 200)).toBeLessThanOrEqual(4);
    expect(Math.abs(g! - 100)).toBeLessThanOrEqual(4);
    expect(Math.abs(b! - 50)).toBeLessThanOrEqual(4);
  });

  it("treats an 8-bit RGB TIFF and a one-band 8-bit TIFF as plain images", async () => {
    // LZW: sharp's default TIFF compression is JPEG, which is lossy.
    const rgbTiff = await rawImage(Uint8Array.from(rgbOf(RGBA)), 3, 2, 3).tiff({ compression: "lzw" }).toBuffer();
    const out = await normaliser.normalise(rgbTiff, "scan.tiff", options());
    expect(out).toMatchObject({ kind: "image", productName: "scan", bandCount: 3 });
    expect(Array.from((await decode(image(out, "image"))).data)).toEqual(rgbOf(RGBA));

    const greyTiff = writeGeoTiff({ width: 2, height: 1, bands: [Uint8Array.from([7, 250])] });
    const grey = await normaliser.normalise(greyTiff, "mask.tif", options());
    expect(grey).toMatchObject({ kind: "image", productName: "mask", bandCount: 1 });
    expect(Array.from((await decode(image(grey, "image"))).data)).toEqual([7, 7, 7, 250, 250, 250]);
  });

  it("treats a 4-band 8-bit BlackIsZero TIFF as a B,G,R,NIR product, not RGBA", async () => {
    const bands = [0, 1, 2, 3].map((k) => Uint8Array.from([k * 10, k * 10 + 5]));
    const out = await normaliser.normalise(writeGeoTiff({ width: 2, height: 1, bands }), "bgrn.tif", options());
    expect(out).toMatchObject({ kind: "product", productName: "bgrn", bandCount: 4 });
    expect(out.images.map((i) => i.role)).toEqual(["rgb", "nir"]);
  });

  it("treats a bare float GeoTIFF as a product named after its stem", async () => {
    const tiff = writeGeoTiff({ width: 2, height: 2, bands: [0, 1, 2, 3].map((k) => Float32Array.from([k, k + 1, k + 2, k + 3])) });
    const out = await normaliser.normalise(tiff, "dir/S2B_SCENE.TIF", options());
    expect(out).toMatchObject({ kind: "product", productName: "S2B_SCENE", width: 2, height: 2 });
  });
});

describe("normaliser: zips and format detection", () => {
  it("finds the largest TIFF at any depth, ignoring macOS resource forks, and names the product after it", async () => {
    const big = writeGeoTiff({ width: 8, height: 8, bands: [new Float32Array(64).fill(1), new Float32Array(64), new Float32Array(64), new Float32Array(64)] });
    const small = writeGeoTiff({ width: 1, height: 1, bands: [new Float32Array(1)] });
    const zip = zipSync({
      "PRODUCT.SAFE/GRANULE/L2A/IMG/S2A_MAIN.TIFF": big,
      "PRODUCT.SAFE/preview.tif": small,
      "__MACOSX/PRODUCT.SAFE/._S2A_MAIN.TIFF": new Uint8Array(big.length * 2),
      "PRODUCT.SAFE/MTD.xml": new TextEncoder().encode("<x/>"),
    });
    const out = await normaliser.normalise(zip, "PRODUCT.zip", options());
    expect(out).toMatchObject({ kind: "product", productName: "S2A_MAIN", width: 8, height: 8 });
  });

  it("detects the format from content, not from the name", async () => {
    const png = await rawImage(RGBA, 3, 2, 4).png().toBuffer();
    expect((await normaliser.normalise(png, "misnamed.zip", options())).kind).toBe("image");
    const zip = productZip("Z", { width: 2, height: 2, bands: [0, 1, 2, 3].map(() => new Float32Array(4)) });
    expect((await normaliser.normalise(zip, "misnamed.png", options())).kind).toBe("product");

    expect(detectFormat(Uint8Array.from([0x49, 0x49, 0x2b, 0x00]))).toBe("tiff"); // BigTIFF
    expect(detectFormat(Uint8Array.from([0x4d, 0x4d, 0x00, 0x2a]))).toBe("tiff");
    expect(detectFormat(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(detectFormat(new TextEncoder().encode("GIF89a"))).toBeNull();
  });
});
