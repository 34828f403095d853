import type { CocoPerClass, CocoStats } from "./coco-types.ts";
import { COCO_STAT_KEYS, DEFAULT_MAX_DETS, IOU_THRESHOLDS } from "./coco-types.ts";

/**
 * Python's `'{:.Nf}'.format(x)`. JavaScript's `toFixed` rounds exact halves away from zero,
 * Python to even; both work on the exact binary value, so they differ only when x·10^N is exactly
 * k + ½. Such an x is a dyadic rational with denominator 2^(N+1) (e.g. 0.0625 for N = 3).
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "inf" : x < 0 ? "-inf" : "nan";
  const magnitude = Math.abs(x);
  const exactHalf = Number.isInteger(magnitude * 2 ** (digits + 1)) && !Number.isInteger(magnitude * 2 ** digits);
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (!exactHalf) return sign + magnitude.toFixed(digits);
  let units = Math.floor(magnitude * 10 ** digits);
  if (units % 2 === 1) units += 1;
  const text = String(units).padStart(digits + 1, "0");
  return digits === 0 ? sign + text : `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

const LINES: readonly { ap: boolean; iou: "all" | 0.5 | 0.75; area: string; maxDetsIndex: number | "100" }[] = [
  { ap: true, iou: "all", area: "all", maxDetsIndex: "100" },
  { ap: true, iou: 0.5, area: "all", maxDetsIndex: 2 },
  { ap: true, iou: 0.75, area: "all", maxDetsIndex: 2 },
  { ap: true, iou: "all", area: "small", maxDetsIndex: 2 },
  { ap: true, iou: "all", area: "medium", maxDetsIndex: 2 },
  { ap: true, iou: "all", area: "large", maxDetsIndex: 2 },
  { ap: false, iou: "all", area: "all", maxDetsIndex: 0 },
  { ap: false, iou: "all", area: "all", maxDetsIndex: 1 },
  { ap: false, iou: "all", area: "all", maxDetsIndex: 2 },
  { ap: false, iou: "all", area: "small", maxDetsIndex: 2 },
  { ap: false, iou: "all", area: "medium", maxDetsIndex: 2 },
  { ap: false, iou: "all", area: "large", maxDetsIndex: 2 },
];

/**
 * The twelve lines `COCOeval.summarize()` prints, e.g.
 * ` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.501`
 * (format `' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'`).
 */
export function formatCocoSummary(stats: CocoStats, maxDets: readonly number[] = DEFAULT_MAX_DETS): string[] {
  const first = IOU_THRESHOLDS[0]!;
  const last = IOU_THRESHOLDS[IOU_THRESHOLDS.length - 1]!;
  return LINES.map((line, i) => {
    const title = (line.ap ? "Average Precision" : "Average Recall").padEnd(18);
    const kind = line.ap ? "(AP)" : "(AR)";
    const iou = (line.iou === "all" ? `${formatFixed(first, 2)}:${formatFixed(last, 2)}` : formatFixed(line.iou, 2)).padEnd(9);
    const dets = line.maxDetsIndex === "100" ? 100 : maxDets[line.maxDetsIndex]!;
    const value = stats[COCO_STAT_KEYS[i]!];
    return ` ${title} ${kind} @[ IoU=${iou} | area=${line.area.padStart(6)} | maxDets=${String(dets).padStart(3)} ] = ${formatFixed(value, 3)}`;
  });
}

/** A small per-class table: name, AP, AP50, AP75, AR100 (three decimals, −1.000 when undefined). */
export function formatPerClassTable(perClass: readonly CocoPerClass[]): string[] {
  if (perClass.length === 0) return [];
  const nameWidth = Math.max(8, ...perClass.map((c) => c.name.length));
  const header = `${"category".padEnd(nameWidth)}  ${["AP", "AP50", "AP75", "AR100"].map((h) => h.padStart(6)).join(" ")}`;
  const rows = perClass.map(
    (c) => `${c.name.padEnd(nameWidth)}  ${[c.AP, c.AP50, c.AP75, c.AR100].map((v) => formatFixed(v, 3).padStart(6)).join(" ")}`,
  );
  return [header, ...rows];
}
