import { PermanentError } from "../../errors.ts";
import type { Box, CanonicalAnnotation, CanonicalObject } from "./canonical.ts";
import { decodeRowMajor, sumCounts } from "./rle.ts";

export { maskArea } from "./rle.ts";

/**
 * Rasterisation of canonical objects. One convention everywhere (training masks, quality checks,
 * exports): pixel (c, r) belongs to a box or polygon when its centre (c + 0.5, r + 0.5) is inside,
 * with the even-odd rule (so holes and multi-part rings both work) and half-open edges (left/top
 * edges inside, right/bottom outside), so two shapes sharing an edge never both claim a pixel.
 */

export interface SemanticMaskOptions {
  /** Value of pixels no object covers (default 0). */
  background?: number;
  /** Nodata mask, width × height, 255 where the source had no data. */
  ignore?: Uint8Array;
  /** Value written where `ignore` is 255 (default 255). */
  ignoreValue?: number;
}

/**
 * A width × height map of class ids. Objects are painted in array order, later over earlier;
 * objects with an unknown class (`classId: null`) are skipped.
 */
export function semanticMask(annotation: CanonicalAnnotation, options: SemanticMaskOptions = {}): Uint8Array {
  const { width, height } = annotation.image;
  const background = byteValue(options.background ?? 0, "background");
  const ignoreValue = byteValue(options.ignoreValue ?? 255, "ignoreValue");
  const out = new Uint8Array(width * height).fill(background);
  for (const object of annotation.objects) {
    if (object.classId === null) continue;
    const value = byteValue(object.classId, `class id of object "${object.id}"`);
    forEachSpan(object, width, height, (start, end) => out.fill(value, start, end));
  }
  if (options.ignore) {
    if (options.ignore.length !== out.length) {
      throw new PermanentError("invalid_mask", `nodata mask has ${options.ignore.length} pixels, image has ${width}×${height}`);
    }
    for (let i = 0; i < out.length; i++) if (options.ignore[i] === 255) out[i] = ignoreValue;
  }
  return out;
}

/** The pixels of one object as a 0/1 mask. */
export function objectPixelMask(object: CanonicalObject, width: number, height: number): Uint8Array {
  if (object.kind === "mask") return decodeRowMajor(object.mask.counts, width, height);
  const out = new Uint8Array(width * height);
  forEachSpan(object, width, height, (start, end) => out.fill(1, start, end));
  return out;
}

/**
 * Calls `span(start, end)` for each run of row-major pixel indexes [start, end) the object covers,
 * so callers fill or count whole runs instead of visiting pixels one by one. Masks must cover the
 * frame exactly (throws otherwise); boxes and polygons are clipped to the frame.
 */
export function forEachSpan(object: CanonicalObject, width: number, height: number, span: (start: number, end: number) => void): void {
  switch (object.kind) {
    case "mask": {
      const counts = object.mask.counts;
      const total = sumCounts(counts);
      if (total !== width * height) {
        throw new PermanentError("invalid_mask", `mask of object "${object.id}" covers ${total} pixels but the image has ${width}×${height} = ${width * height}`);
      }
      let position = 0;
      for (let i = 0; i < counts.length; i++) {
        const run = counts[i]!;
        if (i % 2 === 1 && run > 0) span(position, position + run);
        position += run;
      }
      return;
    }
    case "box":
      boxSpans(object.box, width, height, span);
      return;
    case "polygon":
      polygonSpans(object.polygon, width, height, span);
      return;
  }
}

function boxSpans(box: Box, width: number, height: number, span: (start: number, end: number) => void): void {
  if (!(box.w > 0 && box.h > 0)) return;
  const [c0, c1] = centreSpan(box.x, box.x + box.w, width);
  const [r0, r1] = centreSpan(box.y, box.y + box.h, height);
  if (c1 <= c0) return;
  for (let r = r0; r < r1; r++) span(r * width + c0, r * width + c1);
}

/** Pixel indexes [first, end) whose centres k + 0.5 lie in [from, to), clipped to [0, size). */
function centreSpan(from: number, to: number, size: number): [number, number] {
  const first = Math.max(0, Math.ceil(from - 0.5));
  const end = Math.min(size, Math.ceil(to - 0.5));
  return [first, Math.max(first, end)];
}

/** Scanline fill at pixel centres; all rings together under the even-odd rule. */
function polygonSpans(rings: readonly (readonly number[])[], width: number, height: number, span: (start: number, end: number) => void): void {
  const crossings: number[] = [];
  for (let r = 0; r < height; r++) {
    const y = r + 0.5;
    crossings.length = 0;
    for (const ring of rings) {
      const n = Math.floor(ring.length / 2);
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const xi = ring[2 * i]!;
        const yi = ring[2 * i + 1]!;
        const xj = ring[2 * j]!;
        const yj = ring[2 * j + 1]!;
        // Half-open in y (PNPOLY's `(yi > y) != (yj > y)`): a vertex on the scanline counts once.
        if (yi > y !== yj > y) crossings.push(xi + ((y - yi) * (xj - xi)) / (yj - yi));
      }
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const [c0, c1] = centreSpan(crossings[k]!, crossings[k + 1]!, width);
      if (c1 > c0) span(r * width + c0, r * width + c1);
    }
  }
}

/** Area of one ring of flat [x0, y0, x1, y1, …] coordinates (shoelace), always ≥ 0. */
export function polygonArea(ring: readonly number[]): number {
  const n = Math.floor(ring.length / 2);
  let twice = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    twice += ring[2 * j]! * ring[2 * i + 1]! - ring[2 * i]! * ring[2 * j + 1]!;
  }
  return Math.abs(twice) / 2;
}

/**
 * Area of a multi-ring polygon under the even-odd rule, assuming rings do not cross: a ring nested
 * inside an odd number of other rings is a hole and subtracts, so COCO's disjoint parts add up and
 * Encord's outer-contour-plus-holes comes out right.
 */
export function polygonRingsArea(rings: readonly (readonly number[])[]): number {
  let area = 0;
  for (let i = 0; i < rings.length; i++) {
    const ring = rings[i]!;
    let depth = 0;
    for (let j = 0; j < rings.length; j++) {
      if (j !== i && ring.length >= 2 && pointInRing(ring[0]!, ring[1]!, rings[j]!)) depth++;
    }
    area += (depth % 2 === 0 ? 1 : -1) * polygonArea(ring);
  }
  return Math.max(0, area);
}

/** PNPOLY even-odd point-in-ring test. */
export function pointInRing(x: number, y: number, ring: readonly number[]): boolean {
  const n = Math.floor(ring.length / 2);
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = ring[2 * i]!;
    const yi = ring[2 * i + 1]!;
    const xj = ring[2 * j]!;
    const yj = ring[2 * j + 1]!;
    if (yi > y !== yj > y && x < xi + ((y - yi) * (xj - xi)) / (yj - yi)) inside = !inside;
  }
  return inside;
}

/** Axis-aligned bounding box [x, y, w, h] of a polygon's points. */
export function polygonBounds(rings: readonly (readonly number[])[]): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i += 2) {
      minX = Math.min(minX, ring[i]!);
      maxX = Math.max(maxX, ring[i]!);
      minY = Math.min(minY, ring[i + 1]!);
      maxY = Math.max(maxY, ring[i + 1]!);
    }
  }
  if (minX === Infinity) return [0, 0, 0, 0];
  return [minX, minY, maxX - minX, maxY - minY];
}

/** Pixel bounding box [x, y, w, h] of a row-major RLE mask (COCO's convention); zeros when empty. */
export function maskBounds(counts: readonly number[], width: number): [number, number, number, number] {
  let minCol = Infinity;
  let minRow = Infinity;
  let maxCol = -Infinity;
  let maxRow = -Infinity;
  let position = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i]!;
    if (i % 2 === 1 && run > 0) {
      const firstRow = Math.floor(position / width);
      const lastRow = Math.floor((position + run - 1) / width);
      minRow = Math.min(minRow, firstRow);
      maxRow = Math.max(maxRow, lastRow);
      if (firstRow === lastRow) {
        minCol = Math.min(minCol, position % width);
        maxCol = Math.max(maxCol, (position + run - 1) % width);
      } else {
        // A run that wraps a row end covers the last column of its first row and the first column
        // of its last row, so the box spans the full width.
        minCol = 0;
        maxCol = width - 1;
      }
    }
    position += run;
  }
  if (minRow === Infinity) return [0, 0, 0, 0];
  return [minCol, minRow, maxCol - minCol + 1, maxRow - minRow + 1];
}

function byteValue(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new PermanentError("invalid_mask", `${what} is ${value}, which does not fit an 8-bit mask`);
  }
  return value;
}
