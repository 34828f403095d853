import type { Command } from "commander";

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

const processIo = (): MetricsCliIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
});

/**
 * `mlops metrics coco --gt <coco.json> --dt <detections.json> [--json]`: pycocotools-exact bbox
 * metrics for a COCO ground-truth file and a results list. Prints COCOeval's twelve summary lines
 * and a per-class table, or with `--json` one object with the twelve stats (full precision) and
 * `perClass`. Exit code 0, or 2 when a file is unreadable or invalid. The evaluator loads when
 * the command runs (metrics-action.ts).
 */
export function registerMetricsCommand(program: Command, io: MetricsCliIo = processIo()): void {
  const metrics = program.command("metrics").description("compute evaluation metrics from files");
  metrics
    .command("coco")
    .description("COCO bbox mAP exactly as pycocotools' COCOeval computes it")
    .requiredOption("--gt <coco.json>", "COCO ground-truth file (images, annotations, categories)")
    .requiredOption("--dt <detections.json>", "detection results: [{image_id, category_id, bbox, score}]")
    .option("--json", "print {AP, AP50, …, ARl, perClass} as JSON")
    .option("--class-agnostic", "pool all categories (COCOeval useCats = 0)")
    .action(async (flags: MetricsCocoFlags) => {
      const { runMetricsCocoCommand } = await import("./metrics-action.ts");
      io.setExitCode(await runMetricsCocoCommand(flags, io));
    });
}
