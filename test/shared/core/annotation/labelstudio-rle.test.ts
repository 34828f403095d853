import { describe, expect, it } from "vitest";
import { brushRleToAlpha, decodeBrushRle, encodeBrushRle, maskToBrushRle } from "../../../../shared/core/annotation/labelstudio-rle.ts";

/**
 * Vectors produced by label-studio-converter's own `mask2rle` / `encode_rle` (brush.py), and the
 * editor's encoder (@thi.ng/rle-pack) where it differs. Masks are compared, not bytes, except
 * where both of Label Studio's encoders agree on the bytes.
 */
const V1 = { height: 2, width: 3, rows: [[0, 255, 255], [0, 0, 255]], rle: [0, 0, 0, 24, 57, 27, 252, 96, 19, 255, 206, 1, 31, 248] };
const V3_PYTHON = [0, 0, 0, 24, 57, 27, 254, 23, 0, 0];
const V3_EDITOR = [0, 0, 0, 24, 57, 27, 254, 23, 0];

/** `mask2rle`'s input as RGBA words: each mask value repeated four times. */
const rgba = (mask: number[]) => Uint8Array.from(mask.flatMap((v) => [v, v, v, v]));

describe("Label Studio brush RLE", () => {
  it("decodes V1 (2×3, rows 0,255,255 / 0,0,255) to its mask", () => {
    expect([...brushRleToAlpha(V1.rle, V1.width, V1.height)]).toEqual(V1.rows.flat());
    expect([...decodeBrushRle(V1.rle)]).toEqual([...rgba(V1.rows.flat())]);
  });

  it("encodes V1 to the converter's exact bytes, and its own output decodes back", () => {
    expect(encodeBrushRle(rgba(V1.rows.flat()))).toEqual(V1.rle);
    expect(maskToBrushRle(Uint8Array.from(V1.rows.flat()))).toEqual(V1.rle);
    expect([...brushRleToAlpha(maskToBrushRle(Uint8Array.from(V1.rows.flat())), 3, 2)]).toEqual(V1.rows.flat());
  });

  it("decodes V3 (2×3 all zero) from both the Python bytes (spare 0x00) and the editor's", () => {
    expect([...brushRleToAlpha(V3_PYTHON, 3, 2)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...brushRleToAlpha(V3_EDITOR, 3, 2)]).toEqual([0, 0, 0, 0, 0, 0]);
    // Our encoder pads only to the byte, like the editor: exactly the 9-byte form.
    expect(encodeBrushRle(new Uint8Array(24))).toEqual(V3_EDITOR);
  });

  it("decodes literal blocks of several words (the editor groups non-repeating words)", () => {
    // Header, then one literal block `0 00 010` (3 words) 1,2,3, then a run `1 00 000` of one 9.
    const bits = "00000000000000000000000000000100" + "00111" + "0010" + "0011" + "0111" + "1111" + "000010" + "00000001" + "00000010" + "00000011" + "100000" + "00001001";
    const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "0");
    const bytes = Array.from({ length: padded.length / 8 }, (_, i) => parseInt(padded.slice(i * 8, i * 8 + 8), 2));
    expect([...decodeBrushRle(bytes)]).toEqual([1, 2, 3, 9]);
  });

  it("round-trips masks with long runs (the 16-bit class, runs split at 65536)", () => {
    const mask = new Uint8Array(200 * 150);
    for (let i = 0; i < mask.length; i++) mask[i] = (i % 200) > 120 || i > 20_000 ? 255 : 0;
    expect([...brushRleToAlpha(maskToBrushRle(mask), 200, 150)]).toEqual([...mask]);
    const big = new Uint8Array(40_000).fill(255); // 160 000 words of 255: three runs
    expect(brushRleToAlpha(maskToBrushRle(big), 200, 200).every((v) => v === 255)).toBe(true);
  });

  it("refuses a stream whose size disagrees with the image, a truncated stream and non-bytes", () => {
    expect(() => brushRleToAlpha(V1.rle, 3, 3)).toThrow(/needs 36/);
    expect(() => decodeBrushRle(V1.rle.slice(0, 9))).toThrow(/ends before/);
    expect(() => decodeBrushRle([0, 0, 0, 24, 300])).toThrow(/not a byte/);
  });
});
