import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { describeError, PermanentError } from "../../errors.ts";
import { cocoEvaluate, formatCocoSummary, formatPerClassTable, readDetectionColumns } from "../../core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth, DetectionColumns } from "../../core/metrics/coco.ts";
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

/** The detections file read through a small buffer, or null when it needs the full parser. */
function readColumns(path: string): DetectionColumns | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new PermanentError("unreadable_file", `cannot read the detections file ${path}: ${describeError(err)}`);
  }
  try {
    return readDetectionColumns((into, offset, length) => readSync(fd, into, offset, length, null), fstatSync(fd).size);
  } catch {
    return null; // a read error mid-way: the full read reports it
  } finally {
    closeSync(fd);
  }
}

/** The work of `mlops metrics coco` (declared in metrics.ts), output passed in; returns the exit code. */
export async function runMetricsCocoCommand(flags: MetricsCocoFlags, io: Pick<MetricsCliIo, "stdout" | "stderr">): Promise<number> {
  try {
    const gt = await readJson(flags.gt, "ground-truth");
    // The plain results shape is streamed straight into columns (no object per detection, no copy
    // of the file in memory); anything else goes through JSON.parse and the schema.
    const dt = readColumns(flags.dt) ?? (parseJson(await readBytes(flags.dt, "detections"), flags.dt, "detections") as CocoDetectionResult[]);
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
