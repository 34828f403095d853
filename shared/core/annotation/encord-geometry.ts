import { PermanentError } from "../../errors.ts";
import { decodeRowMajor, encodeRowMajor, stringToCounts, sumCounts } from "./rle.ts";

/** Geometry of Encord frame objects (docs/encord.md §7.4, §7.5), for the label-row reader. */

export interface EncordBitmask {
  top: number;
  left: number;
  width: number;
  height: number;
  rleString: string;
}

export interface EncordPolygonFields {
  polygon?: Record<string, { x: number; y: number }> | { x: number; y: number }[] | null | undefined;
  polygons?: number[][][] | null | undefined;
}

/**
 * A bitmask's runs over the whole frame. Counts shorter than the bitmask are padded with unset
 * pixels, as the SDK's `deserialise_bitmask` does (it fills a zeroed buffer of width × height,
 * encord/common/bitmask_operations/bitmask_operations.py); longer ones would overrun that buffer
 * there and are refused here. A bitmask smaller than the frame is placed at its top/left. One that
 * does not fit the frame is kept as decoded: quality checks then reject it, naming both sizes.
 */
export function frameCounts(bitmask: EncordBitmask, width: number, height: number): number[] {
  const pixels = bitmask.width * bitmask.height;
  const counts = padCounts(stringToCounts(bitmask.rleString), pixels);
  const { top, left } = bitmask;
  if (top === 0 && left === 0 && bitmask.width === width && bitmask.height === height) return counts;
  if (top + bitmask.height > height || left + bitmask.width > width) return counts;
  const crop = decodeRowMajor(counts, bitmask.width, bitmask.height);
  const frame = new Uint8Array(width * height);
  for (let row = 0; row < bitmask.height; row++) {
    frame.set(crop.subarray(row * bitmask.width, (row + 1) * bitmask.width), (top + row) * width + left);
  }
  return encodeRowMajor(frame, width, height);
}

function padCounts(counts: number[], pixels: number): number[] {
  const covered = sumCounts(counts);
  if (covered > pixels) throw new PermanentError("invalid_mask", `bitmask RLE covers ${covered} pixels, more than its ${pixels}`);
  if (covered === pixels) return counts;
  const padded = [...counts];
  // Even indexes are unset runs: lengthen the last one, or add one after a set run.
  if (padded.length % 2 === 1) padded[padded.length - 1]! += pixels - covered;
  else padded.push(pixels - covered);
  return padded;
}

/** Normalised rings; the newer `polygons` (polygons → contours → flat x,y) win over legacy `polygon`. */
export function polygonRings(object: EncordPolygonFields, what: string): number[][] | null {
  let rings: number[][] | null = null;
  if (object.polygons && object.polygons.length > 0) {
    rings = object.polygons.flat(1);
  } else if (object.polygon) {
    const points = Array.isArray(object.polygon)
      ? object.polygon
      : Object.keys(object.polygon)
          .sort((a, b) => Number(a) - Number(b))
          .map((key) => (object.polygon as Record<string, { x: number; y: number }>)[key]!);
    rings = [points.flatMap((p) => [p.x, p.y])];
  }
  if (!rings) return null;
  for (const ring of rings) {
    if (ring.length < 6 || ring.length % 2 !== 0) throw new PermanentError("invalid_label", `${what} has a contour with ${ring.length / 2} points (needs at least 3)`);
  }
  return rings;
}

export function rotatedEnvelope(x: number, y: number, w: number, h: number, thetaDegrees: number): { x: number; y: number; w: number; h: number } {
  const radians = (thetaDegrees * Math.PI) / 180;
  const cos = Math.abs(Math.cos(radians));
  const sin = Math.abs(Math.sin(radians));
  const envelopeW = w * cos + h * sin;
  const envelopeH = w * sin + h * cos;
  const cx = x + w / 2;
  const cy = y + h / 2;
  return { x: cx - envelopeW / 2, y: cy - envelopeH / 2, w: envelopeW, h: envelopeH };
}
