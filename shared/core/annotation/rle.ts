import { PermanentError } from "../../errors.ts";

/**
 * Run-length encoding of binary masks.
 *
 * Our canonical order is row-major (index = row * width + col), Encord's bitmask order; COCO RLE is
 * column-major and is converted here, at the edge. Counts alternate 0-runs and 1-runs, starting
 * with a 0-run (0 when the first pixel is set), and sum to width × height.
 */

/** Encodes a mask (0 = off, anything else = on) of `width × height` pixels, row-major. */
export function encodeRowMajor(mask: Uint8Array, width: number, height: number): number[] {
  assertSize(width, height);
  if (mask.length !== width * height) {
    throw new PermanentError("invalid_mask", `mask has ${mask.length} pixels, expected ${width}×${height} = ${width * height}`);
  }
  const counts: number[] = [];
  const n = mask.length;
  let i = 0;
  // Alternate scans for the end of a 0-run and of a 1-run; the first run is a 0-run, maybe empty.
  while (true) {
    const zeroStart = i;
    while (i < n && mask[i] === 0) i++;
    counts.push(i - zeroStart);
    if (i >= n) break;
    const oneStart = i;
    while (i < n && mask[i] !== 0) i++;
    counts.push(i - oneStart);
    if (i >= n) break;
  }
  return counts;
}

/** Decodes row-major counts into a 0/1 mask. Throws when the counts do not cover exactly w × h. */
export function decodeRowMajor(counts: readonly number[], width: number, height: number): Uint8Array {
  assertSize(width, height);
  const total = sumCounts(counts);
  if (total !== width * height) {
    throw new PermanentError(
      "invalid_mask",
      `mask RLE covers ${total} pixels but the image has ${width}×${height} = ${width * height}`,
    );
  }
  const mask = new Uint8Array(total);
  let position = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i]!;
    if (i % 2 === 1) mask.fill(1, position, position + run);
    position += run;
  }
  return mask;
}

/** Sum of the runs; throws on a negative or fractional count (not a mask). */
export function sumCounts(counts: readonly number[]): number {
  let total = 0;
  for (const count of counts) {
    if (!Number.isSafeInteger(count) || count < 0) throw new PermanentError("invalid_mask", `mask RLE has an invalid count ${count}`);
    total += count;
  }
  return total;
}

/** Number of set pixels: the sum of the 1-runs. */
export function maskArea(counts: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < counts.length; i += 2) area += counts[i]!;
  return area;
}

// ---------------------------------------------------------------------------------------------
// COCO / Encord compressed string (pycocotools `rleToString` / `rleFrString`, docs/encord.md §7.5).
// Each count (a delta against counts[i-2] from index 3 on) is written as 5-bit groups, least
// significant first, 48 added to each; 0x20 marks "more groups follow" and 0x10 on the last group
// is the sign. Arithmetic instead of `<<`/`>>`: JS shifts wrap at 32 bits.

export function countsToString(counts: readonly number[]): string {
  // At most 11 chars per count (a 53-bit delta, 5 bits per char); ASCII only, so latin1 decoding is exact.
  let bytes = new Uint8Array(Math.max(16, counts.length * 2));
  let length = 0;
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (!Number.isSafeInteger(x) || x < 0) throw new PermanentError("invalid_mask", `mask RLE has an invalid count ${x}`);
    if (i > 2) x -= counts[i - 2]!;
    if (length + 11 > bytes.length) {
      const grown = new Uint8Array(bytes.length * 2);
      grown.set(bytes);
      bytes = grown;
    }
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32;
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      bytes[length++] = c + 48;
    }
  }
  return LATIN1.decode(bytes.subarray(0, length));
}

const LATIN1 = new TextDecoder("latin1");

export function stringToCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let scale = 1; // 32^k, kept as a float: shifts would wrap at 32 bits
    let more = true;
    while (more) {
      if (p >= s.length) throw new PermanentError("invalid_mask", "RLE string ends in the middle of a count");
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new PermanentError("invalid_mask", `RLE string has an invalid character at ${p}`);
      if (scale >= 2 ** 50) throw new PermanentError("invalid_mask", `RLE string has an oversized count at ${p}`);
      x += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      p++;
      if (!more && c & 0x10) x -= scale;
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    if (x < 0) throw new PermanentError("invalid_mask", `RLE string decodes to a negative count at ${counts.length}`);
    counts.push(x);
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// COCO orientation: COCO RLE runs down columns (Fortran order); ours runs along rows.

export function rowMajorToColumnMajorCounts(counts: readonly number[], width: number, height: number): number[] {
  return transposeCounts(counts, width, height, "row-to-column");
}

export function columnMajorToRowMajorCounts(counts: readonly number[], width: number, height: number): number[] {
  return transposeCounts(counts, width, height, "column-to-row");
}

function transposeCounts(counts: readonly number[], width: number, height: number, direction: "row-to-column" | "column-to-row"): number[] {
  const source = decodeRowMajor(counts, width, height); // a flat w × h bit run in either order
  const target = new Uint8Array(source.length);
  // Row-major (rows × cols) ↔ column-major is a plain matrix transpose; tiles keep both sides in cache.
  const [rows, cols] = direction === "row-to-column" ? [height, width] : [width, height];
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) target[c * rows + r] = source[r * cols + c]!;
      }
    }
  }
  return encodeRowMajor(target, width, height);
}

export interface CocoRle {
  /** [height, width], COCO's order. */
  size: [number, number];
  counts: string;
}

export function cocoRleFromRowMajor(counts: readonly number[], width: number, height: number): CocoRle {
  return { size: [height, width], counts: countsToString(rowMajorToColumnMajorCounts(counts, width, height)) };
}

/** Accepts compressed (string) and uncompressed (array) COCO RLE; returns row-major counts. */
export function rowMajorFromCocoRle(rle: { size: readonly [number, number] | readonly number[]; counts: string | readonly number[] }): {
  width: number;
  height: number;
  counts: number[];
} {
  const [height, width] = rle.size;
  if (height === undefined || width === undefined || rle.size.length !== 2) {
    throw new PermanentError("invalid_mask", `COCO RLE size must be [height, width], got ${JSON.stringify(rle.size)}`);
  }
  assertSize(width, height);
  const columnMajor = typeof rle.counts === "string" ? stringToCounts(rle.counts) : [...rle.counts];
  return { width, height, counts: columnMajorToRowMajorCounts(columnMajor, width, height) };
}

function assertSize(width: number, height: number): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new PermanentError("invalid_mask", `invalid mask size ${width}×${height}`);
  }
}
