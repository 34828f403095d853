/** Small numeric helpers shared by the SVG charts. */

/** Coordinates with two decimals: enough for the screen, short enough to keep pages small. */
export function coord(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

/**
 * The smallest round number (1, 2, 3, 4, 5, 6 or 8 × 10^k) at or above `max`, so axis ticks land
 * on round numbers without wasting half the plot (22 → 30, not 50).
 */
export function niceCeiling(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 3, 4, 5, 6, 8, 10]) {
    // toPrecision drops binary noise: 3 × 0.1 is 0.3, not 0.30000000000000004.
    const candidate = Number((step * magnitude).toPrecision(12));
    // Guard against 0.30000000000000004-style overshoot deciding the step.
    if (candidate >= max * (1 - 1e-12)) return candidate;
  }
  return 10 * magnitude;
}

/** Maps `domain` linearly onto `range`; a zero-width domain maps everything to the range's middle. */
export function linearScale(domain: readonly [number, number], range: readonly [number, number]): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (value) => r0 + ((value - d0) / (d1 - d0)) * (r1 - r0);
}

/** Axis tick label: integers as they are, fractions with up to three significant decimals. */
export function tickLabel(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toFixed(3)));
}

/** A non-negative finite number, or 0: charts must not draw NaN or negative bars. */
export function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
