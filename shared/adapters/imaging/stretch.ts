/**
 * Band statistics and the 8-bit stretch, with a few linear passes each: one to mark nodata, one for
 * min/max, one to fill a histogram, one to write output bytes. Percentiles come from the histogram
 * rather than a sort: O(n) instead of O(n log n) and no copy of the band.
 *
 * A band is a list of runs (`BandSamples`): strided views into decoded strips, or one whole band
 * array. Reading a pixel-interleaved strip in place saves copying every sample into band arrays,
 * and in a cold process that copy was mostly the first touch of fresh memory.
 */
import type { BandSamples, SampleRun } from "./tiff-blocks.ts";

/** Histogram resolution for non-integer data: the percentile error is (max − min) / 65536. */
const FLOAT_BINS = 65_536;

export interface NodataMask {
  /** 255 where any band is nodata, NaN or infinite; else 0. */
  mask: Uint8Array;
  count: number;
}

export function buildNodataMask(bands: readonly BandSamples[], nodata: number | null, pixels: number): NodataMask {
  const mask = new Uint8Array(pixels);
  for (const band of bands) {
    for (const { data, start, stride, firstPixel, pixels: n } of band) {
      // Float32 samples hold the nodata value rounded to float32 (e.g. 0.1 is 0.10000000149…).
      const target = nodata === null ? NaN : data instanceof Float32Array ? Math.fround(nodata) : nodata;
      for (let i = 0, s = start, p = firstPixel; i < n; i++, s += stride, p++) {
        const v = data[s]!;
        // v − v is 0 for finite numbers and NaN for NaN and ±Infinity: one test covers all three.
        if (v - v !== 0 || v === target) mask[p] = 255;
      }
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
export function stretchRange(band: BandSamples, mask: Uint8Array, validCount: number, percentiles: readonly [number, number] | null): StretchRange | null {
  if (validCount === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const { data, start, stride, firstPixel, pixels } of band) {
    for (let i = 0, s = start, p = firstPixel; i < pixels; i++, s += stride, p++) {
      if (mask[p] !== 0) continue;
      const v = data[s]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (percentiles === null || max === min) return { lo: min, hi: max, min, max };

  // Integer data with a small range gets one bin per value, so its percentiles are exact.
  const isInteger = !band.some((run) => run.data instanceof Float32Array || run.data instanceof Float64Array);
  const exact = isInteger && max - min < FLOAT_BINS;
  const bins = exact ? max - min + 1 : FLOAT_BINS;
  const scale = exact ? 1 : FLOAT_BINS / (max - min);
  const histogram = new Uint32Array(bins);
  const last = bins - 1;
  for (const { data, start, stride, firstPixel, pixels } of band) {
    for (let i = 0, s = start, p = firstPixel; i < pixels; i++, s += stride, p++) {
      if (mask[p] !== 0) continue;
      // `| 0` truncates like Math.floor for these non-negative values and keeps V8 on int32 indexes.
      const bin = ((data[s]! - min) * scale) | 0;
      histogram[bin > last ? last : bin]!++;
    }
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
 *
 * Returns the histogram of the values written for valid pixels (what `bandStatistics` would count
 * on `out` with the mask), counted in the same pass instead of another one over the output.
 */
export function writeStretched(band: BandSamples, mask: Uint8Array, range: StretchRange | null, out: Uint8Array, channel: number, channels: number): Float64Array {
  const histogram = new Float64Array(256);
  if (range === null) {
    for (let o = channel; o < out.length; o += channels) out[o] = 0;
    return histogram;
  }
  const { lo, hi } = range;
  const scale = hi > lo ? 255 / (hi - lo) : Infinity;
  for (const run of band) writeRun(run, mask, lo, scale, out, channel, channels, histogram);
  return histogram;
}

function writeRun(
  { data, start, stride, firstPixel, pixels }: SampleRun, mask: Uint8Array, lo: number, scale: number, out: Uint8Array, channel: number, channels: number, histogram: Float64Array,
): void {
  for (let i = 0, s = start, p = firstPixel, o = firstPixel * channels + channel; i < pixels; i++, s += stride, p++, o += channels) {
    if (mask[p] !== 0) {
      out[o] = 0;
      continue;
    }
    const d = data[s]! - lo;
    let value = 0;
    if (d > 0) {
      const t = d * scale;
      value = t >= 255 ? 255 : (t + 0.5) | 0;
    }
    out[o] = value;
    histogram[value]! += 1;
  }
}
