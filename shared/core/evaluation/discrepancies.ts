import type { ModelResult } from "./report.ts";

/**
 * Trainers print their own metrics (metrics.json) on their own validation split with their own
 * definitions. The report lists where those disagree with what we measured on the pinned split,
 * so nobody promotes on the trainer's word — and says when a difference is expected by design.
 */

/** Keys trainers commonly use for our metrics, compared after lower-casing and dropping punctuation. */
const ALIASES: Record<string, readonly string[]> = {
  mIoU: ["miou", "meaniou", "valmiou", "metricsmiou", "iou", "jaccard"],
  pixelAccuracy: ["pixelaccuracy", "aacc", "pixelacc", "valaacc"],
  AP: ["ap", "map", "map5095", "map5095b", "metricsmap5095b", "metricsmap5095", "mapcoco", "bboxmap"],
  AP50: ["ap50", "map50", "map50b", "metricsmap50b", "metricsmap50", "bboxmap50"],
  macroF1: ["macrof1", "f1macro", "f1", "valf1"],
  accuracy: ["accuracy", "acc", "top1", "accuracytop1", "metricsaccuracytop1", "valacc", "valaccuracy"],
};

/** Differences below this are rounding, not disagreement. */
const TOLERANCE = 0.01;

function normalise(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Flattens one level of nesting (`{metrics: {mIoU: …}}` → `metrics/mIoU`), numbers only. */
function numericEntries(selfReported: Record<string, unknown>): [string, number][] {
  const out: [string, number][] = [];
  for (const [key, value] of Object.entries(selfReported)) {
    if (typeof value === "number" && Number.isFinite(value)) out.push([key, value]);
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === "number" && Number.isFinite(v)) out.push([`${key}/${inner}`, v]);
      }
    }
  }
  return out;
}

export function findDiscrepancies(task: string, model: ModelResult, setDescription: string): string[] {
  if (!model.selfReported) return [];
  const lines: string[] = [];
  const entries = numericEntries(model.selfReported);
  let reportedDetectionAp = false;
  for (const [metric, aliases] of Object.entries(ALIASES)) {
    const measured = model.metrics[metric];
    if (measured === undefined) continue;
    const hit = entries.find(([key]) => aliases.includes(normalise(key)) || aliases.includes(normalise(key.split("/").pop() ?? key)));
    if (!hit) continue;
    const [key, raw] = hit;
    if (metric === "AP" || metric === "AP50") reportedDetectionAp = true;
    // A trainer printing 81.2 means 81.2 %.
    const percent = raw > 1 && raw <= 100 && (measured === null || measured <= 1);
    const reported = percent ? raw / 100 : raw;
    if (measured === null) {
      lines.push(`${model.role}: the trainer reported ${metric} ${fmt(reported)} (\`${key}\`), but it is undefined on ${setDescription}`);
    } else if (Math.abs(reported - measured) > TOLERANCE) {
      lines.push(
        `${model.role}: the trainer reported ${metric} ${fmt(reported)} (\`${key}\`${percent ? ", read as a percentage" : ""}) on its own split; ` +
          `we measured ${fmt(measured)} on ${setDescription}`,
      );
    }
  }
  if (task === "detection" && reportedDetectionAp) {
    lines.push(
      `${model.role}: detection AP here is COCO's (pycocotools COCOeval: score-ordered matching, 101-point mean, area ranges, maxDets 100); ` +
        "Ultralytics-style trainers match greedily by IoU and integrate a trapezoid, so their mAP differs by design, usually by a few points",
    );
  }
  return lines;
}

function fmt(v: number): string {
  return v.toFixed(3);
}
