import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { describeError, PermanentError } from "../../errors.ts";
import { cocoEvaluate, formatCocoSummary, formatPerClassTable } from "../../core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../../core/metrics/coco.ts";

/**
 * `mlops metrics coco --gt <coco.json> --dt <detections.json> [--json]`: pycocotools-exact bbox
 * metrics for a COCO ground-truth file and a results list. Prints COCOeval's twelve summary lines
 * and a per-class table, or with `--json` one object with the twelve stats (full precision) and
 * `perClass`. Exit code 0, or 2 when a file is unreadable or invalid.
 */

/** Where the command writes; tests pass their own, the CLI uses the process's. */
export interface MetricsCliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

export interface MetricsCocoFlags {
  gt: string;
  dt: string;
  json?: boolean;
  classAgnostic?: boolean;
}

const processIo: MetricsCliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

export function registerMetricsCommand(program: Command, io: MetricsCliIo = processIo): void {
  const metrics = program.command("metrics").description("compute evaluation metrics from files");
  metrics
    .command("coco")
    .description("COCO bbox mAP exactly as pycocotools' COCOeval computes it")
    .requiredOption("--gt <coco.json>", "COCO ground-truth file (images, annotations, categories)")
    .requiredOption("--dt <detections.json>", "detection results: [{image_id, category_id, bbox, score}]")
    .option("--json", "print {AP, AP50, …, ARl, perClass} as JSON")
    .option("--class-agnostic", "pool all categories (COCOeval useCats = 0)")
    .action(async (flags: MetricsCocoFlags) => {
      io.setExitCode(await runMetricsCocoCommand(flags, io));
    });
}

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

/** The command's work with its output passed in; returns the exit code. */
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
