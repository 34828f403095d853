import { readFile } from "node:fs/promises";
import { describeError, PermanentError } from "../../errors.ts";
import { cocoEvaluate, formatCocoSummary, formatPerClassTable, readDetectionColumns } from "../../core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../../core/metrics/coco.ts";
import type { MetricsCliIo, MetricsCocoFlags } from "./metrics.ts";

async function readBytes(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new PermanentError("unreadable_file", `cannot read the ${what} file ${path}: ${describeError(err)}`);
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  return parseJson(await readBytes(path, what), path, what);
}

function parseJson(bytes: Buffer, path: string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch (err) {
    throw new PermanentError("invalid_json", `the ${what} file ${path} is not valid JSON: ${describeError(err)}`);
  }
}

/** The work of `mlops metrics coco` (declared in metrics.ts), output passed in; returns the exit code. */
export async function runMetricsCocoCommand(flags: MetricsCocoFlags, io: Pick<MetricsCliIo, "stdout" | "stderr">): Promise<number> {
  try {
    const gt = await readJson(flags.gt, "ground-truth");
    const dtBytes = await readBytes(flags.dt, "detections");
    // The plain results shape is read straight into columns (no object per detection); anything
    // else goes through JSON.parse and the schema. Latin-1 maps bytes 1:1: the reader takes ASCII only.
    const dt = readDetectionColumns(dtBytes.toString("latin1")) ?? (parseJson(dtBytes, flags.dt, "detections") as CocoDetectionResult[]);
    // cocoEvaluate validates both with zod; the casts only satisfy the compiler.
    const result = cocoEvaluate(gt as CocoGroundTruth, dt, { useCats: !flags.classAgnostic });
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
