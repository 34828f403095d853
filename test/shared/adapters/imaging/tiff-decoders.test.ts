import { zlibSync } from "fflate";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeBlockForTest } from "../../../../shared/adapters/imaging/tiff-decoders.ts";
import { openTiff } from "../../../../shared/adapters/imaging/tiff-raster.ts";

/**
 * TIFF LZW written from the specification (TIFF 6.0 §13: MSB-first codes, 9–12 bits, the code
 * width grows one code early), independently of the decoder under test.
 */
function lzwEncode(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let accBits = 0;
  let width = 9;
  const write = (code: number) => {
    acc = (acc << width) | code;
    accBits += width;
    while (accBits >= 8) {
      out.push((acc >>> (accBits - 8)) & 0xff);
      accBits -= 8;
    }
    acc &= (1 << accBits) - 1;
  };
  let table = new Map<number, number>();
  let next = 258;
  write(256);
  let prefix = data[0]!;
  for (let i = 1; i < data.length; i++) {
    const key = prefix * 256 + data[i]!;
    const known = table.get(key);
    if (known !== undefined) {
      prefix = known;
      continue;
    }
    write(prefix);
    table.set(key, next++);
    if (next >= 1 << width && width < 12) width++;
    if (next >= 4094) {
      write(256);
      table = new Map();
      next = 258;
      width = 9;
    }
    prefix = data[i]!;
  }
  write(prefix);
  if (next + 1 >= 1 << width && width < 12) width++;
  write(257);
  if (accBits > 0) out.push((acc << (8 - accBits)) & 0xff);
  return Uint8Array.from(out);
}

describe("bounded TIFF block decoders", () => {
  it("decode LZW exactly as the specification encodes it", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const samples = [
      Uint8Array.from({ length: 5000 }, () => random()),
      Uint8Array.from({ length: 20_000 }, (_, i) => (i % 97 < 50 ? 0 : random() & 3)),
      new Uint8Array(70_000).fill(9),
      Uint8Array.from([1]),
    ];
    for (const data of samples) expect(decodeBlockForTest(5, lzwEncode(data), data.length)).toEqual(data);
  });

  it("stop at the block size, whatever the data would expand to", () => {
    // 4 MiB of zeros in a few KB of LZW, 16 MiB in 16 KB of deflate, 128× runs of PackBits.
    const lzw = lzwEncode(new Uint8Array(4 * 1024 * 1024));
    expect(decodeBlockForTest(5, lzw, 4096)).toHaveLength(4096);
    const packbits = Uint8Array.from({ length: 200_000 }, (_, i) => (i % 2 === 0 ? 0x81 : 7)); // -127: repeat the next byte 128 times
    const decoded = decodeBlockForTest(32773, packbits, 1000);
    expect(decoded).toHaveLength(1000);
    expect(decoded.every((b) => b === 7)).toBe(true);
    const deflate = zlibSync(new Uint8Array(16 * 1024 * 1024));
    expect(() => decodeBlockForTest(8, deflate, 4096)).toThrow(/larger than 4096/);
  });

  it("read TIFFs that libtiff wrote with LZW, PackBits and deflate, striped and tiled, with the horizontal predictor", async () => {
    const width = 70;
    const height = 50;
    const u8 = Uint8Array.from({ length: width * height * 4 }, (_, i) => (Math.floor(i / 4) % 7 === 0 ? 200 : (i * 37 + (i >> 9)) % 256));
    const u16 = Uint16Array.from({ length: width * height * 4 }, (_, i) => (i * 37) % 65536);
    for (const data of [u8, u16]) {
      for (const compression of ["lzw", "packbits", "deflate"] as const) {
        for (const tile of [false, true]) {
          for (const predictor of ["none", "horizontal"] as const) {
            let image = sharp(data, { raw: { width, height, channels: 4 } });
            if (data instanceof Uint16Array) image = image.toColourspace("rgb16");
            const tiff = await image.tiff({ compression, tile, tileWidth: 32, tileHeight: 32, predictor }).toBuffer();
            const raster = await openTiff(tiff);
            expect(raster.bitsPerSample).toBe(data.BYTES_PER_ELEMENT * 8);
            const [first, last] = await raster.readBands([0, 3]);
            const label = `${data.constructor.name} ${compression} ${tile ? "tiled" : "striped"} predictor=${predictor}`;
            expect(Array.from(first!), label).toEqual(Array.from({ length: width * height }, (_, p) => data[p * 4]));
            expect(Array.from(last!), label).toEqual(Array.from({ length: width * height }, (_, p) => data[p * 4 + 3]));
          }
        }
      }
    }
  });
});
