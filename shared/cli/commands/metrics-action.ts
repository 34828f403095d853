import { readFile } from "node:fs/promises";
import { describeError, PermanentError } from "../../errors.ts";
import { cocoEvaluate, formatCocoSummary, formatPerClassTable } from "../../core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../../core/metrics/coco.ts";
import type { MetricsCliIo, MetricsCocoFlags } from "./metrics.ts";

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new PermanentError("unreadable_file", `cannot read the ${what} file ${path}: ${describeError(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PermanentError("invalid_json", `the ${what} file ${path} is not valid JSON: ${describeError(err)}`);
  }
}

/** The work of `mlops metrics coco` (declared in metrics.ts), output passed in; returns the exit code. */
export async function runMetricsCocoCommand(flags: MetricsCocoFlags, io: Pick<MetricsCliIo, "stdout" | "stderr">): Promise<number> {
  try {
    const gt = await readJson(flags.gt, "ground-truth");
    const dt = await readJson(flags.dt, "detections");
    // cocoEvaluate validates both with zod; the casts only satisfy the compiler.
    const result = cocoEvaluate(gt as CocoGroundTruth, dt as CocoDetectionResult[], { useCats: !flags.classAgnostic });
    for (const warning of result.warnings) io.stderr(`warning: ${warning}\n`);
    if (flags.json) {
      io.stdout(`${JSON.stringify({ ...result.stats, perClass: result.perClass })}\n`);
    } else {
      const lines = [...formatCocoSummary(result.stats)];
      if (result.perClass.length > 0) lines.push("", "Per-class (IoU=0.50:0.95 | area=all | maxDets=100):", ...formatPerClassTable(result.perClass));
      io.stdout(`${lines.join("\n")}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr(`mlops metrics coco: ${err instanceof PermanentError ? err.message : describeError(err)}\n`);
    return 2;
  }
}
