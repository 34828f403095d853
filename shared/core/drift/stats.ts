/**
 * Input drift statistics, pure: per-band statistics of an 8-bit image (what the model sees after
 * normalisation), the population stability index and the two-sample Kolmogorov–Smirnov test.
 *
 * PSI follows Evidently's `psi` stat test (evidently/calculations/stattests/psi.py and
 * stattests/utils.py `get_binned_data`): equal-width bins over the range of both samples together
 * (30 by default), each sample's share per bin, empty bins set to 0.0001, and
 * PSI = Σ (ref − cur) · ln(ref / cur). KS follows scipy's `ks_2samp` (two-sided), which Evidently's
 * `ks` test calls: the exact p-value for small samples (n·m ≤ 1 000 000 here; scipy: max(n, m) ≤
 * 10 000), else Kolmogorov's limiting distribution at √(nm/(n+m))·D (scipy's asymptotic mode
 * uses the one-sample distribution at round(nm/(n+m)) instead; the two differ by about 0.01 at
 * the sizes where this applies, which no threshold here is sensitive to).
 */

export interface BandStats {
  mean: number;
  std: number;
  p05: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
}

export const BAND_STAT_KEYS = ["mean", "std", "p05", "p25", "p50", "p75", "p95"] as const satisfies readonly (keyof BandStats)[];

/**
 * Statistics of the 8-bit samples `data[i * stride + offset]` over the pixels whose `mask` byte is
 * 0 (all pixels without a mask). Percentiles are the lower nearest-rank sample (exact for 8-bit
 * data, no interpolation). An image with no valid pixel gives zeros.
 */
export function bandStatistics(data: Uint8Array, stride: number, offset: number, pixels: number, mask: Uint8Array | null): BandStats {
  const histogram = new Float64Array(256);
  for (let i = 0, s = offset; i < pixels; i++, s += stride) {
    if (mask && mask[i] !== 0) continue;
    histogram[data[s]!]! += 1;
  }
  return statsOfHistogram(histogram);
}

export function statsOfHistogram(histogram: Float64Array): BandStats {
  let n = 0;
  let sum = 0;
  for (let v = 0; v < 256; v++) {
    n += histogram[v]!;
    sum += v * histogram[v]!;
  }
  if (n === 0) return { mean: 0, std: 0, p05: 0, p25: 0, p50: 0, p75: 0, p95: 0 };
  const mean = sum / n;
  let squares = 0;
  for (let v = 0; v < 256; v++) squares += histogram[v]! * (v - mean) ** 2;
  const quantile = (q: number): number => {
    // Smallest value whose cumulative count reaches ceil(q·n) (at least the first sample).
    const rank = Math.max(1, Math.ceil(q * n));
    let seen = 0;
    for (let v = 0; v < 256; v++) {
      seen += histogram[v]!;
      if (seen >= rank) return v;
    }
    return 255;
  };
  return { mean, std: Math.sqrt(squares / n), p05: quantile(0.05), p25: quantile(0.25), p50: quantile(0.5), p75: quantile(0.75), p95: quantile(0.95) };
}

/** Flattens per-band statistics into named features (`red.mean`, …, `nodata_fraction`). */
export function imageFeatures(bands: Partial<Record<string, BandStats>>, nodataFraction: number): Record<string, number> {
  const features: Record<string, number> = {};
  for (const [band, stats] of Object.entries(bands)) {
    if (!stats) continue;
    for (const key of BAND_STAT_KEYS) features[`${band}.${key}`] = stats[key];
  }
  features.nodata_fraction = nodataFraction;
  return features;
}

/** Evidently's PSI (see the file comment). Both samples must be non-empty. */
export function psi(reference: readonly number[], current: readonly number[], bins = 30): number {
  if (reference.length === 0 || current.length === 0) throw new Error("psi needs two non-empty samples");
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [...reference, ...current]) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // numpy's histogram_bin_edges widens an empty range to [lo − 0.5, hi + 0.5].
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const share = (sample: readonly number[]): Float64Array => {
    const counts = new Float64Array(bins);
    const width = (hi - lo) / bins;
    for (const v of sample) {
      // numpy: bins are half-open [a, b) except the last, which includes its right edge.
      const k = Math.min(bins - 1, Math.floor((v - lo) / width));
      counts[k]! += 1;
    }
    for (let k = 0; k < bins; k++) counts[k] = counts[k]! / sample.length;
    return counts;
  };
  const ref = share(reference);
  const cur = share(current);
  let total = 0;
  for (let k = 0; k < bins; k++) {
    const r = ref[k] === 0 ? 0.0001 : ref[k]!;
    const c = cur[k] === 0 ? 0.0001 : cur[k]!;
    total += (r - c) * Math.log(r / c);
  }
  return total;
}

export interface KsResult {
  statistic: number;
  pValue: number;
}

/** Two-sided two-sample Kolmogorov–Smirnov test (scipy.stats.ks_2samp, method "auto"). */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsResult {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new Error("ks needs two non-empty samples");
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  // D = max |F_a − F_b| over every value, in integer units of 1/(n·m) so ties compare exactly.
  let i = 0;
  let j = 0;
  let dInt = 0;
  while (i < n || j < m) {
    const v = i < n && (j >= m || x[i]! <= y[j]!) ? x[i]! : y[j]!;
    while (i < n && x[i]! === v) i++;
    while (j < m && y[j]! === v) j++;
    dInt = Math.max(dInt, Math.abs(i * m - j * n));
  }
  const statistic = dInt / (n * m);
  const pValue = n * m <= 1_000_000 ? exactPValue(n, m, dInt) : asymptoticPValue(n, m, statistic);
  return { statistic, pValue: Math.min(1, Math.max(0, pValue)) };
}

/**
 * P(D ≥ d) under the null, by counting monotone lattice paths from (0,0) to (n,m) that stay
 * strictly inside |i·m − j·n| < d·n·m (Hodges 1957), as probabilities (each path equally likely)
 * so nothing overflows.
 */
function exactPValue(n: number, m: number, dInt: number): number {
  if (dInt === 0) return 1;
  const inside = (i: number, j: number) => Math.abs(i * m - j * n) < dInt;
  // prob[j] for the current row i: probability a uniformly random path passes (i, j) staying inside.
  let prev = new Float64Array(m + 1);
  prev[0] = 1;
  for (let j = 1; j <= m; j++) prev[j] = inside(0, j) ? prev[j - 1]! * ((m - (j - 1)) / (n + m - (j - 1))) : 0;
  for (let i = 1; i <= n; i++) {
    const row = new Float64Array(m + 1);
    for (let j = 0; j <= m; j++) {
      if (!inside(i, j)) continue;
      const steps = n + m;
      // From (i−1, j) by an a-step, from (i, j−1) by a b-step; the chance of each step is the
      // share of that kind among the steps left.
      const fromA = prev[j]! * ((n - (i - 1)) / (steps - (i - 1) - j));
      const fromB = j > 0 ? row[j - 1]! * ((m - (j - 1)) / (steps - i - (j - 1))) : 0;
      row[j] = fromA + fromB;
    }
    prev = row;
  }
  return 1 - prev[m]!;
}

/** Kolmogorov's limiting distribution at √(nm/(n+m))·D (scipy's "asymp" mode). */
function asymptoticPValue(n: number, m: number, d: number): number {
  const en = Math.sqrt((n * m) / (n + m));
  const lambda = en * d;
  if (lambda < 1e-3) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return sum;
}

export interface DriftThresholds {
  /** A feature's PSI at or above this counts toward drift (Evidently's default 0.1). */
  psiThreshold: number;
  /** A feature's KS p-value below this counts toward drift (Evidently's default 0.05). */
  ksPValue: number;
  /** Share of drifted features at which the whole input is drifted (Evidently's default 0.5). */
  driftShare: number;
}

export interface FeatureDrift {
  name: string;
  psi: number | null;
  /** The KS statistic D. */
  ks: number | null;
  ksPValue: number | null;
  drifted: boolean;
}

/**
 * Compares each feature of a recent window with the reference. A feature drifts when its KS test
 * rejects at `ksPValue` and its PSI reaches `psiThreshold`: with windows of tens of images, PSI over
 * 30 bins is large even without drift (its expectation grows with bins/n), so KS is the test of
 * significance and PSI says how much the distribution moved. Features missing from either side
 * are reported with null scores and do not drift.
 */
export function compareFeatures(reference: readonly Record<string, number>[], window: readonly Record<string, number>[], t: DriftThresholds): { features: FeatureDrift[]; drifted: boolean } {
  const names = [...new Set([...reference, ...window].flatMap((r) => Object.keys(r)))].sort();
  const features = names.map((name): FeatureDrift => {
    const ref = reference.map((r) => r[name]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    const cur = window.map((r) => r[name]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (ref.length === 0 || cur.length === 0) return { name, psi: null, ks: null, ksPValue: null, drifted: false };
    const p = psi(ref, cur);
    const ks = ksTwoSample(ref, cur);
    return { name, psi: p, ks: ks.statistic, ksPValue: ks.pValue, drifted: p >= t.psiThreshold && ks.pValue < t.ksPValue };
  });
  const judged = features.filter((f) => f.psi !== null);
  const share = judged.length === 0 ? 0 : judged.filter((f) => f.drifted).length / judged.length;
  return { features, drifted: judged.length > 0 && share >= t.driftShare };
}
