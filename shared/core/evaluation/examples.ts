import type { DecodedRaster } from "../../ports.ts";
import type { ItemImages } from "./types.ts";

/**
 * Worst and best items of an evaluation, kept as small pictures (input, label, prediction) so a
 * person can see what a score means. Memory is bounded twice over: every picture is a thumbnail
 * of at most EXAMPLE_MAX_EDGE pixels a side (sampled, never the full raster), and only the running
 * worst k and best k items are held while the split streams past.
 */

/** Longest side of an example picture; smaller items keep their own size (never upscaled). */
export const EXAMPLE_MAX_EDGE = 128;
/** Worst and best items kept per model. */
export const EXAMPLES_PER_SIDE = 3;
/** Label and prediction thumbnails: dataset class id, or one of these markers. */
export const NODATA_VALUE = 255;
export const OUT_OF_RANGE_VALUE = 254;

/**
 * Fixed class colours (index = dataset class id, cycling), shared with the dashboard's overlays so a
 * class has one colour everywhere. No-data is black and a prediction that names no dataset class is
 * magenta: neither is a class colour.
 */
export const CLASS_PALETTE = ["#9aa5b1", "#3b9a57", "#2f6fb3", "#e0a84a", "#c0392b", "#8e44ad", "#16a085", "#d35400"] as const;
export const NODATA_COLOUR = "#000000";
export const OUT_OF_RANGE_COLOUR = "#ff00ff";

export function classColour(id: number): string {
  return CLASS_PALETTE[id % CLASS_PALETTE.length]!;
}

/** One scored item with its pictures (thumbnail rasters, not yet encoded). */
export interface ExampleItem {
  itemId: string;
  /** The per-item score the items are ranked by (the item's own mIoU). */
  score: number;
  pixelAccuracy: number | null;
  /** Size of the item itself. */
  sourceWidth: number;
  sourceHeight: number;
  /** 3-channel RGB thumbnail. */
  input: DecodedRaster;
  /** 1-channel dataset class ids (NODATA_VALUE where not judged). */
  label: DecodedRaster;
  /** 1-channel predicted dataset class ids (OUT_OF_RANGE_VALUE for a class the dataset lacks). */
  prediction: DecodedRaster;
}

export interface ExampleSelection<T> {
  /** Worst first. */
  worst: T[];
  /** Best first. */
  best: T[];
}

/**
 * Running worst-k and best-k under one total order: score, then item id. Because both ends use the
 * same order the two lists cannot share an item once 2k items were offered, and the result does
 * not depend on the order items arrive in (ties go by item id).
 */
export class ExtremesSelector<T extends { itemId: string; score: number }> {
  private readonly low: T[] = [];
  private readonly high: T[] = [];
  private offered = 0;

  constructor(private readonly k: number) {
    if (!Number.isInteger(k) || k < 0) throw new Error(`k must be a non-negative integer, got ${k}`);
  }

  offer(entry: T): void {
    if (!Number.isFinite(entry.score)) return;
    this.offered += 1;
    if (this.k === 0) return;
    insertBounded(this.low, entry, this.k, (a, b) => compareEntries(a, b));
    insertBounded(this.high, entry, this.k, (a, b) => compareEntries(b, a));
  }

  /**
   * With fewer than 2k items the lists overlap: the lower half (rounded up) is "worst", the rest
   * "best", so no item is shown twice.
   */
  result(): ExampleSelection<T> {
    const worstCount = Math.min(this.k, Math.ceil(this.offered / 2));
    const bestCount = Math.min(this.k, this.offered - worstCount);
    return { worst: this.low.slice(0, worstCount), best: this.high.slice(0, bestCount) };
  }
}

function compareEntries(a: { itemId: string; score: number }, b: { itemId: string; score: number }): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  return a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0;
}

/** Inserts into a list sorted by `compare`, keeping its first `k` entries. */
function insertBounded<T>(list: T[], entry: T, k: number, compare: (a: T, b: T) => number): void {
  if (list.length === k && compare(entry, list[k - 1]!) >= 0) return;
  let at = list.length;
  while (at > 0 && compare(entry, list[at - 1]!) < 0) at--;
  list.splice(at, 0, entry);
  if (list.length > k) list.pop();
}

/**
 * Nearest-neighbour sampling grid from an item of `width × height` to a thumbnail whose longest
 * side is at most `maxEdge`: thumbnail column x reads source column `xs[x]` (the pixel under the
 * thumbnail pixel's centre).
 */
export interface SampleGrid {
  width: number;
  height: number;
  xs: Int32Array;
  ys: Int32Array;
}

export function sampleGrid(width: number, height: number, maxEdge = EXAMPLE_MAX_EDGE): SampleGrid {
  const scale = Math.min(1, maxEdge / Math.max(width, height));
  const tw = Math.max(1, Math.round(width * scale));
  const th = Math.max(1, Math.round(height * scale));
  const axis = (thumb: number, source: number) => Int32Array.from({ length: thumb }, (_, i) => Math.min(source - 1, Math.floor(((i + 0.5) * source) / thumb)));
  return { width: tw, height: th, xs: axis(tw, width), ys: axis(th, height) };
}

/** The RGB thumbnail of an item: its RGB rendering, or the plain image (grey is replicated). */
export function inputThumbnail(images: ItemImages, grid: SampleGrid): DecodedRaster {
  const source = images.rgb ?? images.image;
  const data = new Uint8Array(grid.width * grid.height * 3);
  if (!source) return { width: grid.width, height: grid.height, channels: 3, data };
  const { channels, width } = source;
  for (let ty = 0; ty < grid.height; ty++) {
    const row = grid.ys[ty]! * width;
    for (let tx = 0; tx < grid.width; tx++) {
      const s = (row + grid.xs[tx]!) * channels;
      const d = (ty * grid.width + tx) * 3;
      for (let c = 0; c < 3; c++) data[d + c] = source.data[s + Math.min(c, channels - 1)]!;
    }
  }
  return { width: grid.width, height: grid.height, channels: 3, data };
}

/** The ground-truth raster (dataset ids, 255 = nodata) sampled onto the grid. */
export function labelThumbnail(raster: Uint8Array, width: number, grid: SampleGrid): DecodedRaster {
  const data = new Uint8Array(grid.width * grid.height);
  for (let ty = 0; ty < grid.height; ty++) {
    const row = grid.ys[ty]! * width;
    for (let tx = 0; tx < grid.width; tx++) data[ty * grid.width + tx] = raster[row + grid.xs[tx]!]!;
  }
  return { width: grid.width, height: grid.height, channels: 1, data };
}

/**
 * Class ids as RGB with the fixed palette. Pixels the label marks as nodata are drawn as nodata in
 * the prediction too: they are not judged, so colouring them would suggest otherwise.
 */
export function colouriseMask(mask: DecodedRaster, nodataFrom?: DecodedRaster): DecodedRaster {
  const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  const lut = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) {
    const colour = v === NODATA_VALUE ? NODATA_COLOUR : v === OUT_OF_RANGE_VALUE ? OUT_OF_RANGE_COLOUR : classColour(v);
    lut.set(rgb(colour), v * 3);
  }
  const pixels = mask.width * mask.height;
  const data = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const v = nodataFrom && nodataFrom.data[i] === NODATA_VALUE ? NODATA_VALUE : mask.data[i]!;
    data[i * 3] = lut[v * 3]!;
    data[i * 3 + 1] = lut[v * 3 + 1]!;
    data[i * 3 + 2] = lut[v * 3 + 2]!;
  }
  return { width: mask.width, height: mask.height, channels: 3, data };
}
