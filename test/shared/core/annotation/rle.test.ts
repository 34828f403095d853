import { describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import {
  cocoRleFromRowMajor,
  columnMajorToRowMajorCounts,
  countsToString,
  decodeRowMajor,
  encodeRowMajor,
  maskArea,
  rowMajorFromCocoRle,
  rowMajorToColumnMajorCounts,
  stringToCounts,
} from "../../../../shared/core/annotation/rle.ts";
import { firstDifference, maskFromRows, seededRandom } from "./fixtures.ts";

// The Encord vector of docs/encord.md §7.5: rows 0110 / 0110 / 0001 (width 4, height 3).
const VECTOR_ROWS = ["0110", "0110", "0001"];

describe("row-major RLE", () => {
  it("encodes the documented 3×4 vector", () => {
    const { mask, width, height } = maskFromRows(VECTOR_ROWS);
    expect(encodeRowMajor(mask, width, height)).toEqual([1, 2, 2, 2, 4, 1]);
  });

  it("decodes the documented vector back to the picture", () => {
    expect(decodeRowMajor([1, 2, 2, 2, 4, 1], 4, 3)).toEqual(maskFromRows(VECTOR_ROWS).mask);
  });

  it("treats any non-zero byte as set", () => {
    expect(encodeRowMajor(Uint8Array.from([0, 7, 255, 0]), 2, 2)).toEqual([1, 2, 1]);
  });

  it("encodes all-zero and all-one masks", () => {
    expect(encodeRowMajor(new Uint8Array(12), 4, 3)).toEqual([12]);
    expect(encodeRowMajor(new Uint8Array(12).fill(1), 4, 3)).toEqual([0, 12]);
  });

  it.each([
    ["top-left", 0, [0, 1, 19]],
    ["top-right", 4, [4, 1, 15]],
    ["bottom-left", 15, [15, 1, 4]],
    ["bottom-right", 19, [19, 1]],
  ])("encodes a single %s pixel of a 5×4 mask", (_name, index, expected) => {
    const mask = new Uint8Array(20);
    mask[index] = 1;
    expect(encodeRowMajor(mask, 5, 4)).toEqual(expected);
    expect(decodeRowMajor(expected, 5, 4)).toEqual(mask);
  });

  it("rejects counts that do not cover the image, saying both sizes", () => {
    expect(() => decodeRowMajor([1, 2, 3], 4, 3)).toThrow(/covers 6 pixels but the image has 4×3 = 12/);
    expect(() => decodeRowMajor([1, 2, 3], 4, 3)).toThrow(PermanentError);
  });

  it("rejects a mask buffer of the wrong length", () => {
    expect(() => encodeRowMajor(new Uint8Array(5), 2, 2)).toThrow(/5 pixels, expected 2×2/);
  });

  it("sums the 1-runs as the area", () => {
    expect(maskArea([1, 2, 2, 2, 4, 1])).toBe(5);
  });
});

describe("compressed RLE string (COCO / Encord)", () => {
  it("encodes the documented vector as 12202O", () => {
    expect(countsToString([1, 2, 2, 2, 4, 1])).toBe("12202O");
    expect(stringToCounts("12202O")).toEqual([1, 2, 2, 2, 4, 1]);
  });

  it("writes multi-character and negative deltas (worked by hand)", () => {
    // 100 = 3·32 + 4 → chars (4|0x20)+48 = 'T', 3+48 = '3'.
    // index 3: delta 1 − 100 = −99 = −4·32 + 29 → (29|0x20)+48 = 'm', then −4 mod 32 = 28 → 28+48 = 'L'.
    expect(countsToString([0, 100, 0, 1])).toBe("0T30mL");
    expect(stringToCounts("0T30mL")).toEqual([0, 100, 0, 1]);
  });

  it("round-trips counts far beyond 32 bits of shifting", () => {
    const counts = [2 ** 29 + 12345, 3, 2 ** 21 - 1, 2 ** 29, 0, 7];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it("round-trips a run longer than 2^20 through a real mask", () => {
    const width = 2048;
    const height = 1024; // 2^21 pixels
    const mask = new Uint8Array(width * height);
    mask[mask.length - 1] = 1;
    const counts = encodeRowMajor(mask, width, height);
    expect(counts).toEqual([2 ** 21 - 1, 1]);
    const back = stringToCounts(countsToString(counts));
    expect(firstDifference(decodeRowMajor(back, width, height), mask)).toBeNull();
  });

  it("rejects invalid characters and truncated strings", () => {
    expect(() => stringToCounts("12 2")).toThrow(/invalid character/);
    expect(() => stringToCounts("T")).toThrow(/ends in the middle/); // 'T' has the continuation bit
    expect(() => stringToCounts("0T30mL~")).toThrow(PermanentError);
  });

  it("round-trips random masks of random sizes", () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 200; trial++) {
      const width = 1 + Math.floor(random() * 40);
      const height = 1 + Math.floor(random() * 40);
      const mask = new Uint8Array(width * height);
      // Runs of random length so both short and long runs occur.
      let bit = random() < 0.5 ? 0 : 1;
      for (let i = 0; i < mask.length; ) {
        const run = 1 + Math.floor(random() ** 3 * 60);
        mask.fill(bit, i, Math.min(mask.length, i + run));
        i += run;
        bit = 1 - bit;
      }
      const counts = encodeRowMajor(mask, width, height);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(width * height);
      expect(firstDifference(decodeRowMajor(stringToCounts(countsToString(counts)), width, height), mask)).toBeNull();
    }
  });
});

describe("COCO orientation (column-major)", () => {
  it("transposes the vector to column-major counts worked by hand", () => {
    // Down the columns: c0 = 000, c1 = 110, c2 = 110, c3 = 001 → 000 11 0 11 000 1.
    expect(rowMajorToColumnMajorCounts([1, 2, 2, 2, 4, 1], 4, 3)).toEqual([3, 2, 1, 2, 3, 1]);
    expect(columnMajorToRowMajorCounts([3, 2, 1, 2, 3, 1], 4, 3)).toEqual([1, 2, 2, 2, 4, 1]);
  });

  it("builds a compressed COCO RLE with size [h, w]", () => {
    // [3,2,1,2,3,1]: 3,2,1 as is; deltas 2−2=0, 3−1=2, 1−2=−1 → "321" + "0" + "2" + "O".
    expect(cocoRleFromRowMajor([1, 2, 2, 2, 4, 1], 4, 3)).toEqual({ size: [3, 4], counts: "32102O" });
  });

  it("reads compressed and uncompressed COCO RLE", () => {
    const expected = { width: 4, height: 3, counts: [1, 2, 2, 2, 4, 1] };
    expect(rowMajorFromCocoRle({ size: [3, 4], counts: "32102O" })).toEqual(expected);
    expect(rowMajorFromCocoRle({ size: [3, 4], counts: [3, 2, 1, 2, 3, 1] })).toEqual(expected);
  });

  it("rejects a COCO RLE whose counts do not match its size", () => {
    expect(() => rowMajorFromCocoRle({ size: [3, 4], counts: [3, 2] })).toThrow(/covers 5 pixels/);
  });

  it("matches a naive transposition on random masks", () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 100; trial++) {
      const width = 1 + Math.floor(random() * 17);
      const height = 1 + Math.floor(random() * 17);
      const mask = Uint8Array.from({ length: width * height }, () => (random() < 0.4 ? 1 : 0));
      const columnMask = new Uint8Array(mask.length);
      for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) columnMask[c * height + r] = mask[r * width + c]!;
      const rowCounts = encodeRowMajor(mask, width, height);
      expect(rowMajorToColumnMajorCounts(rowCounts, width, height)).toEqual(encodeRowMajor(columnMask, width, height));
      expect(rowMajorFromCocoRle(cocoRleFromRowMajor(rowCounts, width, height)).counts).toEqual(rowCounts);
    }
  });
});
