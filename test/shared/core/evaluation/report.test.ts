import { describe, expect, it } from "vitest";
import { buildEvaluationReport } from "../../../../shared/core/evaluation/build-report.ts";
import {
  EvaluationReportSchema, renderPerClassSvg, renderSummaryHtml, renderSummaryMarkdown, type ModelResult, type SetResult,
} from "../../../../shared/core/evaluation/report.ts";

function model(role: "candidate" | "champion", o: { classes: string[]; iou: (number | null)[]; mIoU: number; selfReported?: Record<string, unknown> }): ModelResult {
  return {
    role, modelId: `${role}-1`, uri: `gs://models/${role}/`, name: `${role}-net`, classes: o.classes, outputFormat: "logits",
    primaryMetric: { name: "mIoU", value: o.mIoU }, metrics: { mIoU: o.mIoU, pixelAccuracy: 0.9 }, perClassMetric: "IoU",
    perClass: o.classes.map((className, i) => ({ className, support: 1000 * (i + 1), value: o.iou[i]!, metrics: { IoU: o.iou[i]! } })),
    confusion: null, timings: { inferenceMs: 12, totalMs: 40, inferenceCalls: 2, items: 5, pixels: 2_000_000, pixelsPerSecond: 5e7 },
    selfReported: o.selfReported ?? null,
  };
}

function set(candidate: ModelResult, champion: ModelResult | null): SetResult {
  return {
    datasetUri: "gs://datasets/clouds/abc/manifest.json", versionId: "a".repeat(64), line: "clouds", split: "eval", itemCount: 5,
    classes: ["land", "water", "thin_cloud", "snow"], skippedItems: [], candidate, champion,
  };
}

const candidate = model("candidate", { classes: ["land", "thin_cloud", "snow"], iou: [0.9, 0.41, 0.5], mIoU: 0.6033, selfReported: { mIoU: 0.81 } });
const champion = model("champion", { classes: ["land", "thin_cloud", "water"], iou: [0.88, 0.62, 0.7], mIoU: 0.7333 });

const report = buildEvaluationReport({ evaluationId: "eval_1", createdAt: new Date("2026-03-01T12:00:00Z"), task: "segmentation", evaluation: set(candidate, champion) });

describe("evaluation report", () => {
  it("is valid against its own schema and lists added and removed classes", () => {
    expect(EvaluationReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
    expect(report.newClasses).toEqual(["snow"]);
    expect(report.removedClasses).toEqual(["water"]);
    expect(report.warnings.some((w) => w.includes("`water`"))).toBe(true);
  });

  it("lists where the trainer's own numbers disagree with ours", () => {
    expect(report.discrepancies).toEqual([
      "candidate: the trainer reported mIoU 0.810 (`mIoU`) on its own split; we measured 0.603 on the pinned eval split (dataset aaaaaaaaaaaa, 5 items)",
    ]);
  });

  it("reads percentages and notes that Ultralytics mAP is not COCO's for detection", () => {
    const det = model("candidate", { classes: ["car"], iou: [0.5], mIoU: 0.5, selfReported: { "metrics/mAP50-95(B)": 55 } });
    det.metrics = { AP: 0.42, AP50: 0.6 };
    const r = buildEvaluationReport({ evaluationId: "e", createdAt: new Date(0), task: "detection", evaluation: set(det, null) });
    expect(r.discrepancies[0]).toMatch(/reported AP 0\.550 \(`metrics\/mAP50-95\(B\)`, read as a percentage\).*we measured 0\.420/);
    expect(r.discrepancies[1]).toMatch(/Ultralytics-style trainers .* differs by design/);
  });

  it("stays quiet when the trainer agrees within rounding", () => {
    const agreeing = model("candidate", { classes: ["land"], iou: [0.6], mIoU: 0.6, selfReported: { miou: 0.605 } });
    const r = buildEvaluationReport({ evaluationId: "e", createdAt: new Date(0), task: "segmentation", evaluation: set(agreeing, null) });
    expect(r.discrepancies).toEqual([]);
  });
});

describe("renderers", () => {
  it("Markdown has the overall table and one per-class row per class, candidate vs champion", () => {
    const md = renderSummaryMarkdown(report);
    expect(md).toContain("# Evaluation eval_1");
    expect(md).toContain("| **mIoU** (primary) | 0.603 | 0.733 | −0.130 |");
    expect(md).toContain("| `thin_cloud` | 2,000 | 0.410 | 0.620 | −0.210 |");
    expect(md).toContain("| `snow` (new) | 3,000 | 0.500 | — | — |");
    expect(md).toContain("| `water` (champion only) | 3,000 | — | 0.700 | — |");
    expect(md).toContain("## Discrepancies");
  });

  it("the SVG has a bar per class and model, with widths proportional to the values", () => {
    const svg = renderPerClassSvg(report);
    expect(svg.startsWith("<svg")).toBe(true);
    const bars = [...svg.matchAll(/class="bar (candidate|champion)" data-class="([^"]+)"[^>]*width="([\d.]+)"/g)].map((m) => [m[1], m[2], Number(m[3])]);
    // 4 classes × 2 models; bar width = value × 360.
    expect(bars).toHaveLength(8);
    expect(bars).toContainEqual(["candidate", "thin_cloud", expect.closeTo(0.41 * 360, 1)]);
    expect(bars).toContainEqual(["champion", "thin_cloud", expect.closeTo(0.62 * 360, 1)]);
    expect(bars).toContainEqual(["champion", "snow", 0]);
  });

  it("HTML embeds the bars and escapes names", () => {
    const weird = model("candidate", { classes: ["<script>"], iou: [0.5], mIoU: 0.5 });
    const r = buildEvaluationReport({ evaluationId: "e<1>", createdAt: new Date(0), task: "segmentation", evaluation: set(weird, null) });
    const html = renderSummaryHtml(r);
    expect(html).toContain("<svg");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;");
    expect(html).toContain("Evaluation e&lt;1&gt;");
  });
});
