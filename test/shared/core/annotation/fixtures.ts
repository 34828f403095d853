import type { CanonicalAnnotation, CanonicalObject, Provenance } from "../../../../shared/core/annotation/canonical.ts";

/**
 * Test-side helpers written independently of the code under test: a naive run-length encoder over
 * pictures drawn as strings, so expected counts come from the picture, not from `rle.ts`.
 */

/** Rows like "0110" → a 0/1 mask (row-major). */
export function maskFromRows(rows: readonly string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0]!.length;
  const mask = new Uint8Array(width * rows.length);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new Error("ragged picture");
    for (let c = 0; c < width; c++) mask[r * width + c] = row[c] === "1" ? 1 : 0;
  });
  return { mask, width, height: rows.length };
}

/** Naive row-major RLE of a picture: alternate 0/1 runs, starting with 0. */
export function countsFromRows(rows: readonly string[]): number[] {
  const bits = rows.join("");
  const counts: number[] = [];
  let current = "0";
  let run = 0;
  for (const bit of bits) {
    if (bit !== current) {
      counts.push(run);
      current = bit;
      run = 0;
    }
    run++;
  }
  counts.push(run);
  return counts;
}

/** Rows of class-id digits ("0033") → a class-id raster. */
export function rasterFromRows(rows: readonly string[]): Uint8Array {
  return Uint8Array.from(rows.join(""), (ch) => Number(ch));
}

export const provenance: Provenance = {
  backend: "encord",
  labelId: "label-1",
  annotator: "ann@example.com",
  editedAt: "2024-05-01T10:00:00.000Z",
};

export function annotation(itemId: string, width: number, height: number, objects: CanonicalObject[], extra: Partial<CanonicalAnnotation> = {}): CanonicalAnnotation {
  return { schema: "canonical-annotation/v1", itemId, image: { width, height }, objects, classifications: [], provenance, ...extra };
}

export function maskObject(id: string, classId: number | null, className: string, rows: readonly string[]): CanonicalObject {
  return { id, classId, className, kind: "mask", mask: { counts: countsFromRows(rows) } };
}

/** Small deterministic PRNG (mulberry32) so random tests replay identically. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Byte-array equality that stays fast on megapixel masks (vitest's deep equality walks element by
 * element) and still names the first differing index when it fails.
 */
export function firstDifference(actual: Uint8Array, expected: Uint8Array): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} ≠ ${expected.length}`;
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) return null;
  const index = actual.findIndex((v, i) => v !== expected[i]);
  return `index ${index}: ${actual[index]} ≠ ${expected[index]}`;
}
