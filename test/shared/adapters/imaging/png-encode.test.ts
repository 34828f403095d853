import sharp from "sharp";
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { encodeRawPng } from "../../../../shared/adapters/imaging/png-encode.ts";

function samples(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe("encodeRawPng (Node zlib)", () => {
  for (const [width, height, channels] of [[1, 1, 1], [7, 3, 3], [33, 17, 1], [256, 129, 3]] as const) {
    it(`round-trips ${width}×${height}×${channels} through libvips' PNG decoder`, async () => {
      const data = samples(width * height * channels, width * 31 + height);
      const png = await encodeRawPng(data, width, height, channels);
      expect(await sharp(png).metadata()).toMatchObject({ format: "png", width, height, channels, depth: "uchar" });
      // sharp hands grey out as sRGB unless told it is grey.
      const image = sharp(png);
      const { data: decoded, info } = await (channels === 1 ? image.toColourspace("b-w") : image).raw().toBuffer({ resolveWithObject: true });
      expect(info).toMatchObject({ width, height, channels });
      expect(Buffer.compare(decoded, Buffer.from(data))).toBe(0);
      // Greyscale stays one channel in the file (colour type 0), RGB is truecolour (2).
      expect(png[25]).toBe(channels === 1 ? 0 : 2);
    });
  }

  it("writes rows with filter type 0 and a zlib stream libvips and zlib both accept", async () => {
    const data = samples(5 * 4 * 3, 9);
    const png = await encodeRawPng(data, 5, 4, 3);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString("latin1", 12, 16)).toBe("IHDR");
    const idatLength = png.readUInt32BE(33);
    expect(png.toString("latin1", 37, 41)).toBe("IDAT");
    const rows = inflateSync(png.subarray(41, 41 + idatLength));
    expect(rows.length).toBe(4 * (1 + 15));
    for (let y = 0; y < 4; y++) expect(rows[y * 16]).toBe(0);
    expect(png.toString("latin1", png.length - 8, png.length - 4)).toBe("IEND");
  });

  it("refuses samples that do not match the size", async () => {
    await expect(encodeRawPng(new Uint8Array(10), 2, 2, 3)).rejects.toThrow(/10 bytes for 2×2×3/);
    await expect(encodeRawPng(new Uint8Array(0), 0, 1, 1)).rejects.toThrow(/whole pixels/);
  });
});
