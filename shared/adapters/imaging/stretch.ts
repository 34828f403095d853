/**
 * Band statistics and the 8-bit stretch, on typed arrays with a few linear passes each: one to
 * mark nodata, one for min/max, one to fill a histogram, one to write output bytes. Percentiles
 * come from the histogram rather than a sort: O(n) instead of O(n log n) and no copy of the band.
 */
import type { SampleArray } from "./tiff-raster.ts";

/** Histogram resolution for non-integer data: the percentile error is (max − min) / 65536. */
const FLOAT_BINS = 65_536;

export interface NodataMask {
  /** 255 where any band is nodata, NaN or infinite; else 0. */
  mask: Uint8Array;
  count: number;
}

export function buildNodataMask(bands: readonly SampleArray[], nodata: number | null, pixels: number): NodataMask {
  const mask = new Uint8Array(pixels);
  for (const band of bands) {
    // Float32 samples hold the nodata value rounded to float32 (e.g. 0.1 is 0.10000000149…).
    const target = nodata === null ? NaN : band instanceof Float32Array ? Math.fround(nodata) : nodata;
    for (let i = 0; i < pixels; i++) {
      const v = band[i]!;
      // v − v is 0 for finite numbers and NaN for NaN and ±Infinity: one test covers all three.
      if (v - v !== 0 || v === target) mask[i] = 255;
    }
  }
  let count = 0;
  for (let i = 0; i < pixels; i++) count += mask[i]! & 1;
  return { mask, count };
}

export interface StretchRange {
  lo: number;
  hi: number;
  /** The valid pixels' extremes (equal when the band holds a single value). */
  min: number;
  max: number;
}

/**
 * The input values that map to 0 and 255: the chosen percentiles of the valid pixels, or their
 * min and max when `percentiles` is null. Null when no pixel is valid.
 *
 * Percentiles use the nearest-rank definition: the p-th percentile is the smallest value with at
 * least p % of the valid values at or below it (rank ⌈p/100 · n⌉, at least 1).
 */
export function stretchRange(band: SampleArray, mask: Uint8Array, validCount: number, percentiles: readonly [number, number] | null): StretchRange | null {
  if (validCount === 0) return null;
  const pixels = mask.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < pixels; i++) {
    if (mask[i] !== 0) continue;
    const v = band[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (percentiles === null || max === min) return { lo: min, hi: max, min, max };

  // Integer data with a small range gets one bin per value, so its percentiles are exact.
  const isInteger = !(band instanceof Float32Array || band instanceof Float64Array);
  const exact = isInteger && max - min < FLOAT_BINS;
  const bins = exact ? max - min + 1 : FLOAT_BINS;
  const scale = exact ? 1 : FLOAT_BINS / (max - min);
  const histogram = new Uint32Array(bins);
  const last = bins - 1;
  for (let i = 0; i < pixels; i++) {
    if (mask[i] !== 0) continue;
    // `| 0` truncates like Math.floor for these non-negative values and keeps V8 on int32 indexes.
    const bin = ((band[i]! - min) * scale) | 0;
    histogram[bin > last ? last : bin]!++;
  }
  // A bin stands for its lower edge: exact for integers, within one bin width for floats.
  const valueAtRank = (rank: number): number => {
    let cumulative = 0;
    for (let bin = 0; bin < bins; bin++) {
      cumulative += histogram[bin]!;
      if (cumulative >= rank) return min + bin / scale;
    }
    return max;
  };
  const rankOf = (p: number) => Math.min(validCount, Math.max(1, Math.ceil((p / 100) * validCount)));
  return { lo: valueAtRank(rankOf(percentiles[0])), hi: valueAtRank(rankOf(percentiles[1])), min, max };
}

/**
 * Writes the band as 8-bit samples into channel `channel` of an interleaved `out` with `channels`
 * channels: lo → 0, hi → 255, linear between, clamped outside; nodata pixels are 0. A band whose
 * range is a single value becomes a step (values above it 255, the rest 0).
 */
export function writeStretched(band: SampleArray, mask: Uint8Array, range: StretchRange | null, out: Uint8Array, channel: number, channels: number): void {
  const pixels = mask.length;
  if (range === null) {
    for (let i = 0, o = channel; i < pixels; i++, o += channels) out[o] = 0;
    return;
  }
  const { lo, hi } = range;
  const scale = hi > lo ? 255 / (hi - lo) : Infinity;
  for (let i = 0, o = channel; i < pixels; i++, o += channels) {
    if (mask[i] !== 0) {
      out[o] = 0;
      continue;
    }
    const d = band[i]! - lo;
    if (d <= 0) {
      out[o] = 0;
    } else {
      const t = d * scale;
      out[o] = t >= 255 ? 255 : (t + 0.5) | 0;
    }
  }
}
