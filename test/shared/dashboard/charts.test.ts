import { describe, expect, it } from "vitest";
import { funnelChart, metricChart, perClassBars, throughputChart, type MetricPoint } from "../../../shared/dashboard/charts.ts";
import { niceCeiling } from "../../../shared/dashboard/svg.ts";
import { num, tags, type Tag } from "./markup.ts";

/** All bars of one series must share a single length-per-unit; zero values get zero length. */
function expectProportional(bars: Tag[], lengthAttr: "width" | "height"): void {
  const positive = bars.filter((b) => num(b, "data-value") > 0);
  expect(positive.length).toBeGreaterThan(1);
  // Measure the unit on the longest bar so rounding of the short ones cannot skew it.
  const longest = positive.reduce((a, b) => (num(b, "data-value") > num(a, "data-value") ? b : a));
  const unit = num(longest, lengthAttr) / num(longest, "data-value");
  expect(unit).toBeGreaterThan(0);
  for (const bar of bars) {
    // Coordinates are rounded to 0.01, hence the tolerance.
    expect(Math.abs(num(bar, lengthAttr) - num(bar, "data-value") * unit)).toBeLessThanOrEqual(0.011);
  }
}

describe("funnelChart", () => {
  const rows = [
    { state: "seen", label: "seen", reached: 200, now: 5 },
    { state: "normalised", label: "normalised", reached: 150, now: 0 },
    { state: "accepted", label: "accepted", reached: 50, now: 20 },
    { state: "failed", label: "failed", reached: 3, now: 3 },
  ];
  const svg = funnelChart(rows).value;
  const bars = tags(svg, "rect").filter((r) => r.attrs["data-series"]);

  it("draws one 'reached' and one 'now' bar per state, carrying its value", () => {
    for (const series of ["reached", "now"] as const) {
      const seriesBars = bars.filter((b) => b.attrs["data-series"] === series);
      expect(seriesBars.map((b) => Number(b.attrs["data-value"]))).toEqual(rows.map((r) => r[series]));
    }
  });

  it("makes bar widths proportional to the counts, on one scale for both series", () => {
    expectProportional(bars, "width");
    const seen = bars.find((b) => b.attrs["data-value"] === "200")!;
    const accepted = bars.find((b) => b.attrs["data-value"] === "50")!;
    expect(num(seen, "width") / num(accepted, "width")).toBeCloseTo(4, 2);
  });

  it("labels every row with its counts", () => {
    expect(svg).toContain("200 reached · 5 now");
    expect(svg).toContain("3 reached · 3 now");
  });
});

describe("throughputChart", () => {
  const buckets = [
    { bucketStart: "2026-11-23T10:00:00.000Z", accepted: 10, rejected: 2 },
    { bucketStart: "2026-11-23T11:00:00.000Z", accepted: 0, rejected: 0 },
    { bucketStart: "2026-11-23T12:00:00.000Z", accepted: 4, rejected: 6 },
    { bucketStart: "2026-11-23T13:00:00.000Z", accepted: 7, rejected: 1 },
  ];
  const svg = throughputChart(buckets, { bucketMinutes: 60 }).value;
  const rects = tags(svg, "rect").filter((r) => r.attrs["data-series"]);
  const accepted = rects.filter((r) => r.attrs["data-series"] === "accepted");
  const rejected = rects.filter((r) => r.attrs["data-series"] === "rejected");

  it("draws one stacked bar per bucket, in bucket order", () => {
    expect(tags(svg, "g").filter((g) => g.attrs["data-bucket"]).map((g) => g.attrs["data-bucket"])).toEqual(buckets.map((b) => b.bucketStart));
    expect(accepted.map((r) => Number(r.attrs["data-value"]))).toEqual([10, 0, 4, 7]);
    expect(rejected.map((r) => Number(r.attrs["data-value"]))).toEqual([2, 0, 6, 1]);
    const xs = accepted.map((r) => num(r, "x"));
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
  });

  it("makes heights proportional to counts on one shared scale", () => {
    expectProportional([...accepted, ...rejected], "height");
  });

  it("stacks rejected directly on accepted, on a common baseline", () => {
    const baseline = num(accepted[0]!, "y") + num(accepted[0]!, "height");
    accepted.forEach((a, i) => {
      expect(num(a, "y") + num(a, "height")).toBeCloseTo(baseline, 1);
      const r = rejected[i]!;
      expect(num(r, "y") + num(r, "height")).toBeCloseTo(num(a, "y"), 1);
      expect(num(r, "x")).toBe(num(a, "x"));
    });
  });

  it("labels the time axis with the bucket start (UTC) and the count axis from 0", () => {
    expect(svg).toContain(">10:00</text>");
    expect(svg).toContain(">0</text>");
    expect(svg).toContain("60 min each");
  });

  it("adds the date to time labels when the buckets span days", () => {
    const daily = throughputChart(
      [
        { bucketStart: "2026-11-21T00:00:00.000Z", accepted: 1, rejected: 0 },
        { bucketStart: "2026-11-22T00:00:00.000Z", accepted: 2, rejected: 1 },
      ],
      { bucketMinutes: 1440 },
    ).value;
    expect(daily).toContain(">11-21 00:00</text>");
  });
});

describe("metricChart", () => {
  const points: MetricPoint[] = [
    { modelId: "m3", label: "v3", at: "2026-11-23T00:00:00Z", value: 0.7, promoted: false, aliases: [] },
    { modelId: "m1", label: "v1", at: "2026-11-21T00:00:00Z", value: 0.5, promoted: true, aliases: ["prod"] },
    { modelId: "m2", label: "v2", at: "2026-11-22T00:00:00Z", value: 0.8, promoted: true, aliases: ["staging"] },
  ];
  const svg = metricChart(points, { metric: "mIoU" }).value;
  const dots = tags(svg, "circle").filter((c) => c.attrs["data-model"]);

  it("plots one point per model in time order, x increasing with time", () => {
    expect(dots.map((d) => d.attrs["data-model"])).toEqual(["m1", "m2", "m3"]);
    const xs = dots.map((d) => num(d, "cx"));
    expect(xs[0]!).toBeLessThan(xs[1]!);
    expect(xs[1]!).toBeLessThan(xs[2]!);
    // Equal time steps (one day each) give equal x steps.
    expect(xs[1]! - xs[0]!).toBeCloseTo(xs[2]! - xs[1]!, 1);
  });

  it("places values on a linear y-axis, higher values higher up", () => {
    const y = Object.fromEntries(dots.map((d) => [d.attrs["data-model"], num(d, "cy")]));
    expect(y.m2!).toBeLessThan(y.m3!);
    expect(y.m3!).toBeLessThan(y.m1!);
    // (0.8 − 0.7) / (0.8 − 0.5) = 1/3 of the vertical distance.
    expect((y.m3! - y.m2!) / (y.m1! - y.m2!)).toBeCloseTo(1 / 3, 2);
  });

  it("marks promoted models and writes current aliases next to them", () => {
    expect(dots.filter((d) => d.attrs["data-promoted"] === "true").map((d) => d.attrs["data-model"])).toEqual(["m1", "m2"]);
    expect(dots.find((d) => d.attrs["data-model"] === "m1")!.attrs.class).toContain("promoted");
    expect(svg).toContain(">prod</text>");
    expect(svg).toContain(">staging</text>");
    expect(tags(svg, "path").filter((p) => p.attrs.class === "line")).toHaveLength(1);
  });

  it("says so when nothing has a value, and copes with a single point", () => {
    expect(metricChart([], { metric: "mIoU" }).value).toContain("No evaluated model has a mIoU value yet");
    const single = metricChart([points[0]!], { metric: "mIoU" }).value;
    const dot = tags(single, "circle").find((c) => c.attrs["data-model"])!;
    expect(Number.isFinite(num(dot, "cx")) && Number.isFinite(num(dot, "cy"))).toBe(true);
  });
});

describe("perClassBars", () => {
  const svg = perClassBars(
    [
      { name: "land", candidate: 0.9, champion: 0.8 },
      { name: "water", candidate: 0.45, champion: 0.6 },
      { name: "thin_cloud", candidate: 0.3, champion: null },
    ],
    { metric: "IoU" },
  ).value;
  const bars = tags(svg, "rect").filter((r) => r.attrs["data-series"]);

  it("draws a candidate and a champion bar per class (none for a missing value)", () => {
    expect(bars.filter((b) => b.attrs["data-series"] === "candidate").map((b) => b.attrs["data-value"])).toEqual(["0.9", "0.45", "0.3"]);
    expect(bars.filter((b) => b.attrs["data-series"] === "champion").map((b) => b.attrs["data-value"])).toEqual(["0.8", "0.6"]);
    expect(svg).toContain("0.300 vs –");
  });

  it("uses one proportional scale for every bar", () => {
    expectProportional(bars, "width");
  });
});

describe("niceCeiling", () => {
  it("rounds up to 1, 2, 3, 4, 5, 6 or 8 times a power of ten", () => {
    expect([0, 1, 3, 7, 10, 12, 22, 49, 51, 81, 0.3, 0.07].map(niceCeiling)).toEqual([1, 1, 3, 8, 10, 20, 30, 50, 60, 100, 0.3, 0.08]);
  });
});
